"""Graph passes run after elaboration: structural checks (errors) and lint (warnings)."""

from __future__ import annotations

import networkx as nx

from seqnet.compiler.graph import dag_view, is_input
from seqnet.compiler.ir import node as ir_node
from seqnet.errors import Note, Reporter


def check_cycles(g: nx.MultiDiGraph, reporter: Reporter) -> None:
    """Without its wormhole edges the graph must be a DAG: every cycle passes through a wormhole."""
    dag = dag_view(g)
    if nx.is_directed_acyclic_graph(dag):
        return
    cycle = [u for u, _v, *_ in nx.find_cycle(dag)]
    spans = [ir_node(g, n).span for n in cycle]
    reporter.error(
        "SQN0401", "cycle without a wormhole: " + " -> ".join(cycle + cycle[:1]), spans[0],
        notes=tuple(Note(s, f"'{n}' is on the cycle") for n, s in zip(cycle[1:], spans[1:])),
        hint="a loop in the dataflow must go through a wormhole, which solves it to a fixed point",
    )  # fmt: skip


def check_wormholes(g: nx.MultiDiGraph, reporter: Reporter) -> None:
    for u, v, d in g.edges(data=True):
        if d.get("wormhole") and not nx.has_path(dag_view(g), v, u):
            reporter.error("SQN0402", f"wormhole into '{v}' closes no loop", d.get("span"))


def warn_unused(g: nx.MultiDiGraph, reporter: Reporter) -> None:
    outputs = {node for node, _ in g.graph["outputs"].values()}
    if not outputs:
        return
    live = set(outputs)
    for node in outputs:
        live |= nx.ancestors(g, node)
    for name in g.graph["inputs"]:
        if name not in live:
            reporter.warning("SQN0601", f"input '{name}' is never used", ir_node(g, name).span,
                             hint="remove it, or use it in the computation")  # fmt: skip
    reported_spans = set()
    for name in g.nodes:
        if name in live or is_input(g, name) or g.out_degree(name):
            continue
        rec = ir_node(g, name)
        span = rec.span
        if span in reported_spans or rec.repeats:
            continue
        reported_spans.add(span)
        what = f"'{rec.label}'" if rec.label else f"this {rec.op}"
        reporter.warning("SQN0602", f"the value of {what} is never used", span,
                         hint="it does not reach any output; remove it or use it")  # fmt: skip


PASSES = (check_cycles, check_wormholes, warn_unused)
