"""Diagrams coloured by how the train section's sharding splits each node's parameters."""

from __future__ import annotations

import re

import seqnet
from seqnet.backends.graphviz import to_dot
from seqnet.backends.graphviz.splits import PALETTE, PLAIN, WHOLE

SPEC = """dim N = 4
input x : int32[N] vocab 2
e = embed(x, 32, vocab=16)
h = layernorm(attention(e, heads=2) + e)
h = dense(h, 64, act=tanh)
output y : float32[2] = dense(mean(h), 2)
train {
  data = task.parity(N)
  loss = cross_entropy(y, label)
  mesh = mesh(data=-1, model=4)
  sharding = sharding(dense=columns(model), attention=heads(model), nodes=nodes(y=replicated),
                      fsdp=data, fsdp_min=1024)
}
"""


def fills(dot: str) -> dict[str, str]:
    """{node id: fillcolor} of the DOT text's nodes."""
    found = re.finditer(r'^\s*"(\w+)" \[id="\w+".*?fillcolor="([^"]+)"', dot, re.M)
    return {m.group(1): m.group(2) for m in found}


def test_nodes_are_filled_by_the_mesh_axes_their_parameters_use():
    model = seqnet.loads(SPEC)
    dot = to_dot(model.graph, color_by="sharding")
    f = fills(dot)
    # heads over model, and fsdp over data for the [32, 32] projections (1,024 elements each)
    assert f["attention"] == PALETTE[0][0]
    assert f["h_1"] == f["attention"]  # w: [data, model]
    assert f["e"] == WHOLE[0]  # the table [16, 32]: under fsdp_min, and no embedding rule
    assert f["h"] == WHOLE[0] and f["y"] == WHOLE[0]
    assert f["mean"] == PLAIN[0] and f["add"] == PLAIN[0]
    assert f["x"] not in (PLAIN[0], WHOLE[0])  # the input keeps its io colour
    assert "split over data x model" in dot and "replicated" in dot
    assert ">attention</TD>" not in dot  # op families leave the legend
    assert PALETTE[1][0] not in f.values()  # one split kind drawn: one colour


def test_the_default_drawing_is_unchanged():
    model = seqnet.loads(SPEC)
    assert to_dot(model.graph) == to_dot(model.graph, color_by="family")
    assert "split over" not in to_dot(model.graph)
