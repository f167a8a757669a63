"""Check-time rules of padded data: the lengths a data source can give, against the positions of
each op that reads them as `lengths=`.

A length past the positions an op measures would count every one of them as real without a word
(an `lstm` over `x[0:8]` fed lengths up to 12, or `sequence_mask(length, 8)`), as token ids past a
vocabulary would be clamped: the same kind of mismatch, refused the same way (SQN0503)."""

from __future__ import annotations

from seqnet.compiler.graph import output_type
from seqnet.compiler.ir import node as ir_node
from seqnet.compiler.types import TensorType
from seqnet.errors import CompileError, Note


def measured_positions(graph, name: str) -> int | None:
    """How many positions the lengths of node `name` count: the first axis of its sequence input
    `x`, or, for an op without one (sequence_mask), of its result."""
    rec = ir_node(graph, name)
    args = dict(rec.args)
    if "x" in args:
        t = output_type(graph, tuple(args["x"]))
    else:
        t = rec.outputs[0] if rec.outputs else None
    return t.dims[0] if t is not None and t.rank else None


def lengths_problems(graph, fields: dict[str, TensorType], source: str, call_span) -> list[CompileError]:
    """A located error for each op whose `lengths=` reads an input the data can fill past the
    op's positions (known where the data states its lengths' range)."""
    inputs = set(graph.graph["inputs"])
    problems = []
    for name in graph.nodes:
        rec = ir_node(graph, name)
        for arg, ref in rec.args:
            if arg != "lengths" or not ref or ref[0] not in inputs:
                continue
            field = fields.get(ref[0])
            size = measured_positions(graph, name)
            if field is None or field.bounds is None or size is None or field.bounds[1] <= size:
                continue
            problems.append(CompileError(
                "SQN0503", f"{rec.op}: lengths={ref[0]} reaches {field.bounds[1]:g} in the data, past "
                f"the {size} positions it counts", rec.span,
                notes=(Note(call_span, f"data source {source}: lengths {field.bounds[0]:g}..{field.bounds[1]:g}"),),
                hint=f"give the op the whole padded sequence, or the data a padded length of {size}"))  # fmt: skip
    return problems
