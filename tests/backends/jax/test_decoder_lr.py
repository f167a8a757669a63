"""FEN's two learning rates: `decoder_lr` (the paper's eta) scales the segment decoders' steps,
the encoders keep `lr` (eta-bar)."""

import jax
import numpy as np

import seqnet
from seqnet.backends.jax.train import train

SPEC = """
dim N = 4
input x : int32[N] vocab 2
block enc(x, out) { return dense(x, out, act=tanh) }
block fuse(l, r, out) { return dense(concat(l, r), out, act=tanh) }
block dec(p, s, q) { return dense(concat(p, s, q), 2) }
segments tree = binary_tree(N) {
  token = enc(out=8)
  fusion = fuse(out=8)
  decoder = dec()
  share = per_level
}
output y : float32[2] = tree(embed(x, 8))
train {
  data = task.parity(N)
  loss = cross_entropy(y, label)
  optimizer = sgd(lr=0.1)
  batch = 16
  steps = 1
  mode = local
}
"""


def _after_one_step(tmp_path, tag, **overrides):
    result = train(seqnet.loads(SPEC, **overrides), out=tmp_path / tag, progress=False)
    return jax.tree.map(np.asarray, result.params)


def test_decoder_lr_scales_only_the_decoders(tmp_path):
    # One SGD step from the same initial parameters: with the decoders' rate ~0 they stay put, so
    # the difference to it is each run's step. Encoders step alike; decoders 10x with 10x the rate.
    still = _after_one_step(tmp_path, "still", decoder_lr=1e-30)
    steps = {
        tag: jax.tree.map(lambda a, b: a - b, _after_one_step(tmp_path, tag, decoder_lr=lr), still)
        for tag, lr in (("base", 0.1), ("fast", 1.0))
    }
    base, fast = steps["base"], steps["fast"]
    tree = base["y"]
    assert set(tree) >= {"token", "fusion", "decoder"}
    for role in ("token", "fusion"):
        for a, b in zip(jax.tree.leaves(base["y"][role]), jax.tree.leaves(fast["y"][role])):
            np.testing.assert_array_equal(a, 0)  # encoders: same step in every run
            np.testing.assert_array_equal(b, 0)
    moved = 0
    for a, b in zip(jax.tree.leaves(base["y"]["decoder"]), jax.tree.leaves(fast["y"]["decoder"])):
        np.testing.assert_allclose(b, 10 * a, rtol=1e-4, atol=1e-8)
        moved += int(np.abs(a).max() > 0)
    assert moved  # the decoders did take a step


def test_decoder_lr_needs_a_segment_structure():
    text = "input x : float32[64]\noutput y : float32[10] = dense(x, 10)\n" \
           "train {\n  data = digits(flat=true)\n  loss = cross_entropy(y, label)\n  decoder_lr = 0.1\n}\n"
    try:
        seqnet.loads(text)
    except seqnet.SpecError as e:
        assert "decoder_lr" in e.render() and "SQN0502" in e.render()
    else:
        raise AssertionError("decoder_lr without segments must be an error")
