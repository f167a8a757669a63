"""The losses and metrics of a `train` section, and the type rule of each.

A loss or metric pairs a spec output with a data field. Its type rule decides, from the two tensor
types alone (one example each, no batch axis), whether the pair can run: the runtime's functions in
`backends/jax/losses.py` broadcast and cast freely, so a pair the rule does not stop would either
fail inside JAX with a message about gathers or, worse, train on a silently broadcast mean. A rule
raises `ObjectiveTypeError` naming which side is at fault; `compiler/train.py` points at it.

Targets come in three kinds, read from the field's type:
- class indices: an integer tensor with a class count (`int32[] vocab 10`);
- probabilities / soft labels: a float tensor shaped like the output (cross_entropy, accuracy);
- real values: any other float tensor, or an integer tensor without a class count (counts).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from seqnet.compiler.types import Dim, TensorType


class ObjectiveTypeError(Exception):
    """An output and a target that a loss or metric cannot pair. `side`: "output" or "target"."""

    def __init__(self, message: str, side: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.side = side
        self.hint = hint


@dataclass(frozen=True)
class Objective:
    """A loss or metric: its name, what it computes, the type rule, and where it may be used.

    `target_kind` is what the runtime checks the data against before training: "classes" (ids
    below the output's class count, or probabilities), "binary" (values in [0, 1]) or "real".
    """

    name: str
    doc: str
    rule: Callable[[TensorType, TensorType], None]
    target_kind: str
    loss: bool = True
    metric: bool = True


def _shape(t: TensorType) -> str:
    return f"[{', '.join(str(d) for d in t.shape)}]"


def _kind(t: TensorType) -> str:
    if t.is_float:
        return f"real values {t}"
    if t.vocab is not None:
        return f"class indices {t}"
    return f"integers {t}"


def _need_float_output(name: str, out: TensorType) -> None:
    if not out.is_float:
        raise ObjectiveTypeError(f"{name} needs a floating-point output, but it is {out}", "output",
                                 hint="end the model with dense(...) so it outputs real values")  # fmt: skip


def _per_position(out: TensorType, target: TensorType) -> str:
    """Why a target's shape differs from the one the output predicts, in words a person uses."""
    if out.rank > target.rank + 1 or (out.rank == target.rank + 1 and target.rank == 0):
        return " (the output has a value per position, the target one per sequence)"
    if out.rank < target.rank + 1:
        return " (the target has a value per position, the output one per sequence)"
    return ""


def _classes(name: str, out: TensorType, target: TensorType) -> None:
    """Output logits [..., C] against class indices [...] (C classes) or probabilities [..., C]."""
    _need_float_output(name, out)
    if out.rank == 0:
        raise ObjectiveTypeError(f"{name} needs logits with a class axis, but the output is {out}",
                                 "output", hint="give the output a last axis of one score per class")  # fmt: skip
    if out.shape[-1].value == 1:
        raise ObjectiveTypeError(
            f"{name} over a single class is always 0: the output {out} has one score per value",
            "output",
            hint="for a real-valued target use mse or l1; for a 0/1 target use bce",
        )  # fmt: skip
    if target.is_float:
        if target.shape == out.shape:
            return  # probabilities (soft labels) over the same classes
        if target.shape == out.shape[:-1] or target.shape == out.shape[:-1] + (Dim(1),):
            raise ObjectiveTypeError(
                f"{name} needs class indices or class probabilities, but the target holds "
                f"{_kind(target)}", "target",
                hint="for real-valued targets use mse or l1; class indices are integer fields",
            )  # fmt: skip
        raise ObjectiveTypeError(
            f"{name}: the output {out} and the target {target} disagree in shape",
            "target", hint=f"probabilities must be shaped like the output, {_shape(out)}",
        )  # fmt: skip
    classes = out.shape[-1].value
    lead = out.shape[:-1]
    if target.shape not in (lead, lead + (Dim(1),)):
        raise ObjectiveTypeError(
            f"{name}: the output {out} predicts classes of shape {_shape(TensorType('int32', lead))}, "
            f"but the target is {target}{_per_position(out, target)}", "target",
            hint=_shape_hint(out, target),
        )  # fmt: skip
    if target.vocab is not None and target.vocab != classes:
        raise ObjectiveTypeError(
            f"{name}: the output {out} scores {classes} classes, but the target has "
            f"{target.vocab}", "output",
            hint=f"make the output's last axis {target.vocab}, one score per class",
        )  # fmt: skip


def _shape_hint(out: TensorType, target: TensorType) -> str:
    if target.rank == 0 and out.rank >= 2:
        return ("the label is one class per sequence: reduce the sequence first (e.g. "
                "mode=many_to_one, mean(h, axis=0) or a pooling op)")  # fmt: skip
    if target.rank >= 1 and out.rank == 1:
        return "the target has a class per position: keep the sequence axis (e.g. mode=many_to_many)"
    want = ", ".join(str(d) for d in target.shape)
    return f"the output should be [{want + ', ' if want else ''}classes]"


def _real(name: str, out: TensorType, target: TensorType) -> None:
    """Real-valued output against a real target of the same shape (a trailing 1 may be dropped)."""
    _need_float_output(name, out)
    if not target.is_float and target.vocab is not None:
        raise ObjectiveTypeError(
            f"{name} compares real values, but the target holds {_kind(target)}", "target",
            hint=f"for class labels use cross_entropy (and accuracy); the output would then be "
            f"[{', '.join(str(d) for d in target.shape) + ', ' if target.rank else ''}{target.vocab}]",
        )  # fmt: skip
    _need_same_values(name, out, target, f"the output must have the target's shape, {_shape(target)}")


def _need_same_values(name: str, out: TensorType, target: TensorType, hint: str) -> None:
    if not _same_values(out, target):
        raise ObjectiveTypeError(
            f"{name}: the output {out} and the target {target} disagree in shape"
            f"{_per_position(out, target) if abs(out.rank - target.rank) else ''}", "target", hint=hint,
        )  # fmt: skip


def _same_values(out: TensorType, target: TensorType) -> bool:
    """One output value per target value; the output may keep a trailing axis of 1."""
    return out.shape == target.shape or out.shape == target.shape + (Dim(1),)


def _binary(name: str, out: TensorType, target: TensorType) -> None:
    """One logit (or probability) per target value, targets in [0, 1]."""
    _need_float_output(name, out)
    if not target.is_float and target.vocab is not None and target.vocab != 2:
        raise ObjectiveTypeError(
            f"{name} needs binary targets (0 or 1), but the target holds {target.vocab} classes "
            f"({target})", "target",
            hint=f"for {target.vocab} classes use cross_entropy with an output of "
            f"{target.vocab} scores",
        )  # fmt: skip
    if target.is_float and target.bounds is not None and not (0 <= target.bounds[0] <= target.bounds[1] <= 1):
        lo, hi = target.bounds
        raise ObjectiveTypeError(
            f"{name} needs targets in [0, 1], but the target's values lie in [{lo:g}, {hi:g}]",
            "target", hint="for real-valued targets use mse or l1",
        )  # fmt: skip
    _need_same_values(name, out, target, f"one logit per target value: the output must be "
                      f"{_shape(target)} or {_shape(TensorType('float32', target.shape + (1,)))}")


def _accuracy(name: str, out: TensorType, target: TensorType) -> None:
    """Binary predictions (one logit or probability per target value, its sign or 0.5 decides) or
    class predictions (the argmax of [..., C] against class indices or probabilities)."""
    _need_float_output(name, out)
    binary = target.is_float or target.vocab in (None, 2)
    probabilities = target.is_float and target.shape == out.shape and out.rank and out.shape[-1].value > 1
    if binary and _same_values(out, target) and not probabilities:
        return
    if target.is_float and target.shape != out.shape:
        raise ObjectiveTypeError(
            f"{name} counts correct classes, but the target holds {_kind(target)}", "target",
            hint="for real-valued targets use the mse or l1 metric",
        )  # fmt: skip
    _classes(name, out, target)


def _ce(out, target):
    _classes("cross_entropy", out, target)


OBJECTIVES: dict[str, Objective] = {
    o.name: o
    for o in (
        Objective("cross_entropy", "softmax cross-entropy of logits against class indices or "
                  "probabilities", _ce, "classes"),
        Objective("bce", "binary cross-entropy of logits (or a sigmoid output) against targets "
                  "in [0, 1]", lambda o, t: _binary("bce", o, t), "binary"),
        Objective("mse", "mean squared error", lambda o, t: _real("mse", o, t), "real"),
        Objective("l1", "mean absolute error", lambda o, t: _real("l1", o, t), "real"),
        Objective("accuracy", "the share of correct predictions (argmax, or the sign of one logit)",
                  lambda o, t: _accuracy("accuracy", o, t), "classes", loss=False),
    )
}
LOSSES = tuple(n for n, o in OBJECTIVES.items() if o.loss)
METRICS = tuple(n for n, o in OBJECTIVES.items() if o.metric)


def check(name: str, out: TensorType, target: TensorType) -> None:
    """Raise ObjectiveTypeError when `name` cannot pair this output with this target."""
    OBJECTIVES[name].rule(out, target)
