"""The words a spec may write, gathered from where the compiler defines them: the op registry, the
train section's settings (train_config), its objectives, optimisers, schedules and data sources,
and the settings of the statements that create ops (wormhole, segments). Completion and hover
read them here, so they never list a word the compiler would refuse."""

from __future__ import annotations

from dataclasses import dataclass

from seqnet.compiler.modes.catalog import load_modes
from seqnet.compiler.objectives import LOSSES, METRICS
from seqnet.compiler.ops.catalog import OPS, load_ops
from seqnet.compiler.ops.registry import OpDef
from seqnet.compiler.train_config import OPTIMIZERS, SCHEDULES, TRAIN_KEYS, TrainConfig
from seqnet.compiler.train_mode import all_dtypes
from seqnet.data import SOURCES

load_ops()  # the whole catalogue, before any word is looked up (elaboration loads it too)

KEYWORDS = ("import", "dim", "const", "input", "output", "block", "return", "repeat", "shared",
            "wormhole", "segments", "train")  # fmt: skip


@dataclass(frozen=True)
class Word:
    label: str
    detail: str = ""
    doc: str = ""
    kind: str = "value"  # "op", "keyword", "setting", "value", "argument", "name"
    insert: str | None = None


def statement_op(word: str) -> OpDef | None:
    """The op a statement creates (`wormhole`, `segments`), found by its statement word."""
    return next((o for o in OPS.values() if o.statement == word), None)


# Called like ops, but evaluated by the compiler itself (compiler/expressions.py, choices.py).
BUILTINS = {
    "size": Word("size", "size(x, axis=-1)", "A tensor's size along an axis, known at compile time.", "op"),
    "choose": Word("choose", "choose(KEY, name=value, ...)",
                   "The value of the choice KEY names: a string const (`--set KEY=name`), or a "
                   "boolean choosing `true=` or `false=`. Only the chosen choice is built and has "
                   "parameters; every choice is checked, and all must give the same kind of value "
                   "(tensors: the same dtype, shape and vocab).", "op"),
}  # fmt: skip
WORMHOLE_ENABLED = Word("enabled", "bool = true", "false: the wormhole is checked but not built, as if "
                        "its line were deleted (a const switches it: `enabled=WORMHOLE`)",
                        "argument", insert="enabled=")  # fmt: skip


def ops() -> list[Word]:
    return [Word(name, op.signature(), op.doc, "op") for name, op in sorted(OPS.items())
            if op.statement is None] + list(BUILTINS.values())  # fmt: skip


def op_arguments(op: OpDef) -> list[Word]:
    return [Word(a.name, a.kind + ("" if a.required else f" = {a.default!r}"), a.doc, "argument",
                 insert=f"{a.name}=") for a in op.attr_args]  # fmt: skip


def _train_default(key: str) -> str:
    f = TrainConfig.model_fields.get(key)
    if f is None or f.is_required():
        return "required"
    default = f.get_default(call_default_factory=True)
    if hasattr(default, "name"):  # a CallSpec
        args = ", ".join(f"{k}={v}" for k, v in getattr(default, "args", {}).items())
        return f"default {default.name}({args})"
    return f"default {default!r}"


def train_settings() -> list[Word]:
    return [Word(k, _train_default(k), kind="setting", insert=f"{k} = ") for k in TRAIN_KEYS]


def statement_settings(word: str) -> list[Word]:
    """The settings a `wormhole` statement writes (its op's other arguments are the compiler's)."""
    from seqnet.compiler.mechanisms import WORMHOLE_SETTINGS

    op = statement_op(word)
    if op is None:
        return []
    if word != "wormhole":
        return op_arguments(op)
    return [w for w in op_arguments(op) if w.label in WORMHOLE_SETTINGS] + [WORMHOLE_ENABLED]


def setting_doc(owner: str, name: str) -> str | None:
    if owner == "train":
        if name not in TRAIN_KEYS:
            return None
        return f"train setting `{name}` ({_train_default(name)})" + _values_line(name)
    if owner == "wormhole" and name == WORMHOLE_ENABLED.label:
        return f"wormhole setting `enabled`: {WORMHOLE_ENABLED.detail}\n\n{WORMHOLE_ENABLED.doc}"
    op = statement_op(owner)
    arg = op.arg(name) if op is not None else None
    if arg is None:
        return None
    choices = "\n\none of: " + ", ".join(f"`{c}`" for c in arg.choices) if arg.choices else ""
    return f"{owner} setting `{name}`: {arg.kind}{choices}" + (f"\n\n{arg.doc}" if arg.doc else "")


def _values_line(key: str) -> str:
    values = train_values(key)
    return "\n\none of: " + ", ".join(f"`{w.label}`" for w in values) if values else ""


def train_values(key: str) -> list[Word]:
    """What a train setting's value may be: the data sources for `data`, the optimisers for
    `optimizer`, and so on; [] for a number or a name."""
    if key == "data":
        return [Word(n, s.signature(), getattr(s, "doc", "") or "", "value") for n, s in SOURCES.items()]
    if key == "optimizer":
        return [Word(n, _call_signature(n, t)) for n, t in OPTIMIZERS.items()]
    if key == "schedule":
        return [Word(n, _call_signature(n, t)) for n, t in SCHEDULES.items()]
    if key == "loss":
        return [Word(n, f"{n}(output, target)") for n in LOSSES]
    if key == "metrics":
        return [Word(n, f"{n}(output, target)") for n in METRICS]
    if key == "mode":
        return [Word(n, m.signature(), m.doc) for n, m in load_modes().items()]
    if key == "dtype":
        return [Word(d) for d in all_dtypes()]
    return []


def _call_signature(name: str, table_entry) -> str:
    args = ", ".join(f"{k}={f.default!r}" for k, f in table_entry.model_fields.items())
    return f"{name}({args})"


def call_arguments(key: str, name: str) -> list[Word]:
    """The keyword arguments of a call inside a train setting: `adam(` -> lr, b1, ..."""
    if key == "optimizer" and name in OPTIMIZERS:
        fields = OPTIMIZERS[name].model_fields
    elif key == "schedule" and name in SCHEDULES:
        fields = SCHEDULES[name].model_fields
    elif key == "mode" and name in load_modes():
        return [Word(s.name, f"{s.kind} = {s.default!r}", s.doc + _choices(s.choices), "argument",
                     insert=f"{s.name}=") for s in load_modes()[name].settings]  # fmt: skip
    elif key == "data" and name.rpartition(".")[2] in SOURCES:
        return [Word(a.name, str(a), a.doc, "argument", insert=f"{a.name}=")
                for a in SOURCES[name.rpartition(".")[2]].args]  # fmt: skip
    else:
        return []
    return [Word(k, f"default {f.default!r}", f.description or "", "argument", insert=f"{k}=")
            for k, f in fields.items()]  # fmt: skip


def _choices(choices) -> str:
    return " (one of: " + ", ".join(choices) + ")" if choices else ""
