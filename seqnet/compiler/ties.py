"""Weight tying: `dense(h, V, tie=emb)` makes an op use another node's weight instead of its own.

The weight an op ties is its first parameter (dense's `w`, embed's `table`, param's `value`,
conv's `w`); the node it names gives its own first parameter. The two must have the same shape,
or (for matrices) the transposed one, which is how an output projection reuses an embedding
table. The tying node keeps its other parameters (a dense's bias); the tied one is recorded in
the node's `ties` ({param: (owner node, owner's param, transposed)}) and is not the node's own,
so it is counted once in `summary`, is one leaf of the parameter tree, and its gradient is the
sum of both uses' gradients.
"""

from __future__ import annotations

import networkx as nx

from seqnet.compiler import values as V
from seqnet.compiler.ops.registry import ParamSpec
from seqnet.errors import CompileError, Note
from seqnet.source import Span


def _shape(shape: tuple[int, ...]) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def describe(ties) -> str:
    """`w = emb.table (transposed)`: a node's tied weights, for summaries and diagrams."""
    return ", ".join(f"{k} = {owner}.{held}" + (" (transposed)" if flip else "")
                     for k, (owner, held, flip) in (ties or {}).items())  # fmt: skip


def weight_of(g: nx.MultiDiGraph, node: str) -> tuple[str, str, bool] | None:
    """(owner node, param name, transposed) of the first weight `node` uses, following shared
    repeats and ties to the node that holds it; None when the node has no weight."""
    d = g.nodes[node]
    ties = d.get("ties") or {}
    if ties:  # a node ties only its first parameter
        return tuple(next(iter(ties.values())))
    params = g.nodes[d["param_owner"]]["params"]
    if not params:
        return None
    return d["param_owner"], next(iter(params)), False


def tie(g: nx.MultiDiGraph, op_name: str, params: dict[str, ParamSpec], value, span: Span,
        arg_span: Span) -> tuple[dict[str, ParamSpec], dict[str, tuple[str, str, bool]]]:  # fmt: skip
    """The op's parameters without the tied one, and its `ties` record."""
    if not isinstance(value, V.TensorRef):
        raise CompileError("SQN0106", f"tie= names the node whose weight {op_name} reuses, but this "
                           f"is {V.describe(value)}", arg_span,
                           hint="tie to a value an op with a weight computed: emb = embed(x, E); "
                           "dense(h, V, tie=emb)")  # fmt: skip
    if not params:
        raise CompileError("SQN0306", f"{op_name} has no weight to tie", arg_span,
                           hint="tie= is for ops with parameters (dense, embed, param, conv1d, ...)")  # fmt: skip
    if value.node not in g:
        raise CompileError("SQN0306", "tie= names a value from outside this segment structure's "
                           "role", arg_span, hint="tie weights within one role")  # fmt: skip
    source = weight_of(g, value.node)
    op = g.nodes[value.node]["op"]
    if source is None:
        raise CompileError("SQN0306", f"the value tie= names comes from {op}, which has no weight",
                           arg_span, notes=(Note(value.span, "computed here"),),
                           hint="tie to the output of an op with a weight: emb = embed(x, E); "
                           "dense(h, V, tie=emb)")  # fmt: skip
    owner, key, transposed = source
    held = g.nodes[owner]["params"][key].shape
    held = held[::-1] if transposed else held  # the weight as the named node uses it
    name = next(iter(params))
    want = params[name].shape
    if held == want:
        flip = False
    elif len(want) == 2 and held == want[::-1]:
        flip = True
    else:
        raise CompileError("SQN0306", f"{op_name}'s weight '{name}' is {_shape(want)}, but the "
                           f"{op} weight tie= names is {_shape(held)}", arg_span,
                           notes=(Note(value.span, f"its weight '{key}' is {_shape(held)}, made here"),),
                           hint=f"to tie, {op_name}'s weight must be {_shape(held)}"
                           + (f" or its transpose {_shape(held[::-1])}" if len(held) == 2 else ""))  # fmt: skip
    rest = {k: p for k, p in params.items() if k != name}
    return rest, {name: (owner, key, flip != transposed)}
