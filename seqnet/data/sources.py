"""Declarations of the built-in data sources: names, arguments, docs and per-example field types.

This module is what the compiler reads, so it imports neither numpy nor scikit-learn: a source's
`fields(**args)` is plain Python (only `npz` opens its file's headers, lazily importing numpy), and
its loader (`"module:function"`) is imported only when `load` is called.

A source call in a spec, `data = task.parity(16)`, binds like a Python call: positional arguments
in declaration order, then keywords. `bind` checks kinds and values and fills defaults; a bad
value raises `DataArgError(message, arg=name)` so the compiler can point at that argument.

Every source accepts (and all but `npz` ignore) a `base_dir` keyword: the folder of the spec,
against which `npz(path)` is resolved. The runtime may pass it to every source.
"""

from __future__ import annotations

import difflib
import importlib
import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from seqnet.compiler.types import TensorType
from seqnet.data.errors import DataArgError, UnknownSourceError
from seqnet.data.text_vocab import (  # noqa: F401 - re-exported: seqnet.data's names
    TEXT_CHARS,
    TEXT_MODULES,
    TEXT_UNKNOWN,
    TEXT_VOCAB,
    UNKNOWN_CHAR,
    decode,
    encode,
    text_ids,
)

SPLITS = ("train", "eval")
ARG_KINDS = ("int", "float", "str", "bool")
PREFIXES = ("task.", "data.")


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()


@dataclass(frozen=True)
class DataArg:
    """One argument of a source: its kind, default, and (for numbers) inclusive bounds."""

    name: str
    kind: str  # int | float | str | bool
    default: Any = REQUIRED
    doc: str = ""
    low: float | None = None
    high: float | None = None

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def __str__(self) -> str:
        text = f"{self.name}: {self.kind}"
        if not self.required:
            text += f" = {_show(self.default)}"
        return text

    def check(self, value: Any) -> Any:
        """The value converted to this argument's kind; DataArgError when it does not fit."""
        kind_error = DataArgError(
            f"argument '{self.name}' must be {_A[self.kind]}, got {_show(value)}", arg=self.name
        )
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise kind_error
            return value
        if self.kind == "str":
            if not isinstance(value, str):
                raise kind_error
            return value
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise kind_error
        if self.kind == "int":
            if not isinstance(value, numbers.Integral):
                if not float(value).is_integer():
                    raise kind_error
            value = int(value)
        else:
            value = float(value)
            if not math.isfinite(value):
                raise DataArgError(f"argument '{self.name}' must be finite", arg=self.name)
        if self.low is not None and value < self.low:
            raise DataArgError(
                f"argument '{self.name}' must be >= {_show(self.low)}, got {_show(value)}",
                arg=self.name,
            )
        if self.high is not None and value > self.high:
            raise DataArgError(
                f"argument '{self.name}' must be <= {_show(self.high)}, got {_show(value)}",
                arg=self.name,
            )
        return value


_A = {"int": "an integer", "float": "a number", "str": "a string", "bool": "true or false"}


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, float)):
        return repr(value)
    return str(value)


@dataclass(frozen=True)
class DataSource:
    """A built-in data source.

    name: the bare name used in specs (`parity`; specs may write `task.parity` / `data.parity`).
    args: the arguments, in positional order.
    doc: one line for listings; `details` says more (the task's exact definition).
    field_types: bound args -> {field name: TensorType of ONE example (no batch axis)}.
    loader: "module:function" called as fn(split=, n_examples=, seed=, **bound_args)
        (plus base_dir= when `uses_base_dir`); returns {field: array}, leading axis = examples.
    check: optional cross-argument validation of the bound args (raises DataArgError).
    finite: True for fixed data sets (n_examples=None means the whole split), False for
        generated tasks (n_examples=None means a default size).
    """

    name: str
    args: tuple[DataArg, ...]
    doc: str
    field_types: Callable[..., dict[str, TensorType]]
    loader: str
    finite: bool = False
    check: Callable[[dict[str, Any]], None] | None = None
    details: str = ""
    uses_base_dir: bool = False

    def arg(self, name: str) -> DataArg | None:
        for a in self.args:
            if a.name == name:
                return a
        return None

    def signature(self) -> str:
        return f"{self.name}({', '.join(str(a) for a in self.args)})"

    def bind(self, *positional: Any, **keywords: Any) -> dict[str, Any]:
        """Map a call's arguments onto the declaration: checked values, defaults filled in.

        A `base_dir` keyword is dropped here (see `fields` / `load`).
        """
        keywords.pop("base_dir", None)
        if len(positional) > len(self.args):
            raise DataArgError(
                f"{self.name}() takes at most {len(self.args)} positional argument"
                f"{'s' if len(self.args) != 1 else ''}, got {len(positional)}"
            )
        given: dict[str, Any] = {}
        for a, value in zip(self.args, positional, strict=False):
            given[a.name] = value
        for name, value in keywords.items():
            if self.arg(name) is None:
                close = difflib.get_close_matches(name, [a.name for a in self.args], n=1)
                hint = f"did you mean '{close[0]}'?" if close else f"signature: {self.signature()}"
                raise DataArgError(f"{self.name}() has no argument '{name}'", arg=name, hint=hint)
            if name in given:
                raise DataArgError(f"argument '{name}' given twice", arg=name)
            given[name] = value
        bound: dict[str, Any] = {}
        for a in self.args:
            if a.name in given:
                bound[a.name] = a.check(given[a.name])
            elif a.required:
                raise DataArgError(f"{self.name}() needs argument '{a.name}'", arg=a.name,
                                   hint=f"signature: {self.signature()}")  # fmt: skip
            else:
                bound[a.name] = a.default
        if self.check is not None:
            self.check(bound)
        return bound

    def fields(self, base_dir: str | None = None, **args: Any) -> dict[str, TensorType]:
        """The type of each field of one example, for these arguments (validated first)."""
        bound = self.bind(**args)
        if self.uses_base_dir:
            return self.field_types(base_dir=base_dir, **bound)
        return self.field_types(**bound)

    def load(
        self,
        split: str,
        n_examples: int | None = None,
        seed: int = 0,
        base_dir: str | None = None,
        **args: Any,
    ) -> dict[str, Any]:
        """Arrays {field: np.ndarray} of one split; the leading axis is the example axis.

        Generated tasks: `seed` decides the data (train and eval use different sub-seeds);
        `n_examples` the count (a default when None). Fixed data sets: the split is fixed,
        `n_examples` takes its first examples (all when None).
        """
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        if n_examples is not None:
            if not _is_int(n_examples) or n_examples < 1:
                raise DataArgError(f"n_examples must be a positive integer, got {n_examples!r}",
                                   arg="n_examples")  # fmt: skip
            n_examples = int(n_examples)
        if not _is_int(seed):
            raise DataArgError(f"seed must be an integer, got {seed!r}", arg="seed")
        seed = int(seed)
        bound = self.bind(**args)
        module_name, fn_name = self.loader.split(":")
        fn = getattr(importlib.import_module(module_name), fn_name)
        extra = {"base_dir": base_dir} if self.uses_base_dir else {}
        arrays = fn(split=split, n_examples=n_examples, seed=seed, **extra, **bound)
        _verify(self.name, arrays, self.field_types(**extra, **bound))
        return arrays

    def describe(self) -> str:
        lines = [f"{self.signature()}", f"    {self.doc}"]
        if self.details:
            lines += [f"    {line}" if line else "" for line in self.details.strip().splitlines()]
        for a in self.args:
            if a.doc:
                lines.append(f"    {a.name}: {a.doc}")
        if not any(a.required for a in self.args):
            for name, t in self.fields().items():
                lines.append(f"    field {name}: {t}")
        return "\n".join(lines)


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _verify(name: str, arrays: dict[str, Any], fields: dict[str, TensorType]) -> None:
    """A loader's arrays must match the declared fields exactly (a seqnet bug otherwise)."""
    if set(arrays) != set(fields):
        raise RuntimeError(f"data source {name}: loader gave fields {sorted(arrays)}, "
                           f"declared {sorted(fields)}")  # fmt: skip
    lengths = {len(a) for a in arrays.values()}
    if len(lengths) > 1:
        raise RuntimeError(f"data source {name}: fields differ in example count {sorted(lengths)}")
    for key, t in fields.items():
        a = arrays[key]
        if str(a.dtype) != t.dtype or tuple(a.shape[1:]) != t.dims:
            raise RuntimeError(f"data source {name}: field {key} is {a.dtype}{list(a.shape[1:])}, "
                               f"declared {t.resolved()}")  # fmt: skip


# ------------------------------------------------------------------------------------------------
# Field types of each source. Pure Python.

_I32, _F32 = "int32", "float32"


def _parity_fields(n: int, length: int = 0) -> dict[str, TensorType]:
    return {"x": TensorType.of(_I32, (n,), 2), "label": TensorType.of(_I32, (), 2)}


def _sum_mod_fields(n: int, k: int, length: int = 0) -> dict[str, TensorType]:
    return {"x": TensorType.of(_I32, (n,), k), "label": TensorType.of(_I32, (), k)}


def _count_mod_fields(n: int, k: int, length: int = 0) -> dict[str, TensorType]:
    return {"x": TensorType.of(_I32, (n,), 2), "label": TensorType.of(_I32, (), k)}


def _length_check(args: dict[str, Any]) -> None:
    if args["length"] > args["n"]:
        raise DataArgError(f"length={args['length']} is longer than the sequence (n={args['n']})",
                           arg="length", hint=f"length = 0 (all {args['n']} tokens) or at most {args['n']}")  # fmt: skip


def _s5_fields(n: int, length: int = 0) -> dict[str, TensorType]:
    return {"x": TensorType.of(_I32, (n,), 120), "label": TensorType.of(_I32, (), 120)}


def _brackets_fields(n: int) -> dict[str, TensorType]:
    return {"x": TensorType.of(_I32, (n,), 2), "label": TensorType.of(_I32, (), 2)}


def _seq2seq_fields(n: int, vocab: int) -> dict[str, TensorType]:
    return {"x": TensorType.of(_I32, (n,), vocab), "target": TensorType.of(_I32, (n,), vocab)}


def _reverse_fields(n: int, vocab: int, min_len: int) -> dict[str, TensorType]:
    seq = TensorType.of(_I32, (n,), vocab)
    return {"x": seq, "length": TensorType.of(_I32, (), bounds=(min_len, n)), "target": seq}


def _reverse_check(args: dict[str, Any]) -> None:
    if args["vocab"] < 3:
        raise DataArgError("reverse needs vocab >= 3 (0 is padding, 1 starts the target)", arg="vocab")
    if args["min_len"] > args["n"]:
        raise DataArgError(f"min_len={args['min_len']} is longer than the sequence (n={args['n']})",
                           arg="min_len")  # fmt: skip


def _sine_fields(n: int, horizon: int) -> dict[str, TensorType]:
    amp = (-1.5, 1.5)  # amplitudes are drawn from [0.5, 1.5]
    return {"x": TensorType.of(_F32, (n, 1), bounds=amp), "target": TensorType.of(_F32, (n, 1), bounds=amp)}


def _matvec_fields(n: int, sparsity: float, binary: bool, symmetric: bool, low: float = -1.0) -> dict:
    return {
        "adj": TensorType.of(_F32, (n, n), bounds=(0.0, 1.0)),
        "x": TensorType.of(_F32, (n,), bounds=(low, 1.0)),
        "target": TensorType.of(_F32, (n,), bounds=(min(0.0, low) * n, float(n))),
    }


def relational_modulus(n: int, m: int) -> int:
    """The modulus of relational(n, m): m itself, or (m = 0) ceil(C(n,3) / 2), at least 3.

    With uniform random types a set holds about C(n,3)/m triples summing to 0 mod m, so the
    automatic choice (about 2 expected triples) leaves a good share of naturally negative sets.
    """
    return m if m > 0 else max(3, math.ceil(math.comb(n, 3) / 2))


def _relational_fields(n: int, m: int, d: int) -> dict[str, TensorType]:
    mod = relational_modulus(n, m)
    return {
        "x": TensorType.of(_F32, (n, d), bounds=(-1.0, 1.0)),
        "types": TensorType.of(_I32, (n,), mod),
        "label": TensorType.of(_I32, (), 2),
    }


def _relational_check(args: dict[str, Any]) -> None:
    n, m = args["n"], args["m"]
    if m != 0 and m < 2:
        raise DataArgError("argument 'm' must be 0 (automatic) or >= 2", arg="m")
    expected = math.comb(n, 3) / relational_modulus(n, m)
    if expected > 5.0:
        raise DataArgError(
            f"m={m} is too small for n={n}: a random set holds about {expected:.0f} triples, "
            "so label-0 sets are too rare to sample",
            arg="m",
            hint=f"use m >= {math.ceil(math.comb(n, 3) / 5)} or m = 0 (automatic)",
        )


def _brackets_check(args: dict[str, Any]) -> None:
    if args["n"] % 2:
        raise DataArgError(
            f"brackets needs an even length (no string of odd length {args['n']} is balanced)",
            arg="n",
        )


def _digits_fields(flat: bool) -> dict[str, TensorType]:
    x = TensorType.of(_F32, (64,) if flat else (8, 8, 1), bounds=(0.0, 1.0))
    return {"x": x, "label": TensorType.of(_I32, (), 10)}


def _text_fields(seq_len: int, path: str = "", base_dir: str | None = None) -> dict[str, TensorType]:
    if path:  # the user's corpus decides its vocabulary (seqnet/data/corpus.py)
        from seqnet.data import corpus

        vocab = corpus.vocab(path, base_dir)
    else:
        vocab = TEXT_VOCAB
    return {"x": TensorType.of(_I32, (seq_len,), vocab), "target": TensorType.of(_I32, (seq_len,), vocab)}


def _npz_fields(path: str, eval: str = "", base_dir: str | None = None) -> dict[str, TensorType]:
    from seqnet.data import npz

    return npz.fields(path, eval, base_dir)


# ------------------------------------------------------------------------------------------------
# The registry.

_N = "sequence length"
_SYN = "seqnet.data.synthetic"
# the monoid tasks' shortened sequences (a curriculum's stages)
_LENGTH = DataArg("length", "int", 0, doc="tokens drawn (0: all n); the rest are 0", low=0)
_LENGTH_DETAILS = """
length = L (0 < L < n): only the first L tokens are drawn and the rest are 0, the task's identity
element, so the label is that of the first L tokens; each L draws its own examples."""


def _monoid(name: str, args: tuple, doc: str, fields, details: str = "") -> DataSource:
    """A task whose label is a monoid product of the tokens, with token 0 its identity."""
    return DataSource(name, (DataArg("n", "int", doc=_N, low=1), *args, _LENGTH), doc, fields,
                      f"{_SYN}:{name}", check=_length_check, details=_LENGTH_DETAILS + details)  # fmt: skip


SOURCES: dict[str, DataSource] = {
    s.name: s
    for s in (
        _monoid("parity", (), "random bits x; label = their xor (sum mod 2)", _parity_fields),
        _monoid("sum_mod", (DataArg("k", "int", 5, doc="modulus and token vocabulary", low=2),),
                "random tokens x in [0, k); label = sum(x) mod k", _sum_mod_fields),
        _monoid("count_mod", (DataArg("k", "int", 5, doc="modulus (classes)", low=2),),
                "random bits x; label = the number of ones mod k", _count_mod_fields),
        _monoid(
            "s5", (), "random permutations of 5 elements; label = their composition (word problem of S5)",
            _s5_fields, details="""
Token p (0..119) is the p-th tuple of itertools.permutations(range(5)) (lexicographic; 0 is the
identity), read as the map i -> perm[i]. The label is the index of x_1 o x_2 o ... o x_n, the map
i -> x_1(x_2(...x_n(i)...)): x_n is applied first.""",
        ),
        DataSource(
            "brackets", (DataArg("n", "int", doc=_N + " (even)", low=2),),
            "strings of '(' (0) and ')' (1); label = 1 if balanced (Dyck), about half the time",
            _brackets_fields, f"{_SYN}:brackets", check=_brackets_check,
            details="""
Label 1: a uniformly random balanced string. Label 0: a random arrangement of n/2 '(' and n/2 ')'
that is not balanced (3 in 4) or a uniformly random unbalanced string (1 in 4), so counting the
brackets is not enough.""",
        ),
        DataSource(
            "copy",
            (DataArg("n", "int", doc=_N, low=1),
             DataArg("vocab", "int", 10, doc="token vocabulary", low=2)),
            "random tokens x; target = x",
            _seq2seq_fields, f"{_SYN}:copy",
        ),
        DataSource(
            "sort",
            (DataArg("n", "int", doc=_N, low=1),
             DataArg("vocab", "int", 10, doc="token vocabulary", low=2)),
            "random tokens x; target = x sorted ascending",
            _seq2seq_fields, f"{_SYN}:sort",
        ),
        DataSource(
            "reverse",
            (DataArg("n", "int", doc="padded length", low=1),
             DataArg("vocab", "int", 10, doc="token vocabulary (0: padding, 1: start)", low=3),
             DataArg("min_len", "int", 1, doc="shortest sequence", low=1)),
            "variable-length token sequences padded with 0; target = each one reversed",
            _reverse_fields, f"{_SYN}:reverse", check=_reverse_check,
            details="""
length is uniform in [min_len, n]; x holds that many tokens uniform in 2..vocab-1, then 0s;
target[t] = x[length-1-t] for t < length, 0 after. Id 1 never occurs: it is there for a decoder's
start token, shift(target, 1, fill=1). Losses and metrics take lengths=length.""",
        ),
        DataSource(
            "sine",
            (DataArg("n", "int", doc="window length", low=2),
             DataArg("horizon", "int", 1, doc="how many samples ahead the target is", low=1)),
            "windows of random sine waves; target = the same wave `horizon` samples later",
            _sine_fields, f"{_SYN}:sine",
            details="""
x[t] = a sin(2 pi f t / n + phi), t = 0..n-1: frequency f uniform in [0.5, 2] cycles per window,
phase phi uniform in [0, 2 pi), amplitude a uniform in [0.5, 1.5]; target[t] = x[t + horizon].""",
        ),
        DataSource(
            "matvec",
            (DataArg("n", "int", doc="matrix size", low=1),
             DataArg("sparsity", "float", 0.5, doc="probability that an entry is zero",
                     low=0.0, high=1.0),
             DataArg("binary", "bool", False, doc="entries 0/1 instead of uniform in [0, 1]"),
             DataArg("symmetric", "bool", False, doc="adj = adj^T"),
             DataArg("low", "float", -1.0, doc="x is uniform in [low, 1]", low=-1.0, high=1.0)),
            "random sparse matrices adj and vectors x; target = adj @ x",
            _matvec_fields, f"{_SYN}:matvec",
            details="""
adj[i, j] is uniform in [0, 1] (binary: 1), zeroed with probability `sparsity` (symmetric: the
upper triangle is drawn and mirrored); x is uniform in [low, 1] (default [-1, 1]); target = adj @ x (computed in
float64, stored as float32).""",
        ),
        DataSource(
            "relational",
            (DataArg("n", "int", 8, doc="number of entities", low=3),
             DataArg("m", "int", 0, doc="number of types (modulus); 0: ceil(C(n,3)/2)", low=0),
             DataArg("d", "int", 8, doc="feature size (2 type features + d-2 distractors)",
                     low=2)),
            "entities with types t in Z_m; label = 1 if some three sum to 0 mod m (about half)",
            _relational_fields, f"{_SYN}:relational", check=_relational_check,
            details="""
Match3 (Sanford, Hsu & Telgarsky 2023): label = 1 iff there are distinct entities i < j < k with
t_i + t_j + t_k = 0 (mod m). Entity features: x[i] = (cos(2 pi t_i / m), sin(2 pi t_i / m),
d-2 distractors uniform in [-1, 1]); `types` holds t as token ids. No pair decides the label (a
pair's sum is matched by whichever third type completes it), but cos(theta_i+theta_j+theta_k)
is a trilinear form of the three entities' type features, which 2-simplicial attention computes
in one step. Labels are drawn fair (label 0 by rejection from uniform types, label 1 from
uniform sets holding a triple, planting one where needed).""",
        ),
        DataSource(
            "digits",
            (DataArg("flat", "bool", False, doc="x as float32[64] instead of [8, 8, 1]"),),
            "scikit-learn's 8x8 handwritten digits (1797), pixels scaled to [0, 1]; label 0..9",
            _digits_fields, "seqnet.data.fixed:digits", finite=True,
            details="""
A fixed split (a permutation with a fixed seed, independent of the run's seed): the first 80%
(1438 images) train, the other 359 eval.""",
        ),
        DataSource(
            "text", (DataArg("seq_len", "int", 64, doc="characters per example", low=1),
                     DataArg("path", "str", "", doc="your own UTF-8 text file (default: the built-in corpus)")),
            f"characters of Python standard-library source; target = x shifted by one "
            f"(vocab {TEXT_VOCAB})",
            _text_fields, "seqnet.data.fixed:text", finite=True, uses_base_dir=True,
            details=f"""
Corpus: the source files of {len(TEXT_MODULES)} standard-library modules as found by this Python
(sorted, concatenated; seqnet.data.TEXT_MODULES), ~700 kB. Vocabulary: newline = 0,
' '..'~' = 1..95, anything else = {TEXT_UNKNOWN}. The first 90% of the corpus is train, the rest
eval. n_examples=None: consecutive windows; a number: windows at random offsets drawn from the
seed. seqnet.data.encode/decode convert. text(path="corpus.txt"): your own UTF-8 file (in the
spec's folder tree) instead; its distinct characters, sorted, are ids 0..n-1 and n is any other
character (vocab n + 1); the same 90/10 split.""",
        ),
        DataSource(
            "npz", (DataArg("path", "str", doc="an .npz file, relative to the spec's folder"),
                    DataArg("eval", "str", "", doc="the eval split's .npz (default: see below)")),
            "your arrays from an .npz file: one field per array (leading axis = examples)",
            _npz_fields, "seqnet.data.npz:load", finite=True, uses_base_dir=True,
            details="""
Each array is a field of type dtype[shape[1:]]; an integer array `name` gets vocab V when the
file also holds a scalar `name__vocab` = V. Eval: the file `eval=` names (the same arrays; both
files are checked by `seqnet check`), else `<stem>_eval.npz` beside the file when it exists,
else the last 10% of the examples (train is then the first 90%).""",
        ),
    )
}


def strip_prefix(name: str) -> str:
    for p in PREFIXES:
        if name.startswith(p):
            return name[len(p):]
    return name


def get_source(name: str) -> DataSource:
    """The source called `name` (a `task.` or `data.` prefix is accepted); UnknownSourceError."""
    bare = strip_prefix(name)
    try:
        return SOURCES[bare]
    except KeyError:
        close = tuple(difflib.get_close_matches(bare, SOURCES, n=2))
        raise UnknownSourceError(name, close) from None


def describe(name: str | None = None) -> str:
    """Documentation of every source (or of one), for `seqnet` help and the docs."""
    if name is not None:
        return get_source(name).describe()
    return "\n\n".join(s.describe() for s in SOURCES.values())
