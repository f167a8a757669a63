"""The shape-inference pass (compiler/shapes.py): the registry's rules alone type every node the
same way elaboration did, fill in a graph built without types, and catch a recorded type, a
parameter shape, a cost or an edge type that disagrees with them, naming the stage."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import networkx as nx
import pytest

from seqnet import pipeline
from seqnet.compiler import ir
from seqnet.compiler.ops.registry import ParamSpec
from seqnet.compiler.shapes import infer
from seqnet.compiler.types import TensorType
from seqnet.source import SourceFile

SPECS = sorted(Path(__file__).resolve().parents[2].glob("specs/*.seqnet"))


def _elaborated(path) -> nx.MultiDiGraph:
    c = pipeline.run(path, until="elaborate")
    assert not c.failed, c.diagnostics
    return c.graph


def _regions(g):
    yield g
    for n in g.nodes:
        for region in (g.nodes[n].get("regions") or {}).values():
            yield from _regions(region)


def _strip(g: nx.MultiDiGraph) -> None:
    """Forget every type, parameter and cost a builder recorded (regions included)."""
    for graph in _regions(g):
        for d in graph.nodes.values():
            if d["op"] != ir.INPUT:
                d.update(outputs=(), params={}, flops=0)
        for _u, _v, e in graph.edges(data=True):
            e.pop("type", None)


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_the_rules_alone_retype_every_shipped_spec(spec):
    elaborated = _elaborated(spec)
    stripped = copy.deepcopy(elaborated)
    _strip(stripped)
    infer(stripped)
    for want, got in zip(_regions(elaborated), _regions(stripped)):
        for n in want.nodes:
            a, b = ir.node(want, n), ir.node(got, n)
            assert b.outputs == a.outputs, n
            assert {k: p.shape for k, p in b.params.items()} == {k: p.shape for k, p in a.params.items()}
            assert b.flops == a.flops, n
        assert [e.get("type") for *_, e in got.edges(data=True)] == \
               [e.get("type") for *_, e in want.edges(data=True)]  # fmt: skip
    ir.verify(stripped, "test")  # the filled-in graph is a well-formed IR


GOOD = "input x : float32[4]\nh = dense(x, 8)\noutput y : float32[2] = dense(h, 2)\n"


def _good():
    return pipeline.run(SourceFile("s.seqnet", GOOD), until="elaborate").graph


@pytest.mark.parametrize("damage, message", [
    (lambda g: g.nodes["h"].update(outputs=(TensorType.of("float32", [9]),)),
     r"node 'h' \(dense\) records float32\[9\], but its rule gives float32\[8\]"),
    (lambda g: g.nodes["h"].update(params={"w": ParamSpec((4, 9), "glorot_uniform"), "b": ParamSpec((8,), "zeros")}),
     r"node 'h' \(dense\) records parameters"),
    (lambda g: g.nodes["h"].update(flops=1),
     r"node 'h' \(dense\) records 1 FLOPs, but its rule gives"),
    (lambda g: next(e for u, _v, e in g.edges(data=True) if u == "h").update(type=TensorType.of("float32", [3])),
     r"the edge from 'h' carries float32\[3\], but 'h' gives float32\[8\]"),
])  # fmt: skip
def test_a_disagreement_is_an_ir_error_naming_the_stage(damage, message):
    g = _good()
    damage(g)
    with pytest.raises(ir.IRError, match="after 'infer'") as err:
        infer(g)
    assert any(re.search(message, p) for p in err.value.problems), err.value.problems


def test_the_pipeline_runs_the_pass_between_elaborate_and_verify(monkeypatch):
    real = pipeline._elaborate

    def wrong_types(c):
        real(c)
        c.graph.nodes["h"]["outputs"] = (TensorType.of("float32", [9]),)

    stages = tuple(pipeline.Stage(s.name, wrong_types if s.name == "elaborate" else s.run,
                                  s.builds_graph) for s in pipeline.STAGES)  # fmt: skip
    monkeypatch.setattr(pipeline, "STAGES", stages)
    with pytest.raises(ir.IRError, match="after 'infer'"):
        pipeline.run(SourceFile("s.seqnet", GOOD))
