"""Elaboration: names, sharing, overrides, determinism, segment structures, wormholes, summary."""

from __future__ import annotations

import math
from pathlib import Path

import networkx as nx
import pytest

import seqnet
from seqnet.compiler import segments as seg
from seqnet.compiler.graph import dag_view
from seqnet.compiler.summary import summarize
from seqnet.pipeline import compile_path, compile_source
from seqnet.source import SourceFile

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "specs"


def compile_text(text, **overrides):
    graph, diags = compile_source(SourceFile("t.seqnet", text), {k: str(v) for k, v in overrides.items()})
    return graph, diags


def ok(text, **overrides):
    graph, diags = compile_text(text, **overrides)
    assert graph is not None, "\n\n".join(d.render() for d in diags)
    return graph


def errors(text, **overrides):
    graph, diags = compile_text(text, **overrides)
    assert graph is None
    return [d for d in diags if d.severity == "error"]


BLOCKS = """\
block mlp(x, out, hidden=16) {
  h = dense(x, hidden, act=relu)
  return dense(h, out)
}

input x : float32[4]
a = mlp(x, 8)
a = repeat 3 { mlp(a, 8) }
a = repeat 2 shared { dense(a, 8) }
output y : float32[8] = a
"""


def test_hierarchical_names_for_blocks_and_repeats():
    g = ok(BLOCKS)
    names = list(g.nodes)
    assert names[:3] == ["x", "a/h", "a/dense"], names  # a block call is named after its target
    for i in range(3):
        assert f"a_1/{i}/mlp/h" in names, names
    assert "a_2/0/dense" in names and "a_2/1/dense" in names
    for n, a in g.nodes(data=True):
        if n.startswith("a_1/"):
            assert a["path"][:2] == ("a_1", n.split("/")[1])
            assert a["repeats"][0][:3] == ("a_1", int(n.split("/")[1]), 3)
            assert "mlp" in a["path"] and a["chain"]


def test_unshared_repeat_owns_its_params_and_shared_repeat_shares():
    g = ok(BLOCKS)
    owners_b = {a["param_owner"] for n, a in g.nodes(data=True) if n.startswith("a_1/") and a["params"]}
    assert len(owners_b) == 6  # 3 copies x 2 dense
    shared = [(n, a["param_owner"]) for n, a in g.nodes(data=True) if n.startswith("a_2/")]
    assert len(shared) == 2
    assert shared[0][1] == shared[1][1] == shared[0][0]
    data = summarize(g)
    # the shared copies count once
    dense = lambda i, o: i * o + o  # noqa: E731
    expected = (dense(4, 16) + dense(16, 8)) + 3 * (dense(8, 16) + dense(16, 8)) + dense(8, 8)
    assert data["total_params"] == expected


def test_summary_params_of_dense():
    g = ok("input x : float32[7]\noutput y : float32[5] = dense(x, 5)\n")
    data = summarize(g)
    assert data["total_params"] == 7 * 5 + 5
    node = [n for n in data["nodes"] if n["name"] != "x"][0]
    assert node["params"] == 40 and node["op"] == "dense"
    g = ok("input x : float32[7]\noutput y : float32[5] = dense(x, 5, bias=false)\n")
    assert summarize(g)["total_params"] == 35


def test_summary_counts_only_the_weights_a_cluster_mask_uses():
    text = ("input adj : float32[4, 4]\ninput x : float32[12]\n"
            "output y : float32[8] = masked_dense(x, adj, copies=2, mask={mask})\n")  # fmt: skip
    # adjacency: any A may enable any edge, so the whole (3 * 4, 2 * 4) W is trained;
    # cluster: only node i's (3, 2) block of input copies to output copies
    assert summarize(ok(text.format(mask="adjacency")))["total_params"] == 12 * 8
    assert summarize(ok(text.format(mask="cluster")))["total_params"] == 4 * 3 * 2


OVERRIDE = "dim N = 4\ndim H = 8\ninput x : float32[N]\noutput y : float32[H] = dense(x, H)\n"


def test_overrides_change_shapes():
    g = ok(OVERRIDE, H=16, N=3)
    assert g.graph["dims"] == {"N": 3, "H": 16}
    assert summarize(g)["total_params"] == 3 * 16 + 16
    m = seqnet.loads(OVERRIDE, N=5)
    assert str(m.inputs["x"]).startswith("float32[") and m.graph.graph["dims"]["N"] == 5
    assert m.outputs["y"].dims[-1] == 8 if hasattr(m.outputs["y"], "dims") else True


def test_unknown_override_is_an_error():
    errs = errors(OVERRIDE, Q=3)
    assert errs and "Q" in errs[0].message
    with pytest.raises(seqnet.SpecError):
        seqnet.loads(OVERRIDE, NN=3)


def test_bad_override_value_is_an_error():
    assert errors(OVERRIDE, N=0)
    assert errors(OVERRIDE, N="abc")


@pytest.mark.parametrize("spec", sorted(SPECS.glob("*.seqnet")), ids=lambda p: p.name)
def test_graph_is_deterministic(spec):
    g1, _, _ = compile_path(spec)
    g2, _, _ = compile_path(spec)
    assert list(g1.nodes) == list(g2.nodes)
    assert [(u, v, k) for u, v, k in g1.edges(keys=True)] == [(u, v, k) for u, v, k in g2.edges(keys=True)]
    orders = [a["order"] for _, a in g1.nodes(data=True)]
    assert orders == sorted(orders)


# -- segment structures ---------------------------------------------------------------------------

@pytest.mark.parametrize("n", range(1, 41))
def test_binary_tree_is_valid_and_small(n):
    s = seg.binary_tree(n)
    assert seg.validate(s) == []
    size = len(s.segments)
    assert size <= n * (math.ceil(math.log2(n)) + 1) + n if n > 1 else size == 1
    assert len(set(s.segments)) == size
    for i in range(1, n + 1):
        assert (1, i) in s.segments and (i, n) in s.segments


@pytest.mark.parametrize(
    "n,triples,fragment",
    [
        (3, [(1, 2, 1), (1, 3, 1), (2, 3, 2), (0, 3, 1)], "not within"),
        (3, [(1, 2, 1), (1, 3, 1), (2, 3, 2), (2, 2, 2)], "one token"),
        (3, [(1, 2, 1), (1, 3, 3), (2, 3, 2)], "not in [1, 2]"),
        (4, [(1, 2, 1), (1, 3, 2), (1, 4, 1), (2, 4, 3), (3, 4, 3)], "(2, 3) is not in S"),
        (3, [(1, 2, 1), (1, 3, 2)], "(2, 3) is missing"),
        (3, [(2, 3, 2), (1, 3, 2)], "(1, 2) is missing"),
    ],
)
def test_custom_structures_violating_each_property_are_rejected(n, triples, fragment):
    problems = seg.validate(seg.custom(n, triples))
    assert problems and any(fragment in p for p in problems), problems


def test_valid_custom_structure_accepted():
    assert seg.validate(seg.custom(3, [(1, 2, 1), (1, 3, 1), (2, 3, 2)])) == []


def test_invalid_custom_structure_in_a_spec_is_an_error():
    text = (SPECS / "fen_parity.seqnet").read_text().replace(
        "binary_tree(N)", "custom(N, [[1, 2, 1]])")
    errs = errors(text)
    assert errs[0].code == "SQN0403"


# -- wormholes ------------------------------------------------------------------------------------

def test_wormhole_edge_flagged_and_rest_is_a_dag():
    g, _, _ = compile_path(SPECS / "wormhole_digits.seqnet")
    worm = [(u, v) for u, v, a in g.edges(data=True) if a.get("wormhole")]
    assert len(worm) == 1
    assert worm[0][1] == "h1"
    assert not nx.is_directed_acyclic_graph(g)
    assert nx.is_directed_acyclic_graph(dag_view(g))
    plain = nx.MultiDiGraph(g)
    plain.remove_edges_from([(u, v, k) for u, v, k, a in g.edges(keys=True, data=True) if a.get("wormhole")])
    assert nx.is_directed_acyclic_graph(plain)


def test_an_import_path_too_long_for_the_file_system_is_a_located_diagnostic(tmp_path):
    """Found by tests/drills/test_fuzz_drill.py: pathlib's exists() lets ENAMETOOLONG through."""
    name = "x" * 300 + ".seqnet"  # one path component over every file system's 255-byte limit
    spec = tmp_path / "m.seqnet"
    text = f'import "{name}"\ninput x : float32[2]\noutput y : float32[2] = x\n'
    spec.write_text(text)
    graph, diags, _ = compile_path(spec)
    assert graph is None
    [d] = [d for d in diags if d.severity == "error"]
    assert d.code == "SQN0201" and "File name too long" in d.message
    assert (d.span.line, d.span.column) == (1, 8)
