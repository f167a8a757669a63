"""The graph IR: a networkx MultiDiGraph of typed op nodes, plus helpers to build and read it.

Node attributes (G.nodes[name]):
  op        op name ("input" for spec inputs)           attrs     resolved attribute args
  args      ((arg, ref or (refs...)), ...) tensor args in signature order; a ref is (node, port)
  outputs   tuple[TensorType] (batch axis implicit)     params    {name: ParamSpec}
  param_owner  the node whose parameters this one uses (itself unless weights are shared)
  flops     estimated FLOPs per example               span, chain   source span, call-site chain
  path      block path (tuple of names)               label     the spec variable it was bound to
  repeats   ((group, index, count, shared), ...)      regions   {role: MultiDiGraph} (segments)
  order     creation index (deterministic order)  structure_name  its statement's name (segments)
  ties      {param: (owner node, owner's param, transposed)}: weights used from another node (tie=)
Edge attributes: arg, index (position in a variadic arg), port, type, wormhole (bool); wormhole
edges also carry `settings` and `span`.
Graph attributes: inputs (names), outputs ({name: (node, port)}), output_spans, dims ({name: value}),
train (TrainConfig or None), source (root file name), files (all files read), choices (a
choices.Choice per `choose(...)` or wormhole `enabled=` site: what each alternative would build).
"""

from __future__ import annotations

import networkx as nx

from seqnet.compiler.ops.catalog import load_ops
from seqnet.compiler.ops.registry import OpCall
from seqnet.compiler.types import TensorType


def new_graph() -> nx.MultiDiGraph:
    g = nx.MultiDiGraph()
    g.graph.update(inputs=[], outputs={}, output_spans={}, dims={}, train=None, files=[], choices=[])
    return g


def is_input(g: nx.MultiDiGraph, node: str) -> bool:
    """A spec input (or a region's input): a node no op computes, listed in graph["inputs"]."""
    return node in g.graph["inputs"]


def node_call(g: nx.MultiDiGraph, node: str) -> OpCall:
    """The OpCall a node's op rules saw when it was built (its argument types and attributes,
    defaults filled in), for rules read after elaboration (`OpDef.temporaries`)."""
    d = g.nodes[node]
    op = load_ops()[d["op"]]
    inputs = {}
    for arg, ref in d["args"]:
        if isinstance(ref, tuple) and len(ref) == 2 and isinstance(ref[0], str):
            inputs[arg] = output_type(g, ref)
        else:
            inputs[arg] = tuple(output_type(g, r) for r in ref)
    attrs = {a.name: d["attrs"].get(a.name, a.default) for a in op.attr_args}
    return OpCall(op, inputs, attrs)


def forward_edges(g: nx.MultiDiGraph):
    return ((u, v, k, d) for u, v, k, d in g.edges(keys=True, data=True) if not d.get("wormhole"))


def dag_view(g: nx.MultiDiGraph) -> nx.DiGraph:
    """The graph without its wormhole (back-) edges, as a plain DiGraph: a DAG in a valid spec."""
    dag = nx.DiGraph()
    dag.add_nodes_from(g)
    dag.add_edges_from((u, v) for u, v, w in g.edges(data="wormhole") if not w)
    return dag


def topo_order(g: nx.MultiDiGraph) -> list[str]:
    """Nodes in dependency order, ties broken by creation order: the same every run."""
    order = nx.get_node_attributes(g, "order")
    return list(nx.lexicographical_topological_sort(dag_view(g), key=lambda n: order.get(n, 0)))


def output_type(g: nx.MultiDiGraph, ref: tuple[str, int]) -> TensorType:
    node, port = ref
    return g.nodes[node]["outputs"][port]


def param_count(g: nx.MultiDiGraph, node: str) -> int:
    """Parameters a node owns (shared nodes own none: they use another's)."""
    data = g.nodes[node]
    if data["param_owner"] != node:
        return 0
    total = sum(p.size for p in data["params"].values())
    for region in (data.get("regions") or {}).values():
        total += sum(param_count(region, n) for n in region.nodes) * region.graph.get("copies", 1)
    return total


def total_params(g: nx.MultiDiGraph) -> int:
    return sum(param_count(g, n) for n in g.nodes)
