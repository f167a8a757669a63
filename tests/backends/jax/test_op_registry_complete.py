"""A complete registry: everything about an op lives in its entry or in the rules registered
against it. Every op has a JAX lowering, a graphviz drawing rule and a cost rule, and the generic
code of the JAX backend and of the compiler compares no op names (an op's own files in
compiler/ops/ and backends/jax/ops/ are where its name belongs)."""

from __future__ import annotations

from pathlib import Path

import pytest

import seqnet
from seqnet.backends.graphviz.rules.base import NodeRule
from seqnet.backends.graphviz.rules.lookup import rule_for_op
from seqnet.backends.jax import lower as _lower  # noqa: F401  (registers the JAX rules)
from seqnet.backends.jax.context import NodeProgram, ProgramRule
from seqnet.compiler.ops.catalog import load_ops
from seqnet.compiler.ops.registry import OPS
from tests.op_names import op_name_comparisons

PACKAGE = Path(seqnet.__file__).parent
GENERIC = sorted([*(PACKAGE / "backends" / "jax").glob("*.py"), *(PACKAGE / "compiler").glob("*.py")])


@pytest.mark.parametrize("op", sorted(load_ops()))
def test_every_op_has_a_lowering_a_drawing_and_a_cost_rule(op):
    d = OPS[op]
    rule = d.lowerings.get("jax")
    assert callable(rule) or isinstance(rule, ProgramRule), op
    assert isinstance(rule_for_op(op), NodeRule), op
    assert d.has_cost_rule, f"{op}: state its FLOPs (zero_flops if it only moves data)"


def test_segments_lowers_through_a_program_rule():
    rule = OPS["segments"].lowerings["jax"]
    assert isinstance(rule, ProgramRule)
    assert issubclass(rule.build, NodeProgram)


@pytest.mark.parametrize("path", GENERIC, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_generic_code_compares_no_op_names(path):
    assert op_name_comparisons(path) == []


def test_the_generic_files_are_found():
    names = {f"{p.parent.name}/{p.name}" for p in GENERIC}
    assert {"jax/lower.py", "jax/repeats.py", "jax/losses.py", "compiler/elaborate.py",
            "compiler/verify.py"} <= names  # fmt: skip
    assert not any(p.parent.name == "ops" for p in GENERIC)


def test_the_name_check_finds_op_name_comparisons(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text('def f(d, op):\n    return d["op"] == "segments" or op not in ["input", "gru"]\n'
                   '    x = "relu" if op is None else "other"\n')  # fmt: skip
    assert op_name_comparisons(bad) == ["bad.py:2: 'segments'", "bad.py:2: 'input'",
                                        "bad.py:2: 'gru'"]  # fmt: skip


@pytest.mark.parametrize("op, attrs, probabilities", [
    ("softmax", {"axis": -1}, True),
    ("sigmoid", {}, True),
    ("relu", {}, False),
    ("log_softmax", {"axis": -1}, False),
    ("dense", {"act": "softmax"}, True),
    ("dense", {"act": "sigmoid"}, True),
    ("dense", {"act": "tanh"}, False),
    ("dense", {"act": "none"}, False),
    ("attention", {}, False),
])  # fmt: skip
def test_probabilities_are_a_fact_of_the_op(op, attrs, probabilities):
    assert OPS[op].gives_probabilities(attrs) is probabilities


def test_output_is_probability_reads_the_registry():
    from seqnet.backends.jax.losses import output_is_probability

    g = seqnet.loads("input x : float32[4]\nh = dense(x, 3, act=softmax)\n"
                     "p = sigmoid(dense(x, 1))\noutput y : float32[3] = h\n"
                     "output z : float32[1] = p\noutput w : float32[4] = x\n"
                     "output v : float32[3] = dense(x, 3)\n").graph  # fmt: skip
    got = {o: output_is_probability(g, o) for o in ("y", "z", "w", "v", "missing")}
    assert got == {"y": True, "z": True, "w": False, "v": False, "missing": False}
