"""FEN local training against the paper's section 9 equations, written out independently.

The paper: for every segment (i, j) of S, y_(i,j) = omega_(i,j)(eps(1,i-1), eps(i,j), eps(j+1,N)),
with every encoding from the current encoders; the pair (omega_(i,j), encoder of (i,j)) takes a
gradient step on loss(y_(i,j)), the gradient stopping at the encoder's inputs; shared parameters
are "updated multiple times per trial (once for each segment that has those shared parameters)",
i.e. their per-segment gradients add up. These tests rebuild that update by hand (every encoding a
constant, one loss per segment, gradients summed by parameter copy) and compare it with
`Lowered.local_loss` / `Runtime._local_objective`, for each share policy.
"""

from __future__ import annotations

import functools
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from spec_texts import SEGMENTS

import seqnet
from seqnet.backends.jax import segments
from seqnet.backends.jax.lower import lower

SPEC = SEGMENTS


@functools.cache
def _setup(n, share):
    m = seqnet.loads(SPEC.format(n=n, share=share))
    low = lower(m.graph)
    (node,) = low.program.node_programs
    prog = low.program.node_programs[node]
    params = low.init(jax.random.key(3))
    return low, node, prog, params


def _mlp(role_params, copy, x):
    (blk,) = role_params.values()
    p = jax.tree_util.tree_map(lambda a: a[copy], blk)
    return jnp.tanh(x @ p["h"]["w"] + p["h"]["b"]) @ p["dense"]["w"] + p["dense"]["b"]


def _encodings(prog, p, x):
    """eps(i, j) for every segment of S by the paper's recursion (no stop_gradient anywhere)."""
    s = prog.structure
    eps = {(i, i): _mlp(p["token"], prog.copy_index("token", (i, i)), x[:, i - 1])
           for i in range(1, s.n + 1)}  # fmt: skip
    for seg in sorted(s.splits, key=lambda g: g[1] - g[0]):
        i, j = seg
        k = s.splits[seg]
        eps[seg] = _mlp(p["fusion"], prog.copy_index("fusion", seg),
                        jnp.concatenate([eps[(i, k)], eps[(k + 1, j)]], -1))  # fmt: skip
    return eps


def _paper_update(prog, p, x, loss):
    """The sum over segments of each pair's own gradient, every other encoding held constant."""
    s = prog.structure
    # Every encoding as a constant of this trial (stop_gradient = a value computed beforehand).
    const = {k: jax.lax.stop_gradient(v) for k, v in _encodings(prog, p, x).items()}
    zero = jnp.zeros_like(const[(1, 1)])
    total = jax.tree_util.tree_map(jnp.zeros_like, p)
    for seg in s.segments:
        i, j = seg
        pre = const[(1, i - 1)] if i > 1 else zero
        suf = const[(j + 1, s.n)] if j < s.n else zero

        def pair_loss(q, seg=seg, i=i, j=j, pre=pre, suf=suf):
            if i == j:
                mid = _mlp(q["token"], prog.copy_index("token", seg), x[:, i - 1])
            else:
                k = s.splits[seg]
                mid = _mlp(q["fusion"], prog.copy_index("fusion", seg),
                           jnp.concatenate([const[(i, k)], const[(k + 1, j)]], -1))  # fmt: skip
            y = _mlp(q["decoder"], prog.copy_index("decoder", seg),
                     jnp.concatenate([pre, mid, suf], -1))  # fmt: skip
            return loss({"y": y}, None)

        total = jax.tree_util.tree_map(jnp.add, total, jax.grad(pair_loss)(p))
    return total


@pytest.mark.parametrize("n, share, pad_waste", [
    (5, "none", None), (6, "all", None),
    # per_level's decoder copies (one per level) hold 8, 4, 6, 7 segments at N = 8: one trace
    # over the padded groups, and one trace per group
    (8, "per_level", 10.0), (8, "per_level", 0.0),
])  # fmt: skip
def test_local_gradient_is_the_papers_per_pair_update_summed(n, share, pad_waste, monkeypatch):
    if pad_waste is not None:
        monkeypatch.setattr(segments, "PAD_WASTE", pad_waste)
    low, node, prog, params = _setup(n, share)
    x = np.random.default_rng(n).normal(size=(4, n, 2)).astype(np.float32)
    t = np.random.default_rng(n + 1).normal(size=(4, 2)).astype(np.float32)
    loss = lambda out, _: jnp.mean((out["y"] - t) ** 2)  # noqa: E731
    got = jax.jit(jax.grad(lambda p: low.local_loss(p, {"x": x}, loss, None)))(params)[node]
    want = jax.jit(lambda p: _paper_update(prog, p, jnp.asarray(x), loss))(params[node])
    for g, w in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want), strict=True):
        np.testing.assert_allclose(g, w, rtol=2e-4, atol=1e-6)


def test_every_segment_predicts_the_whole_sequence_label():
    """Runtime's local objective: every term is loss(y_(i,j), label of the whole sequence)."""
    from seqnet.backends.jax.train import Runtime, resolve_config

    text = (Path(__file__).resolve().parents[3] / "specs" / "fen_parity.seqnet").read_text()
    model = seqnet.loads(text, N=4)
    rt = Runtime(model, resolve_config(model, 1, {"mode": "local"}))
    params = rt.lowered.init(jax.random.key(0))
    x = np.random.default_rng(0).integers(0, 2, size=(16, 4)).astype(np.int32)
    label = (x.sum(1) % 2).astype(np.int32)
    batch = {"x": x, "label": label}
    got = jax.jit(lambda p: rt.local_objective(p, batch, {"x": x}, None))(params)
    outs = jax.jit(lambda p: rt.lowered.local_outputs(p, {"x": x})[1])(params)
    logp = jax.nn.log_softmax(outs["y"], -1)  # (|S|, batch, 2)
    per_seg = -jnp.take_along_axis(logp, jnp.asarray(label)[None, :, None], -1)[..., 0].mean(1)
    assert per_seg.shape == (9,)
    np.testing.assert_allclose(got, per_seg.sum(), rtol=1e-5, atol=1e-6)  # float32, 9 terms
    mean = Runtime(model, resolve_config(model, 1, {"mode": "local", "reduction": "mean"}))
    got = jax.jit(lambda p: mean.local_objective(p, batch, {"x": x}, None))(params)
    np.testing.assert_allclose(got, per_seg.mean(), rtol=1e-5, atol=1e-6)  # local(reduction=mean)


def test_adam_step_does_not_depend_on_sum_or_mean_of_the_terms():
    """Why the local objective's reduction (sum over |S| terms, as the paper's "shared parameters
    are updated once per segment") is harmless under Adam: a constant factor on the gradient
    changes Adam's step only through eps."""
    low, node, prog, params = _setup(8, "per_level")
    x = np.random.default_rng(0).normal(size=(4, 8, 2)).astype(np.float32)
    t = np.random.default_rng(1).normal(size=(4, 2)).astype(np.float32)
    loss = lambda out, _: jnp.mean((out["y"] - t) ** 2)  # noqa: E731
    g = jax.jit(jax.grad(lambda p: low.local_loss(p, {"x": x}, loss, None)))(params)
    tx = optax.adam(1e-3)
    state = tx.init(params)
    s = len(prog.structure.segments)
    up_sum, _ = tx.update(g, state, params)
    up_mean, _ = tx.update(jax.tree_util.tree_map(lambda a: a / s, g), state, params)
    for a, b in zip(jax.tree_util.tree_leaves(up_sum), jax.tree_util.tree_leaves(up_mean)):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-7)
