"""Recurrent layers: basic RNN, LSTM and GRU cells iterated over a sequence, in their modes."""

from __future__ import annotations

from seqnet.compiler.ops.masks import LENGTHS_DOC, check_lengths
from seqnet.compiler.ops.registry import (
    Arg,
    OpCall,
    ParamSpec,
    ShapeError,
    TensorType,
    dims,
    need_float,
    need_rank,
    op,
    positive,
    zero_flops,
)

MODES = ("many_to_many", "many_to_one", "one_to_many")
GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def _state_size(cell: str, hidden: int) -> int:
    return 2 * hidden if cell == "lstm" else hidden  # an LSTM's state is (h, c), concatenated


def _recurrent_infer(cell: str):
    def infer(c: OpCall):
        x = c["x"]
        need_float(x, "x")
        positive(c, "hidden")
        mode = c["mode"]
        if mode == "one_to_many":
            need_rank(x, "x", 1, " (one input vector, fed at every step)")
            if c["steps"] <= 0:
                raise ShapeError("one_to_many needs steps=T, the length to generate", arg="steps",
                                 code="SQN0104")  # fmt: skip
        else:
            need_rank(x, "x", 2, " (sequence, features)")
            if c["steps"]:
                raise ShapeError(f"steps= is only for mode=one_to_many, not {mode}", arg="steps",
                                 code="SQN0108")  # fmt: skip
        _check_lengths(c)
        h = c["hidden"]
        init = c.inputs.get("initial")
        if init is not None and init.dims != (_state_size(cell, h),):
            raise ShapeError(
                f"initial state must be float32[{_state_size(cell, h)}] for a {cell} of hidden size "
                f"{h}, but it is {init}", arg="initial",
                hint="pass the state returned by a cell of the same kind and size (return_state=true)",
            )  # fmt: skip
        if mode == "many_to_one":
            out = TensorType(x.dtype, dims(h))
        else:
            steps = c["steps"] if mode == "one_to_many" else x.shape[0]
            out = TensorType(x.dtype, dims(steps, h))
        outs = [out]
        if c["return_state"]:
            outs.append(TensorType(x.dtype, dims(_state_size(cell, h))))
        return outs

    return infer


def _check_lengths(c: OpCall) -> None:
    lengths = c.inputs.get("lengths")
    check_lengths(lengths)
    if lengths is not None and c["mode"] == "one_to_many":
        raise ShapeError("lengths= is for a sequence read in, not for mode=one_to_many", arg="lengths",
                         code="SQN0108", hint="give the padded input sequence's lengths to the encoder")  # fmt: skip


def _recurrent_params(cell: str):
    def params(c: OpCall):
        g, h, f = GATES[cell], c["hidden"], c["x"].dims[-1]
        return {
            "wx": ParamSpec((f, g * h), "glorot_uniform", axes=("in", "gates")),
            "wh": ParamSpec((h, g * h), "orthogonal", axes=("hidden", "gates")),
            "b": ParamSpec((g * h,), "zeros", axes=("gates",)),
        }

    return params


def _recurrent_flops(cell: str):
    def flops(c: OpCall, outs):
        g, h, f = GATES[cell], c["hidden"], c["x"].dims[-1]
        steps = c["steps"] if c["mode"] == "one_to_many" else c["x"].dims[0]
        return steps * (2 * (f + h) * g * h + 10 * g * h)

    return flops


for _cell, _doc in [
    ("rnn", "Basic RNN cell h' = act(x Wx + h Wh + b)"),
    ("lstm", "LSTM cell (input, forget, cell, output gates); its state is concat(h, c)"),
    ("gru", "GRU cell (reset, update gates)"),
]:
    op(
        _cell, "recurrent",
        [Arg("x", "tensor"), Arg("hidden", "int"), Arg("mode", "choice", "many_to_many", MODES),
         Arg("steps", "int", 0, doc="output length for one_to_many"),
         Arg("initial", "tensor", None, doc="initial state (default zeros)"),
         Arg("return_state", "bool", False, doc="also return the final state"),
         *([Arg("act", "choice", "tanh", ("tanh", "relu"))] if _cell == "rnn" else []),
         Arg("reverse", "bool", False, doc="run from the end of the sequence"),
         Arg("lengths", "tensor", None, doc=LENGTHS_DOC + "; the state stops there")],
        _recurrent_infer(_cell), params=_recurrent_params(_cell), flops=_recurrent_flops(_cell),
        outputs=("out", "state"), doc=f"{_doc}, iterated with lax.scan.",
    )  # fmt: skip


def _scan_infer(c: OpCall):
    """The cell's per-step output (`out_type`, from its region) stacked over the steps, or the
    last step's alone for many_to_one; the carried state's shape is `state`."""
    x = c["x"]
    need_rank(x, "x", range(1, 8), " (sequence first)")
    _check_lengths(c)
    state = c["state"]
    if not state or any(d <= 0 for d in state):
        raise ShapeError(f"the state shape must list positive sizes, got {list(state)}", arg="state",
                         code="SQN0108", hint="for an LSTM cell of hidden size H: state=[2 * H]")  # fmt: skip
    init = c.inputs.get("initial")
    if init is not None and tuple(init.dims) != tuple(state):
        raise ShapeError(f"initial state must be {TensorType.of('float32', state)} (the cell's state), "
                         f"but it is {init}", arg="initial",
                         hint="pass a tensor of the state's shape, or leave initial out for zeros")  # fmt: skip
    out = c["out_type"]
    if out is None:  # typed before its region exists: nothing to stack yet
        raise ShapeError("scan needs its cell's output type", arg="x")
    if c["mode"] == "many_to_one":
        return [out]
    return [out.with_shape(dims(x.shape[0], *out.shape))]


op(
    "scan", "recurrent",
    [Arg("x", "tensor", doc="the sequence, steps on the first axis"),
     Arg("state", "ints", doc="the carried state's shape"),
     Arg("initial", "tensor", None, doc="initial state (default zeros)"),
     Arg("mode", "choice", "many_to_many", MODES[:2]),
     Arg("reverse", "bool", False, doc="run from the end of the sequence"),
     Arg("lengths", "tensor", None, doc=LENGTHS_DOC + "; the state stops there"),
     Arg("out_type", "any", None, doc="the cell's per-step output (set by the compiler)")],
    _scan_infer,
    flops=zero_flops,  # the cost is its cell region's nodes', counted once per step
    doc="A user cell `block cell(x, state) { ... return out, new_state }` scanned over the "
        "sequence: `scan(cell(...), x, state=[S])`; its region's parameters are shared by every "
        "step.",
    takes_cell=True,
)  # fmt: skip
