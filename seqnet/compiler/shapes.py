"""Shape inference as a pass: every node's output types, parameter shapes and cost, derived from
its op's registry rules and the types of what it reads, in dependency order.

Elaboration already applies the same rules as it builds each node, because the language needs a
type on the spot: `size(x, axis)` is an integer the rest of the spec computes with, a `repeat`
body reads the shape its previous copy made, and a mistake is reported at the call that made it,
with notes about the operands. This pass is what makes the registry, not the elaborator, the
authority: it recomputes every node from the rules alone and

* fills in what a graph builder left open (a node whose `outputs` is the empty tuple, an edge
  without a `type`: a graph made by a later pass or by hand need not type itself), and
* refuses a node whose recorded types, parameters or cost disagree with its rules, or an edge
  whose carried type is not its source's: a compiler bug, reported as an IRError that names the
  stage, like the schema verifier in `ir.py`.

Segment regions are inferred recursively. A wormhole edge is no argument of its target (the
gate's output is added to the target at lowering), so it only has its carried type checked.
"""

from __future__ import annotations

import networkx as nx

from seqnet.compiler.graph import is_input, node_call, topo_order
from seqnet.compiler.ir import IRError
from seqnet.compiler.ops.catalog import load_ops
from seqnet.compiler.ops.registry import ShapeError


def infer(g: nx.MultiDiGraph, stage: str = "infer") -> nx.MultiDiGraph:
    """Type every node of `g` (in place) from the registry; raises IRError naming `stage` when a
    recorded type disagrees with its rule. Returns `g`."""
    problems = _infer(g, "")
    if problems:
        raise IRError(stage, problems)
    return g


def _infer(g: nx.MultiDiGraph, where: str) -> list[str]:
    ops = load_ops()
    out: list[str] = []
    for name in topo_order(g):
        data = g.nodes[name]
        if is_input(g, name):
            continue
        at = f"{where}node '{name}' ({data['op']})"
        op = ops[data["op"]]
        try:
            call = node_call(g, name)
            outputs = tuple(op.infer(call))
            tied = data.get("ties") or {}  # a tied weight is another node's (compiler/ties.py)
            params = {k: p for k, p in op.params(call).items() if k not in tied}
            flops = op.flops(call, list(outputs))
        except (ShapeError, KeyError, IndexError) as err:
            out.append(f"{at}: its rules reject what it reads ({err})")
            continue
        if data["outputs"] == ():
            data.update(outputs=outputs, params=params, flops=flops)
        else:
            out += _disagreements(at, data, outputs, params, flops)
        for role, region in (data.get("regions") or {}).items():
            out += _infer(region, f"{where}region '{role}' of '{name}': ")
    for u, v, e in g.edges(data=True):  # after every node is typed: wormholes run backwards
        given = g.nodes[u]["outputs"][e["port"]]
        if e.get("type") is None:  # an edge its builder left untyped
            e["type"] = given
        elif e["type"] != given:
            out.append(f"{where}node '{v}' ({g.nodes[v]['op']}): the edge from '{u}' carries "
                       f"{e['type']}, but '{u}' gives {given}")  # fmt: skip
    return out


def _disagreements(at: str, data: dict, outputs, params, flops) -> list[str]:
    out = []
    if tuple(data["outputs"]) != outputs:
        shown = ", ".join(map(str, data["outputs"]))
        out.append(f"{at} records {shown}, but its rule gives {', '.join(map(str, outputs))}")
    recorded = {k: p.shape for k, p in data["params"].items()}
    if recorded != {k: p.shape for k, p in params.items()}:
        out.append(f"{at} records parameters {recorded}, but its rule gives "
                   f"{ {k: p.shape for k, p in params.items()} }")  # fmt: skip
    if data["flops"] != flops:
        out.append(f"{at} records {data['flops']:,} FLOPs, but its rule gives {flops:,}")
    return out
