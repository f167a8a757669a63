"""The temporaries each op's lowering holds (OpDef.temporaries), counted to the byte, found in
the lowering's own program, and added to the memory estimate so that a long-sequence attention
spec is refused before XLA is asked for the memory."""

from __future__ import annotations

import jax
import jax.extend.core
import numpy as np
import pytest

import seqnet
from seqnet.backends.jax import memory
from seqnet.backends.jax import train as T
from seqnet.backends.jax.lower import lower
from seqnet.compiler.graph import node_call
from seqnet.compiler.ops.registry import OPS

CASES = {
    # self-attention, heads=4, N = M = 10: logits and weights 4 x 10 x 10 float32 each
    "attention": ("input x : float32[10, 16]\nh = attention(x, heads=4)\n"
                  "output y : float32[10, 16] = h\n",
                  {"scores 2 × 4 × 10 × 10": 2 * 4 * 10 * 10 * 4}),
    # cross-attention: 5 queries over 7 keys, heads=2
    "cross": ("input x : float32[5, 16]\ninput s : float32[7, 8]\nh = attention(x, heads=2, kv=s)\n"
              "output y : float32[5, 16] = h\n",
              {"scores 2 × 2 × 5 × 7": 2 * 2 * 5 * 7 * 4}),
    "float64": ("input x : float64[3, 4]\nh = attention(x, heads=2)\noutput y : float64[3, 4] = h\n",
                {"scores 2 × 2 × 3 × 3": 2 * 2 * 3 * 3 * 8}),
    # triple product over all pairs: N = S = 6, heads=2, d = 4; one block holds all pairs
    "triple": ("input x : float32[6, 8]\nh = simplicial_attention(x, heads=2)\n"
               "output y : float32[6, 8] = h\n",
               {"pair blocks 2 × 2 × 6 × 6 × 6": 2 * 2 * 6 * 6 * 6 * 4,
                "key-key dots 2 × 6 × 6": 2 * 6 * 6 * 4,
                "value sums 2 × 6 × 6 × 4": 2 * 6 * 6 * 4 * 4,
                "value outer products 2 × 6 × 4 × 4": 2 * 6 * 4 * 4 * 4}),
    # N = 256: streamed, 2 queries a block (2 x 256 x 256 x 2 heads = 2^18 elements), never the
    # 2 x 256^3 pair tensors of all queries
    "streamed": ("input x : float32[256, 8]\nh = simplicial_attention(x, heads=2)\n"
                 "output y : float32[256, 8] = h\n",
                 {"pair blocks 2 × 2 × 2 × 256 × 256": 2 * 2 * 2 * 256 * 256 * 4,
                  "key-key dots 2 × 256 × 256": 2 * 256 * 256 * 4,
                  "value sums 2 × 2 × 256 × 4": 2 * 2 * 256 * 4 * 4,
                  "value outer products 2 × 256 × 4 × 4": 2 * 256 * 4 * 4 * 4}),
    # trilinear over a causal window of 3: each chunk's keys gathered per query (l1, u; l2, u2)
    "window": ("input x : float32[6, 8]\nh = simplicial_attention(x, heads=2, variant=trilinear, "
               "window=3)\noutput y : float32[6, 8] = h\n",
               {"pair blocks 2 × 2 × 6 × 3 × 3": 2 * 2 * 6 * 3 * 3 * 4,
                "value sums 2 × 6 × 3 × 4": 2 * 6 * 3 * 4 * 4,
                "gathered keys 2 × 6 × (2 × 3 + 2 × 3) × 4": 2 * 6 * 12 * 4 * 4}),
    # a window longer than the sequence reads all 6 positions
    "long window": ("input x : float32[6, 8]\nh = simplicial_attention(x, heads=1, window=10)\n"
                    "output y : float32[6, 8] = h\n",
                    {"pair blocks 2 × 1 × 6 × 6 × 6": 2 * 6 * 6 * 6 * 4,
                     "value sums 1 × 6 × 6 × 8": 6 * 6 * 8 * 4,
                     "value outer products 1 × 6 × 8 × 8": 6 * 8 * 8 * 4,
                     "gathered keys 1 × 6 × (2 × 6 + 2 × 6) × 8": 6 * 24 * 8 * 4}),
    # the Pallas kernel, N = 20, heads 2, d 4 (padded to 16), w1 5, w2 3: 2 blocks of 16 queries,
    # j spans of 16 + 4 = 20 rows (tile 32), k tiles of 16 + 2 -> 32 rows; padded lengths
    # 16 + 32 = 48 on both sides
    "pallas": ("input x : float32[20, 8]\nh = simplicial_attention(x, heads=2, variant=trilinear, "
               "window=5, window2=3, implementation=pallas)\noutput y : float32[20, 8] = h\n",
               {"padded copies 2 × (32 + 2 × 48 + 2 × 48) × 16": 2 * (32 + 4 * 48) * 16 * 4,
                "kernel result and log-sum-exp 2 × 32 × (16 + 1)": 2 * 32 * 17 * 4,
                "span cotangents 2 × 2 × 2 × (32 + 32) × 16": 2 * 2 * 2 * 64 * 16 * 4}),
    # pairs of M = 5 virtual entities only, their values B(u_j (x) u_k) once per pair
    "virtual": ("input x : float32[6, 8]\nh = simplicial_attention(x, virtual=5)\n"
                "output y : float32[6, 8] = h\n",
                {"pair blocks 2 × 1 × 6 × 5 × 5": 2 * 6 * 5 * 5 * 4,
                 "key-key dots 1 × 5 × 5": 5 * 5 * 4,
                 "pair values 1 × 5 × 5 × 8": 5 * 5 * 8 * 4}),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(CASES))
def test_temporaries_are_counted_to_the_byte(case):
    text, want = CASES[case]
    g = seqnet.loads(text).graph
    assert memory.node_temporaries(g) == [("h", want)]


def _squeezed(shape) -> tuple[int, ...]:
    return tuple(n for n in shape if n != 1)


def _shapes(jaxpr) -> set[tuple[int, ...]]:
    """The shapes of every value the jaxpr makes, in nested jaxprs (the streamed 2-simplicial
    lowering's scans) too, unit axes dropped (jax.nn.dot_product_attention holds its scores as
    (batch, heads, groups = 1, N, M))."""
    found = set()
    for eqn in jaxpr.eqns:
        found |= {_squeezed(v.aval.shape) for v in eqn.outvars if hasattr(v.aval, "shape")}
        for sub in jax.extend.core.jaxprs_in_params(eqn.params):
            found |= _shapes(sub)
    return found


@pytest.mark.parametrize("case, scores", [
    ("attention", (1, 4, 10, 10)), ("cross", (1, 2, 5, 7)), ("triple", (1, 2, 6, 6, 6)),
    ("window", (1, 2, 6, 3, 3)), ("virtual", (1, 1, 6, 5, 5)), ("streamed", (1, 2, 2, 256, 256)),
    ("pallas", (2, 48, 16)),  # a padded head-major key copy (batch 1 x heads 2 folded)
])  # fmt: skip
def test_the_counted_scores_are_the_lowerings(case, scores):
    """The largest tensor counted is one the lowering really makes (batch 1 in front)."""
    text, _ = CASES[case]
    g = seqnet.loads(text).graph
    low = lower(g)
    params = low.init(jax.random.key(0))
    inputs = {n: np.zeros((1,) + g.nodes[n]["outputs"][0].dims, np.float32) for n in g.graph["inputs"]}
    jaxpr = jax.make_jaxpr(lambda p: low.apply(p, inputs))(params).jaxpr
    assert _squeezed(scores) in _shapes(jaxpr)


def test_ops_without_temporaries_count_none():
    g = seqnet.loads("input x : float32[5, 4]\nh = dense(x, 8, act=relu)\n"
                     "output y : float32[5, 8] = lstm(h, 8)\n").graph  # fmt: skip
    assert memory.node_temporaries(g) == []
    for n in g.nodes:
        if n not in g.graph["inputs"]:
            assert OPS[g.nodes[n]["op"]].temporaries(node_call(g, n), g.nodes[n]["outputs"]) == {}


LONG = """\
dim T = 20000
input x : int32[T] vocab 10
h = attention(embed(x, 16), heads=8)
output y : float32[T, 10] = dense(h, 10)
train {
  data = task.sort(T, vocab=10)
  loss = cross_entropy(y, target)
  batch = 8
  steps = 1
}
"""


def test_long_attention_is_refused_before_xla_runs(tmp_path, monkeypatch):
    """T = 20,000: each example's scores are 2 x 8 x 20000^2 float32 (23.8 GiB), which the
    estimate once ignored (XLA then asked for 205 GB). Refused before anything is allocated."""
    model = seqnet.loads(LONG, name="long.sqn")
    params = (10 * 16 + 4 * 16 * 16 + 16 + 16 * 10 + 10) * 4
    activations = (20000 * 4 + 20000 * 16 * 4 * 2 + 20000 * 10 * 4) * 8 * 2
    scores = 2 * 8 * 20000 * 20000 * 4
    assert memory.memory_parts(model, model.train_config) == {
        "parameters": params, "gradients": params, "adam state": 2 * params,
        "activations": activations, "temporaries": scores * 8 * 2}  # fmt: skip
    monkeypatch.setattr(memory, "available_memory", lambda: 64 << 30)
    compiled = []
    monkeypatch.setattr(jax, "jit", lambda *a, **k: compiled.append(a) or pytest.fail("jit"))
    out = tmp_path / "run"
    with pytest.raises(T.MemoryEstimateError,
                       match=r"temporaries 381\.5 GiB\) but only .* is available; .*the largest "
                       r"temporaries are those of attention 'h' \(long\.sqn:3:5\): 23\.8 GiB per "
                       r"example, most of it scores 2 × 8 × 20000 × 20000 \(23\.8 GiB\)"):  # fmt: skip
        T.train(model, out=out, progress=False)
    assert not compiled and not out.exists()


FEN_ATTENTION = """\
dim N = 4
input x : int32[N] vocab 2
block tok(x, out) {
  return dense(x, out, act=tanh)
}
block fuse(left, right, out) {
  pair = reshape(concat(left, right), [2, out])
  return dense(flatten(attention(pair, heads=2)), out, act=tanh)
}
block dec(prefix, segment, suffix, classes) {
  return dense(concat(prefix, segment, suffix), classes)
}
segments tree = binary_tree(N) {
  token = tok(out=4)
  fusion = fuse(out=4)
  decoder = dec(classes=2)
}
output y : float32[2] = tree(embed(x, 4))
"""


def test_temporaries_inside_segment_regions_count_once_per_use():
    """The fusion encoder runs N - 1 = 3 times per example: its attention scores (heads 2, a
    pair of 2 entities over 2: 2 x 2 x 2 x 2 float32) are held once per use."""
    from seqnet.compiler.summary import summarize, summary_table

    g = seqnet.loads(FEN_ATTENTION).graph
    found = memory.node_temporaries(g)
    assert len(found) == 1
    node, parts = found[0]
    assert node == "y/fusion/fusion/attention"  # the segments node y, its fusion region
    assert parts == {"scores 2 × 2 × 2 × 2, 3 uses": 2 * 2 * 2 * 2 * 4 * 3}
    data = summarize(g)
    assert data["temporary_bytes_per_example"] == 2 * 2 * 2 * 2 * 4 * 3
    assert f"temporaries per example: 192B (most in '{node}')" in summary_table(data)
