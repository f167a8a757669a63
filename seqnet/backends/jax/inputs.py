"""Checks of the arrays a model is given: predict's .npz inputs and the targets of a data split.

Bad data is refused in words naming the array and the first bad example, never passed on to
train or predict garbage without a word."""

from __future__ import annotations

import numpy as np

from seqnet.backends.jax.failures import InputError


def first_true(mask: np.ndarray) -> tuple[int, ...] | None:
    """The index of the first True in `mask` (example first), or None: what bad-data errors name."""
    found = np.argwhere(mask)
    return tuple(int(i) for i in found[0]) if len(found) else None


def check_finite(name: str, a: np.ndarray, where: str, hint: str) -> None:
    """InputError at the first NaN or Inf of a float array, naming the example and position:
    a NaN input trains to a NaN loss ("diverged") and predicts NaN, both without naming it."""
    if a.dtype.kind != "f" or not a.size:
        return
    i = first_true(~np.isfinite(a))
    if i is not None:
        at = f", position {list(i[1:])}" if len(i) > 1 else ""
        raise InputError(f"{where} '{name}' holds {a[i]} at example {i[0]}{at}; {hint}")


def read_npz(path, model) -> dict[str, np.ndarray]:
    """The arrays of an .npz file of inputs; anything else is refused in words (never unpickled)."""
    import zipfile

    names = ", ".join(model.inputs)
    example = "np.savez(path, " + ", ".join(f"{k}=..." for k in model.inputs) + ")"
    bad = (OSError, ValueError, EOFError, zipfile.BadZipFile)
    try:
        # Our own handle, closed on every path: np.load(path) leaks its file when the zip is
        # damaged (it hands the handle to NpzFile, which raises before owning it).
        handle = open(path, "rb")  # closed by the `with` below
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path} is a folder, not an .npz file") from None
    except OSError as e:
        raise InputError(f"{path} is not an .npz file of arrays ({type(e).__name__}); write the "
                         f"inputs ({names}) with {example}") from None  # fmt: skip
    with handle:
        try:
            loaded = np.load(handle, allow_pickle=False)
        except bad as e:
            raise InputError(f"{path} is not an .npz file of arrays ({type(e).__name__}); write "
                             f"the inputs ({names}) with {example}") from None  # fmt: skip
        if isinstance(loaded, np.ndarray):
            raise InputError(f"{path} holds a single array (.npy); predict reads an .npz with one "
                             f"array per input ({names}): {example}")  # fmt: skip
        try:
            with loaded as f:
                return {k: f[k] for k in f.files}
        except bad as e:
            raise InputError(f"{path}: cannot read its arrays ({type(e).__name__}: {e}); is it a "
                             f"complete .npz file?") from None  # fmt: skip


def check_targets(loss: str, out_type, name: str, target: np.ndarray, where: str) -> None:
    """Targets a loss cannot use make training diverge or learn nothing without a word: class
    indices outside the output's classes, fractional class indices, bce targets outside [0, 1]."""
    if target.size == 0:
        return
    from seqnet.compiler.objectives import OBJECTIVES

    kind = OBJECTIVES[loss].target_kind
    classes = out_type.dims[-1] if out_type.dims else 1
    soft = np.issubdtype(target.dtype, np.floating) and tuple(target.shape[1:]) == tuple(out_type.dims)
    if kind == "binary":
        i = first_true(~((target >= 0) & (target <= 1)))
        if i is not None:
            raise InputError(f"{where}: {loss} targets must lie in [0, 1], but '{name}' holds "
                             f"{target[i]} at example {i[0]}")  # fmt: skip
        return
    if kind != "classes" or soft or classes == 1:  # real targets, probabilities, one logit
        return
    if np.issubdtype(target.dtype, np.floating):
        i = first_true(target != np.round(target))
        if i is not None:
            raise InputError(f"{where}: {loss} needs class indices (whole numbers 0..{classes - 1}) in "
                             f"'{name}', but example {i[0]} holds {target[i]}")  # fmt: skip
    i = first_true((target < 0) | (target >= classes))
    if i is not None:
        raise InputError(f"{where}: {loss} needs class indices 0..{classes - 1} (the output "
                         f"{out_type} has {classes} classes), but '{name}' holds {target[i]} at "
                         f"example {i[0]}")  # fmt: skip


def check_lengths(name: str, lengths: np.ndarray, size: int, target: str, where: str) -> None:
    """Lengths a loss skips padding by must lie in 0..the target's sequence length: a negative
    one, or one past the end, would count positions that are not there without a word."""
    i = first_true((lengths < 0) | (lengths > size))
    if i is not None:
        raise InputError(f"{where}: lengths in '{name}' must lie in 0..{size} (the positions of "
                         f"'{target}'), but example {i[0]} holds {lengths[i]}")  # fmt: skip


def check_token_ids(name: str, a: np.ndarray, t, where: str) -> None:
    """Token ids outside a declared vocabulary would be clamped by the embedding (XLA's gathers
    clamp), training on the wrong token without a word: refuse them, naming the first."""
    if t.vocab is None or not a.size or a.dtype.kind not in "iu":
        return
    i = first_true((a < 0) | (a >= t.vocab))
    if i is not None:
        raise InputError(f"{where}: token ids must lie in 0..{t.vocab - 1} (declared {t}), but "
                         f"example {i[0]} holds {a[i]} at position {i[1:]}")  # fmt: skip


def check_inputs(model, arrays: dict[str, np.ndarray], *, allow_nonfinite: bool = False,
                 source: str = "predict") -> dict[str, np.ndarray]:  # fmt: skip
    """Arrays for the spec's inputs, shapes and dtypes checked (same-kind dtypes are cast), and
    every float value finite unless allow_nonfinite."""
    out, n = {}, None
    for name, t in model.inputs.items():
        want = f"{t.dtype}[batch, {', '.join(map(str, t.dims))}]".replace(", ]", "]")
        if name not in arrays:
            raise InputError(f"input '{name}' is missing: expected {want}; the file has "
                             + (", ".join(sorted(arrays)) or "no arrays"))  # fmt: skip
        a = np.asarray(arrays[name])
        got = f"{a.dtype}[{', '.join(map(str, a.shape))}]"
        want_dt = np.dtype(t.dtype) if t.dtype != "bfloat16" else np.dtype(np.float32)
        if a.ndim != len(t.dims) + 1 or tuple(a.shape[1:]) != tuple(t.dims):
            raise InputError(f"input '{name}': expected shape {want}, got {got}")
        if a.dtype.kind != want_dt.kind and not (a.dtype.kind in "iu" and want_dt.kind in "iu"):
            raise InputError(f"input '{name}': expected dtype {want}, got {got}")
        if n is not None and a.shape[0] != n:
            raise InputError(f"input '{name}' has {a.shape[0]} examples, other inputs have {n}")
        check_token_ids(name, a, t, f"input '{name}'")
        if not allow_nonfinite:
            check_finite(name, a, f"{source}: input", "fix the data, or pass "
                         "--allow-nonfinite (allow_nonfinite=True) to predict on it anyway")  # fmt: skip
        n = a.shape[0]
        out[name] = a.astype(t.dtype if t.dtype != "bfloat16" else np.float32, copy=False)
    return out


