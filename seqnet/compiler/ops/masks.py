"""Masks and lengths of padded sequences: the `sequence_mask` op, and the type rules every op that
takes a key mask (`mask=`) or per-example lengths (`lengths=`) applies to them.

A padded batch holds sequences of different lengths in one array: each example's `length` (an
`int32[]`, one per example) says how many leading positions are real. A mask is its boolean
spelling, `bool[T]`, true at the real positions. Both are typed, so a mask of the wrong length or
dtype is an error at `check` time, pointing at the argument, rather than a broadcast in JAX."""

from __future__ import annotations

from seqnet.compiler.ops.registry import Arg, OpCall, ShapeError, TensorType, dims, op, positive
from seqnet.compiler.types import Dim

PADDING_ARGS = ("lengths", "mask")  # what ops that read padded sequences call their arguments
LENGTHS_DOC = "int32[] per example: positions at or past it are padding"


def check_lengths(lengths: TensorType | None, arg: str = "lengths") -> None:
    """Lengths are one integer per example: an `int32[]` input or data field."""
    if lengths is None:
        return
    if lengths.is_float or lengths.dtype == "bool":
        raise ShapeError(f"'{arg}' must hold integer lengths, but it is {lengths}", arg=arg,
                         code="SQN0302", hint="declare it as 'input length : int32[]'")  # fmt: skip
    if lengths.rank:
        raise ShapeError(f"'{arg}' must be one length per example, int32[], but it is {lengths}",
                         arg=arg, code="SQN0301",
                         hint="the batch axis is implicit: lengths are declared int32[]")  # fmt: skip


def check_key_mask(mask: TensorType | None, queries: Dim, keys: Dim, arg: str = "mask") -> None:
    """A key mask is bool[keys] (the same for every query) or bool[queries, keys]."""
    if mask is None:
        return
    if mask.dtype != "bool":
        raise ShapeError(f"'{arg}' must be a bool mask, but it is {mask}", arg=arg, code="SQN0302",
                         hint="make one from lengths: sequence_mask(length, T)")  # fmt: skip
    if mask.dims not in ((keys.value,), (queries.value, keys.value)):
        want = f"bool[{keys}] or bool[{queries}, {keys}]"
        raise ShapeError(f"'{arg}' is {mask}, but the keys have {keys} = {keys.value} positions: it "
                         f"must be {want}",
                         arg=arg, hint="a key mask has one entry per key position")  # fmt: skip


def _sequence_mask_infer(c: OpCall):
    check_lengths(c["lengths"])
    positive(c, "size")
    return [TensorType("bool", dims(c["size"]))]


op(
    "sequence_mask", "shape",
    [Arg("lengths", "tensor", doc=LENGTHS_DOC), Arg("size", "int", doc="the padded length T")],
    _sequence_mask_infer, flops=lambda c, out: c["size"],
    doc="bool[T], true at the positions before each example's length: the key mask of a padded "
        "sequence, `sequence_mask(length, T)`.",
)  # fmt: skip
