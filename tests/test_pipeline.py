"""The pipeline as named stages: `run(spec, until=...)` stops where asked, or at the first stage
that reports an error, and `--emit` is driven from the same list."""

from __future__ import annotations

import gc

import networkx as nx
import pytest

from seqnet import emit, pipeline
from seqnet.compiler import ir
from seqnet.source import SourceFile

GOOD = "input x : float32[4]\noutput y : float32[2] = dense(x, 2)\n"


def _src(text: str) -> SourceFile:
    return SourceFile("s.seqnet", text)


def test_the_stages_in_order():
    assert pipeline.STAGE_NAMES == ("read", "parse", "elaborate", "infer", "verify")
    assert {stage for stage, _ in emit.EMITTERS.values()} <= set(pipeline.STAGE_NAMES)


@pytest.mark.parametrize("until, has_module, has_graph", [
    ("read", False, False), ("parse", True, False), ("elaborate", True, True), ("infer", True, True),
    ("verify", True, True),
])  # fmt: skip
def test_run_stops_after_until(until, has_module, has_graph):
    c = pipeline.run(_src(GOOD), until=until)
    assert c.stage == until and not c.failed
    assert (c.module is not None) == has_module
    assert (c.graph is not None) == has_graph
    if has_graph:
        assert nx.is_frozen(c.graph) == (until == "verify")


def test_run_stops_at_the_failing_stage(tmp_path):
    c = pipeline.run(_src("input x : float32[4]\noutput y = densee(x, 2)\n"))
    assert c.failed and c.stage == "elaborate"
    assert [d.code for d in c.diagnostics] == ["SQN0102"]
    c = pipeline.run(tmp_path / "missing.seqnet")
    assert c.failed and c.stage == "read" and c.diagnostics[0].code == "SQN0004"


def test_an_unknown_stage_is_refused():
    with pytest.raises(ValueError, match="stages: read, parse, elaborate, infer, verify"):
        pipeline.run(_src(GOOD), until="optimise")


def test_a_stage_that_builds_a_malformed_graph_is_named(monkeypatch):
    def broken(c):
        real(c)
        c.graph.nodes["y"]["colour"] = "red"

    real = pipeline._elaborate
    stages = tuple(pipeline.Stage(s.name, broken if s.name == "elaborate" else s.run, s.builds_graph)
                   for s in pipeline.STAGES)  # fmt: skip
    monkeypatch.setattr(pipeline, "STAGES", stages)
    with pytest.raises(ir.IRError, match="after 'elaborate'"):
        pipeline.run(_src(GOOD))
    assert not pipeline.run(_src(GOOD), until="verify", verify_ir=False).failed


def test_the_collector_is_paused_while_the_stages_run_and_left_as_it_was(monkeypatch):
    seen = []
    real = ir.verify

    def verify(graph, stage):
        seen.append(gc.isenabled())
        return real(graph, stage)

    monkeypatch.setattr(ir, "verify", verify)
    assert gc.isenabled()
    assert not pipeline.run(_src(GOOD)).failed
    assert seen and not any(seen) and gc.isenabled()
    with pytest.raises(ir.IRError):  # a stage that raises: the collector is back on all the same
        monkeypatch.setattr(ir, "verify", lambda g, s: (_ for _ in ()).throw(ir.IRError(s, ["x"])))
        pipeline.run(_src(GOOD))
    assert gc.isenabled()
    monkeypatch.setattr(ir, "verify", real)
    gc.disable()
    try:  # off before: still off after
        pipeline.run(_src(GOOD))
        assert not gc.isenabled()
    finally:
        gc.enable()
