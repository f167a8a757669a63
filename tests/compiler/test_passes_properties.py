"""Property-based tests of the graph passes on random graphs: the cycle check accepts a graph
exactly when every cycle runs through a wormhole edge, and topo_order is a valid, deterministic
dependency order."""

import networkx as nx
from hypothesis import given
from hypothesis import strategies as st

from seqnet.compiler.graph import dag_view, new_graph, topo_order
from seqnet.compiler.types import TensorType
from seqnet.compiler.verify import check_cycles
from seqnet.errors import Reporter
from seqnet.source import SourceFile, point

SRC = SourceFile("g.seqnet", "x\n")


@st.composite
def graphs(draw):
    """A random multigraph: forward edges (i < j), and some back-edges, each maybe a wormhole."""
    n = draw(st.integers(2, 12))
    g = new_graph()
    for i in range(n):
        g.add_node(f"n{i}", op="relu", attrs={}, args=(), outputs=(TensorType.of("float32", [4]),),
                   params={}, param_owner=f"n{i}", flops=0, span=point(SRC, 1, 1), chain=(),
                   path=(), label=None, repeats=(), order=i)  # the IR's fields (compiler/ir.py)
    pairs = st.tuples(st.integers(0, n - 1), st.integers(0, n - 1))
    for a, b in draw(st.lists(pairs, max_size=3 * n)):
        if a < b:
            g.add_edge(f"n{a}", f"n{b}", wormhole=False)
    for a, b in draw(st.lists(pairs, max_size=3)):
        if a > b:
            g.add_edge(f"n{a}", f"n{b}", wormhole=draw(st.booleans()))
    return g


def _plain_back_edge_on_a_cycle(g) -> bool:
    """Independent reference: is there a cycle using only non-wormhole edges?"""
    plain = nx.DiGraph((u, v) for u, v, w in g.edges(data="wormhole") if not w)
    plain.add_nodes_from(g)
    return not nx.is_directed_acyclic_graph(plain)


@given(graphs())
def test_cycle_check_matches_the_reference(g):
    reporter = Reporter()
    check_cycles(g, reporter)
    assert reporter.has_errors == _plain_back_edge_on_a_cycle(g)
    if reporter.has_errors:
        d = reporter.diagnostics[0]
        assert d.code == "SQN0401" and "->" in d.message


@given(graphs())
def test_topo_order_is_a_valid_deterministic_order(g):
    if not nx.is_directed_acyclic_graph(dag_view(g)):
        return
    order = topo_order(g)
    assert sorted(order) == sorted(g.nodes)
    position = {n: i for i, n in enumerate(order)}
    for u, v in dag_view(g).edges():
        assert position[u] < position[v]
    assert order == topo_order(g.copy())
    # ties broken by creation order: a graph without edges comes out in creation order
    bare = new_graph()
    for n in sorted(g.nodes, key=lambda n: -g.nodes[n]["order"]):
        bare.add_node(n, order=g.nodes[n]["order"])
    assert topo_order(bare) == sorted(bare.nodes, key=lambda n: bare.nodes[n]["order"])
