"""The `npz(path)` source: a person's own arrays.

`fields` reads only the headers of the arrays in the archive (plus any scalar `<name>__vocab`
arrays), so the compiler can check a spec against a large file without loading it.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from seqnet.compiler.types import DTYPES, TensorType
from seqnet.data.errors import DataArgError

VOCAB_SUFFIX = "__vocab"
EVAL_FRACTION = 0.1


def resolve(path: str, base_dir: str | None, arg: str = "path") -> Path:
    """`path` against `base_dir` (the spec's folder; the working directory when None).

    Paths that lead outside base_dir (`../x.npz`, an absolute path elsewhere, a symlink out)
    are refused, as are missing files.
    """
    if not path:
        raise DataArgError("npz needs a file path", arg=arg)
    base = _base(base_dir)
    full = (base / path).resolve()
    if not _inside(full, base):
        raise DataArgError(
            f"npz path '{path}' leads outside the spec's folder ({base})",
            arg=arg,
            hint="put the data beside the spec, or below it",
        )
    if not full.is_file():
        raise DataArgError(f"npz file '{path}' not found (looked for {full})", arg=arg)
    if full.suffix != ".npz":
        raise DataArgError(f"npz path '{path}' is not an .npz file", arg=arg)
    return full


def _base(base_dir: str | None) -> Path:
    return Path(base_dir if base_dir is not None else os.getcwd()).resolve()


def _inside(full: Path, base: Path) -> bool:
    return full == base or base in full.parents


def eval_path(full: Path) -> Path:
    return full.with_name(f"{full.stem}_eval.npz")


def _headers(full: Path, shown: str) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """{array name: (shape, dtype)} of each .npy member, read from the headers alone."""
    out = {}
    try:
        with zipfile.ZipFile(full) as zf:
            for info in zf.infolist():
                if not info.filename.endswith(".npy"):
                    continue
                with zf.open(info) as f:
                    version = np.lib.format.read_magic(f)
                    if version == (1, 0):
                        shape, _, dtype = np.lib.format.read_array_header_1_0(f)
                    else:
                        shape, _, dtype = np.lib.format.read_array_header_2_0(f)
                out[info.filename[: -len(".npy")]] = (tuple(shape), np.dtype(dtype))
    except (zipfile.BadZipFile, ValueError, OSError) as e:
        raise DataArgError(f"cannot read '{shown}' as an .npz file: {e}", arg="path") from None
    return out


def _vocab(full: Path, name: str, header) -> int:
    shape, dtype = header
    if shape != () or dtype.kind not in "iu":
        raise DataArgError(f"'{name}{VOCAB_SUFFIX}' must be an integer scalar", arg="path")
    with np.load(full, allow_pickle=False) as z:
        value = z[name + VOCAB_SUFFIX]
    if value.shape != () or value.dtype.kind not in "iu" or int(value) < 1:
        raise DataArgError(f"'{name}{VOCAB_SUFFIX}' must be a positive integer scalar",
                           arg="path")  # fmt: skip
    return int(value)


def _fields_of(full: Path, shown: str) -> dict[str, TensorType]:
    headers = _headers(full, shown)
    names = [k for k in headers if not k.endswith(VOCAB_SUFFIX)]
    if not names:
        raise DataArgError(f"'{shown}' holds no arrays", arg="path")
    fields, lengths = {}, {}
    for name in sorted(names):
        shape, dtype = headers[name]
        if dtype.name not in DTYPES:
            raise DataArgError(f"array '{name}' in '{shown}' has dtype {dtype.name}; seqnet "
                               f"reads {', '.join(DTYPES)}", arg="path")  # fmt: skip
        if len(shape) == 0:
            raise DataArgError(f"array '{name}' in '{shown}' is a scalar; every array needs a "
                               "leading example axis", arg="path")  # fmt: skip
        lengths[name] = shape[0]
        vocab = None
        if name + VOCAB_SUFFIX in headers:
            if dtype.kind not in "iu":
                raise DataArgError(f"'{name}{VOCAB_SUFFIX}' is given but '{name}' is not an "
                                   "integer array", arg="path")  # fmt: skip
            vocab = _vocab(full, name, headers[name + VOCAB_SUFFIX])
        fields[name] = TensorType.of(dtype.name, shape[1:], vocab)
    if len(set(lengths.values())) > 1:
        counts = ", ".join(f"{k}: {v}" for k, v in lengths.items())
        raise DataArgError(f"the arrays in '{shown}' differ in example count ({counts})",
                           arg="path")  # fmt: skip
    return fields


def fields(path: str, eval: str = "", base_dir: str | None = None) -> dict[str, TensorType]:
    declared = _fields_of(resolve(path, base_dir), path)
    if eval:  # an explicit eval file: checked here, so `seqnet check` says when it does not fit
        _eval_fields(eval, path, declared, base_dir)
    return declared


def _eval_fields(eval: str, path: str, declared: dict, base_dir: str | None) -> None:
    theirs = _fields_of(resolve(eval, base_dir, arg="eval"), eval)
    if theirs != declared:  # TensorType equality includes dtype, dims and vocab
        raise DataArgError(f"eval file '{eval}' does not match '{path}': its fields are "
                           f"{_show(theirs)}, expected {_show(declared)}", arg="eval",
                           hint="the eval file holds the same arrays as the train file")  # fmt: skip


def _read(full: Path, names) -> dict[str, np.ndarray]:
    with np.load(full, allow_pickle=False) as z:
        return {k: np.asarray(z[k]) for k in names}


def load(split: str, n_examples: int | None, seed: int, path: str, eval: str = "",
         base_dir: str | None = None) -> dict[str, np.ndarray]:  # fmt: skip
    """The train or eval arrays; `seed` is unused (the split is fixed by the files). Eval: the
    file `eval` names when given, else `<stem>_eval.npz` beside `path`, else the last 10%."""
    full = resolve(path, base_dir)
    declared = _fields_of(full, path)
    if eval:
        _eval_fields(eval, path, declared, base_dir)
        arrays = _read(resolve(eval, base_dir, arg="eval") if split == "eval" else full, declared)
        if n_examples is not None:
            arrays = {k: v[:n_examples] for k, v in arrays.items()}
        return {k: np.ascontiguousarray(v) for k, v in arrays.items()}
    other = eval_path(full)
    if other.is_file():
        if split == "eval":
            shown = str(Path(path).parent / other.name)
            if not _inside(other.resolve(), _base(base_dir)):
                raise DataArgError(f"'{shown}' leads outside the spec's folder", arg="path")
            theirs = _fields_of(other, shown)
            if theirs != declared:  # TensorType equality includes dtype, dims and vocab
                raise DataArgError(f"'{shown}' does not match '{path}': its fields are "
                                   f"{_show(theirs)}, expected {_show(declared)}",
                                   arg="path")  # fmt: skip
            arrays = _read(other, declared)
        else:
            arrays = _read(full, declared)
    else:
        arrays = _read(full, declared)
        total = len(next(iter(arrays.values())))
        if total < 2:
            raise DataArgError(f"'{path}' has {total} example(s): too few to hold out 10% for "
                               f"eval (or add {other.name})", arg="path")  # fmt: skip
        n_eval = max(1, int(round(EVAL_FRACTION * total)))
        part = slice(0, total - n_eval) if split == "train" else slice(total - n_eval, None)
        arrays = {k: v[part] for k, v in arrays.items()}
    if n_examples is not None:
        arrays = {k: v[:n_examples] for k, v in arrays.items()}
    return {k: np.ascontiguousarray(v) for k, v in arrays.items()}


def _show(fields: dict[str, TensorType]) -> str:
    return ", ".join(f"{k}: {t}" for k, t in fields.items())
