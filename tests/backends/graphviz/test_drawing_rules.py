"""Drawing rules: every op of the registry is drawn by a rule registered against it or by its
family's default, the generic drawing code never looks at op names, and what the diagram says
comes from the IR (a repeat's parameters agree with the copy its nodes show)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import seqnet
from seqnet.backends.graphviz import to_dot
from seqnet.backends.graphviz.rules.base import BACKEND, FAMILY_RULES, NodeRule
from seqnet.backends.graphviz.rules.lookup import rule_for_op
from seqnet.compiler.ops.catalog import load_ops
from seqnet.compiler.ops.registry import FAMILY_STYLES, OPS
from tests.op_names import op_name_comparisons

GRAPHVIZ = Path(seqnet.__file__).parent / "backends" / "graphviz"


@pytest.mark.parametrize("op", sorted(load_ops()))
def test_every_op_has_a_drawing_rule(op):
    d = OPS[op]
    rule = rule_for_op(op)
    assert isinstance(rule, NodeRule)
    if BACKEND in d.drawings:
        assert rule is d.drawings[BACKEND]
    else:
        assert rule is FAMILY_RULES[d.family]  # the family default
    # what the rule shows on lines of its own are attributes the op has
    assert set(rule.shown_elsewhere) <= {a.name for a in d.attr_args}, op


def test_every_family_has_a_default_rule():
    assert set(FAMILY_RULES) == set(FAMILY_STYLES)


@pytest.mark.parametrize("op", ["segments", "wormhole_gate", "lstm", "gru", "rnn",
                                "simplicial_attention"])  # fmt: skip
def test_special_ops_have_their_own_rule(op):
    rule = OPS[op].drawings.get(BACKEND)
    assert rule is not None and rule not in FAMILY_RULES.values()


@pytest.mark.parametrize("path", sorted(GRAPHVIZ.glob("*.py")), ids=lambda p: p.name)
def test_generic_drawing_code_compares_no_op_names(path):
    assert op_name_comparisons(path) == []


def test_the_name_check_finds_op_name_comparisons(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text('def f(op):\n    return op == "dense" or op in ("lstm", "gru")\n')
    assert len(op_name_comparisons(bad)) == 3


# --- facts from the IR ---------------------------------------------------------------------------

SEGMENTS = """\
dim N = 4
input x : int32[N] vocab 2
block enc(x) { return dense(x, 8, act=relu) }
block fuse(l, r) { return dense(concat(l, r), 8) }
block head(p, s, q) { return dense(concat(p, s, q), 2) }
segments tree = binary_tree(N) {
  token = enc()
  fusion = fuse()
  decoder = head()
}
output y : float32[2] = tree(embed(x, 8))
"""


def test_segments_title_names_the_statement_from_the_ir():
    g = seqnet.loads(SEGMENTS, name="s.sqn").graph
    (n,) = [n for n in g.nodes if g.nodes[n]["op"] == "segments"]
    assert g.nodes[n]["structure_name"] == "tree"
    g.nodes[n]["span"] = None  # the source is not read again: the name is in the IR
    assert "segments tree = binary_tree(N=4)" in to_dot(g)


NON_SHARED = """\
input x : float32[4, 8]
block mlp(x) {
  h = dense(x, 16, act=relu)
  return dense(h, 8)
}
h = dense(x, 8)
h = repeat 2 { mlp(h) + h }
output y : float32[4, 8] = h
"""


def _node_params(dot: str, prefix: str) -> int:
    labels = re.findall(rf'^\s*"{prefix}[^"]*" \[id="[^"]*", label="[^"]*\\n([\d,]+) params"',
                        dot, flags=re.M)  # fmt: skip
    return sum(int(x.replace(",", "")) for x in labels)


def test_non_shared_repeat_label_agrees_with_its_nodes():
    """A repeat is drawn as copy 0: its title gives that copy's parameters times the copies,
    and a block inside it one copy's, as the nodes drawn there show."""
    g = seqnet.loads(NON_SHARED, name="r.sqn").graph
    dot = to_dot(g)
    shown = _node_params(dot, "h_1_0_")
    assert shown == 144 + 136
    assert 'label="repeat ×2  ·  2 × 280 params"' in dot
    assert 'label="mlp  ·  280 params"' in dot
    # the total is unchanged: the title of the whole diagram counts both copies
    assert "r.sqn  ·  632 params" in dot  # 72 + 2 * 280
    collapsed = to_dot(g, depth=0)
    assert "repeat ×2\\n3 ops ×2\\n2 × 280 params" in collapsed
    assert "(collapsed): 6 ops, 560 params" in collapsed  # the tooltip: every copy


def test_shared_repeat_label_counts_one_set():
    g = seqnet.loads(NON_SHARED.replace("repeat 2 {", "repeat 2 shared {"), name="r.sqn").graph
    dot = to_dot(g)
    assert 'label="repeat ×2, shared  ·  280 params"' in dot
    assert "r.sqn  ·  352 params" in dot


def test_unrolled_cells_never_outnumber_a_named_length():
    g = seqnet.loads("dim T = 5\ninput x : float32[T, 4]\nh = lstm(x, 8)\n"
                     "output y : float32[T, 8] = h\n").graph  # fmt: skip
    dot = to_dot(g, unroll=9)
    assert "lstm t=5" in dot and "lstm t=6" not in dot and "…" not in dot
    assert "step t=1 of T" in dot
    assert "… t=3..T" in to_dot(g, unroll=2)
