"""The IR schema: every compiled graph conforms and is frozen; the verifier catches each kind of
malformed node and names the stage that produced it."""

from __future__ import annotations

import pickle
from pathlib import Path

import networkx as nx
import pytest

from seqnet.compiler import ir
from seqnet.model import loads
from seqnet.pipeline import compile_path

ROOT = Path(__file__).resolve().parents[2]
SPECS = sorted((ROOT / "specs").glob("*.seqnet"))

SPEC = """\
input x : float32[8]
h = dense(x, 4, act=relu)
output y : float32[2] = dense(h + h, 2)
"""


def _fresh():
    """An unfrozen copy of a compiled graph to break on purpose (deep: regions and dicts too)."""
    g = loads(SPEC).graph
    out = nx.MultiDiGraph(g)
    for n in out.nodes:
        d = out.nodes[n]
        for key in ("attrs", "params"):
            d[key] = dict(d[key])
    out.graph.update({k: v for k, v in g.graph.items()})
    return out


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_every_shipped_spec_conforms_and_is_frozen(spec):
    g, diags, _ = compile_path(spec)
    assert g is not None, diags
    assert ir.problems(g) == []
    assert nx.is_frozen(g)
    with pytest.raises(nx.NetworkXError):
        g.add_node("intruder")
    for name in g.nodes:
        record = ir.node(g, name)
        assert record.op == g.nodes[name]["op"]
        with pytest.raises(TypeError):
            record.attrs["act"] = "gelu"  # type: ignore[index]
        for region in (record.regions or {}).values():
            assert nx.is_frozen(region)


def test_a_frozen_graph_still_pickles():
    g = loads(SPEC).graph
    back = pickle.loads(pickle.dumps(g))
    assert sorted(back.nodes) == sorted(g.nodes)
    assert back.nodes["h"]["attrs"] == g.nodes["h"]["attrs"]


def _break(g, how):
    d = g.nodes["h"]
    if how == "missing field":
        del d["flops"]
    elif how == "unknown field":
        d["colour"] = "red"
    elif how == "unknown op":
        d["op"] = "densee"
    elif how == "bad outputs":
        d["outputs"] = ("float32[4]",)
    elif how == "dangling ref":
        d["args"] = (("x", ir.Ref("nowhere", 0)),)
    elif how == "port out of range":
        d["args"] = (("x", ir.Ref("x", 3)),)
    elif how == "plain tuple ref":
        d["args"] = (("x", ("x", 0)),)
    elif how == "ref without edge":
        g.remove_edge("x", "h")
    elif how == "edge without ref":
        g.add_edge("x", "h", arg="x", index=1, port=0, type=g.nodes["x"]["outputs"][0], wormhole=False)
    elif how == "unknown attribute":
        d["attrs"]["colour"] = 1
    elif how == "bad param":
        d["params"]["w"] = (8, 4)
    elif how == "shared shapes differ":
        out = [n for n in g.nodes if g.nodes[n]["op"] == "dense" and n != "h"][0]
        g.nodes[out]["param_owner"] = "h"
    elif how == "lost output":
        g.graph["outputs"]["y"] = ir.Ref("h", 5)
    elif how == "plain tuple output":
        g.graph["outputs"]["y"] = ("h", 0)
    else:  # pragma: no cover
        raise AssertionError(how)


CASES = {
    "missing field": "lacks flops",
    "unknown field": "fields the IR does not define: colour",
    "unknown op": "op 'densee', which the registry does not define",
    "bad outputs": "outputs must be a non-empty tuple of TensorType",
    "dangling ref": "reads nowhere:0, which does not exist",
    "port out of range": "reads x:3, which does not exist",
    "ref without edge": "reads x:0, but no edge carries it",
    "edge without ref": "an edge from x:0 into argument 'x' (index 1) is no argument",
    "unknown attribute": "attributes colour are not arguments of dense",
    "bad param": "params must map names to ParamSpec",
    "shared shapes differ": "shares parameters with 'h', but their shapes differ",
    "lost output": "output 'y' reads h:5, which does not exist",
    "plain tuple ref": "argument 'x' reads ('x', 0), which is not a Ref(node, port)",
    "plain tuple output": "output 'y' is ('h', 0), not a Ref(node, port)",
}


@pytest.mark.parametrize("how", sorted(CASES))
def test_the_verifier_catches_a_malformed_graph_and_names_the_stage(how):
    g = _fresh()
    assert ir.problems(g) == []
    _break(g, how)
    with pytest.raises(ir.IRError) as info:
        ir.verify(g, "my pass")
    assert "after 'my pass'" in str(info.value)
    assert any(CASES[how] in p for p in info.value.problems), info.value.problems


def test_regions_are_verified_too():
    from seqnet.pipeline import compile_path

    g, diags, _ = compile_path(ROOT / "specs" / "fen_parity.seqnet")
    assert g is not None, diags
    seg = next(n for n in g.nodes if g.nodes[n].get("regions"))
    region = nx.MultiDiGraph(g.nodes[seg]["regions"]["token"])
    some = next(n for n in region.nodes if region.nodes[n]["op"] != ir.INPUT)
    region.nodes[some]["order"] = "first"
    host = _fresh()
    host.nodes["h"]["regions"] = {"token": region}
    found = ir.problems(host)
    assert any(p.startswith("region 'token' of 'h': ") and "order is str" in p for p in found), found

