"""Ops on whole tensors: a learned tensor (`param`), and slicing and shifting along an axis.

`param` is the one op with no tensor argument: a free parameter (a CLS token, learned positions,
memory slots) that every example sees the same value of. `slice` is what a subscript with a
range (`x[1:]`, `x[0:N-1]`) becomes; an integer subscript (`x[:, -1]`) becomes `take`. Bounds
are checked here, at compile time: a slice that leaves an axis or comes out empty is an error,
never a silently shorter tensor as in NumPy.
"""

from __future__ import annotations

from seqnet.compiler.ops.registry import (
    INITS,
    Arg,
    OpCall,
    ParamSpec,
    ShapeError,
    dims,
    norm_axis,
    op,
    zero_flops,
)
from seqnet.compiler.types import Dim, NamedInt, TensorType, sum_expr

# --- learned tensors -----------------------------------------------------------------------------


def _param_infer(c: OpCall):
    shape = c["shape"]
    for size in shape:
        if size <= 0:
            raise ShapeError(f"param: sizes must be positive, got {size}", arg="shape", code="SQN0108")
    if c["init"] == "orthogonal" and len(shape) < 2:
        raise ShapeError(f"param: init=\"orthogonal\" needs at least two axes, but the shape is "
                         f"{list(shape)}", arg="init", code="SQN0108",
                         hint="use init=\"normal\" for a vector")  # fmt: skip
    return [TensorType("float32", dims(*shape))]


op("param", "parameter",
   [Arg("shape", "ints"), Arg("init", "choice", "normal", INITS, "initialiser recipe"),
    Arg("scale", "float", 0.02, doc="std (normal), bound (uniform), value (constant) or gain")],
   _param_infer,
   params=lambda c: {"value": ParamSpec(tuple(c["shape"]), c["init"], c["scale"])},
   flops=zero_flops,
   doc="A learned tensor of the given shape, the same for every example: "
       "`cls = param([1, E], init=\"normal\", scale=0.02)`.")  # fmt: skip

# --- slicing -------------------------------------------------------------------------------------


def _bound_text(value: int | None, dim: Dim, default: str) -> str:
    """How a bound reads in a dim's text: `T-1` for -1 on an axis of size T."""
    if value is None:
        return default
    if isinstance(value, NamedInt):
        return value.expr
    if value < 0:
        return f"{dim}{value:+d}" if dim.expr else str(dim.value + value)
    return str(value)


def _written(bound: int) -> str:
    """A bound as the message shows it: `T+1 = 9` when it was written with dims."""
    return f"{bound.expr} = {int(bound)}" if isinstance(bound, NamedInt) else str(bound)


def _slice_infer(c: OpCall):
    x = c["x"]
    axis = norm_axis(c["axis"], x.rank)
    dim = x.shape[axis]
    size = dim.value
    start, stop, step = c["start"], c["stop"], c["step"]
    if step <= 0:
        raise ShapeError(f"slice step must be positive, got {step}", arg="step", code="SQN0108")
    if not -size <= start < size:
        raise ShapeError(f"slice start {_written(start)} is out of range for axis {c['axis']} of size {size}",
                         arg="start", code="SQN0303",
                         hint=f"an axis of size {size} starts at 0 (or -{size}) and ends at {size}")  # fmt: skip
    if stop is not None and not -size <= stop <= size:
        raise ShapeError(f"slice stop {_written(stop)} is out of range for axis {c['axis']} of size {size}",
                         arg="stop", code="SQN0303",
                         hint=f"an axis of size {size} takes stops from -{size} to {size}; leave "
                         "the stop out to go to the end")  # fmt: skip
    first = start % size
    end = size if stop is None else stop % size if stop < 0 else stop
    if end <= first:
        raise ShapeError(f"slice {start}:{'' if stop is None else stop} of axis {c['axis']} (size "
                         f"{size}) is empty", arg="stop" if stop is not None else "start",
                         code="SQN0304", hint="the stop must come after the start")  # fmt: skip
    length = -(-(end - first) // step)
    text = None
    if step == 1 and start >= 0:  # x[-k:] is k long, whatever the axis: a number reads best
        stop_text = _bound_text(stop, dim, str(dim))
        text = sum_expr([stop_text, f"-{first}"]) if first else stop_text
    shape = x.shape[:axis] + (Dim(length, text if text != str(length) else None),) + x.shape[axis + 1 :]
    return [TensorType(x.dtype, shape, x.vocab, x.bounds)]


op("slice", "shape",
   [Arg("x", "tensor"), Arg("start", "int", 0), Arg("stop", "int", None, doc="none: the end"),
    Arg("step", "int", 1), Arg("axis", "int", 0)],
   _slice_infer, flops=zero_flops,
   doc="Elements start, start+step, ... before stop along one axis: what `x[1:]` and "
       "`x[:, 0:N-1]` become.")  # fmt: skip

# --- shifting ------------------------------------------------------------------------------------


def _shift_infer(c: OpCall):
    x = c["x"]
    axis = norm_axis(c["axis"], x.rank)
    size = x.shape[axis].value
    n, fill = c["n"], c["fill"]
    if not -size < n < size:
        raise ShapeError(f"shift by {n} along axis {c['axis']} of size {size} leaves nothing of 'x'",
                         arg="n", code="SQN0303",
                         hint=f"shift by at most {size - 1} positions either way")  # fmt: skip
    if not x.is_float:
        if not float(fill).is_integer():
            raise ShapeError(f"shift: fill={fill} is not an integer, but 'x' is {x}", arg="fill",
                             code="SQN0302")  # fmt: skip
        if x.vocab is not None and not 0 <= fill < x.vocab:
            raise ShapeError(f"shift: fill={int(fill)} is not a token id of 'x' ({x})", arg="fill",
                             code="SQN0503", hint=f"fill with an id from 0 to {x.vocab - 1}")  # fmt: skip
    return [x]


op("shift", "shape",
   [Arg("x", "tensor"), Arg("n", "int", 1), Arg("fill", "float", 0.0), Arg("axis", "int", 0)],
   _shift_infer, flops=zero_flops,
   doc="Move elements n places along an axis (later for n > 0), filling the vacated places: "
       "`shift(target, 1, fill=0)` for teacher forcing.")  # fmt: skip
