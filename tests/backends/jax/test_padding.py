"""Padded variable-length sequences: losses and metrics over valid positions only (against a
float64 NumPy reference, with check_grads), the training loss and the eval metrics as means over
every valid token, attention rows left without a key (zeros, finite gradients), and the property
that values at padded positions change nothing: outputs at valid positions, loss, gradients."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jax.test_util import check_grads

import seqnet
from seqnet.backends.jax import losses, step
from seqnet.backends.jax.failures import InputError
from seqnet.backends.jax.runtime import Runtime

N, V = 6, 7
TOL = {"atol": 1e-6, "rtol": 1e-6}


@pytest.fixture
def x64():
    with jax.enable_x64(True):
        yield


def _log_softmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def _reference(name, out, target, lengths):
    """Per example: the mean over its first `length` positions (0 when it has none)."""
    if name == "cross_entropy":
        per = -np.take_along_axis(_log_softmax(out), target[..., None], -1)[..., 0]
    elif name == "accuracy":
        per = (out.argmax(-1) == target).astype(np.float64)
    else:  # mse, against one real value per position
        per = ((out[..., 0] - target) ** 2)
    return np.array([per[b, :n].mean() if n else 0.0 for b, n in enumerate(lengths)])


def _batch(seed=0, batch=4):
    g = np.random.default_rng(seed)
    out = g.normal(size=(batch, N, V))
    target = g.integers(0, V, (batch, N)).astype(np.int32)
    lengths = np.array([0, 1, 4, N][:batch], np.int32)
    return out, target, lengths


@pytest.mark.parametrize("name", ["cross_entropy", "accuracy", "mse"])
def test_losses_skip_padded_positions_against_numpy(name):
    out, target, lengths = _batch()
    if name == "mse":
        out, target = out[..., :1], target.astype(np.float64)
    fn = losses.METRICS[name]
    got = fn(jnp.asarray(out, jnp.float32), jnp.asarray(target), False, jnp.asarray(lengths))
    np.testing.assert_allclose(np.asarray(got), _reference(name, out, target, lengths), **TOL)


@pytest.mark.parametrize("name", ["cross_entropy", "mse", "bce", "l1"])
def test_loss_gradients_with_lengths(x64, name):
    out, target, lengths = _batch(1)
    if name != "cross_entropy":
        out, target = out[..., :1], (target % 2).astype(np.float64)
    fn = losses.LOSSES[name]
    # the losses compute in float32 by definition: JAX's float32 tolerance (as test_ops.GRAD_TOL)
    check_grads(lambda o: fn(o, jnp.asarray(target), False, jnp.asarray(lengths)).sum(),
                (jnp.asarray(out),), order=1, modes=["rev"], atol=2e-3, rtol=2e-3)  # fmt: skip
    grad = jax.grad(lambda o: fn(o, jnp.asarray(target), False, jnp.asarray(lengths)).sum())(jnp.asarray(out))
    for b, n in enumerate(lengths):  # nothing flows into a padded position
        np.testing.assert_array_equal(np.asarray(grad[b, n:]), 0.0)


SPEC = f"""
dim N = {N}
dim V = {V}
input x : int32[N] vocab V
input length : int32[]
input target : int32[N] vocab V
block cell(x, state) {{
  h = dense(concat(x, state), 8, act=tanh)
  return h, h
}}
real = sequence_mask(length, N)
e = embed(x, 8)
a = e + attention(e, heads=2, mask=real)
d = embed(shift(target, 1, fill=1), 8)
d = d + attention(d, heads=2, causal=true, mask=real) + attention(d, kv=a, mask=real)
h = lstm(d, 8, lengths=length)
g = gru(a, 8, lengths=length, reverse=true)
s = scan(cell, h + g, state=[8], lengths=length)
last = scan(cell, a, state=[8], mode=many_to_one, lengths=length)
output y : float32[N, V] = dense(s + dense(last, 8), V)
train {{
  data = task.reverse(N, vocab=V)
  loss = cross_entropy(y, target, lengths=length)
  metrics = [accuracy(y, target, lengths=length)]
  batch = 4
}}
"""


@pytest.fixture(scope="module")
def padded():
    model = seqnet.loads(SPEC, name="padded.seqnet")
    rt = Runtime(model, model.train_config)
    params = model.init(jax.random.key(0))

    @jax.jit
    def run(params, batch):
        def loss(p):
            parts, outs, _ = step.objective(rt, p, batch, None, False)
            return step.batch_loss(rt, parts)[0], outs["y"]

        (value, y), grads = jax.value_and_grad(loss, has_aux=True)(params)
        return value, y, grads

    return rt, params, run


def _reverse_batch(rt, n=4, seed=0):
    arrays = rt.model.train_config and seqnet.data.load("reverse", "train", n, seed=seed, n=N, vocab=V)
    return {k: np.asarray(v) for k, v in arrays.items()}


def test_training_loss_is_the_mean_over_every_valid_token(padded):
    rt, params, run = padded
    batch = _reverse_batch(rt)
    loss, y, _ = run(params, batch)
    per = -np.take_along_axis(_log_softmax(np.asarray(y, np.float64)), batch["target"][..., None], -1)[..., 0]
    valid = np.arange(N) < batch["length"][:, None]
    assert len(set(batch["length"].tolist())) > 1  # lengths differ: a per-example mean would differ
    np.testing.assert_allclose(float(loss), per[valid].mean(), atol=1e-5, rtol=1e-5)


def test_eval_metrics_are_means_over_every_valid_token_of_the_split(padded):
    rt, params, _ = padded
    arrays = _reverse_batch(rt, n=10, seed=3)  # 3 batches of 4, the last padded with 2 repeats
    got = rt.evaluate(params, rt.eval_batches(arrays, None))
    outs = rt.lowered.apply(params, {k: arrays[k] for k in rt.inputs})
    y = np.asarray(outs["y"], np.float64)
    valid = np.arange(N) < arrays["length"][:, None]
    logp = np.take_along_axis(_log_softmax(y), arrays["target"][..., None], -1)[..., 0]
    np.testing.assert_allclose(got["loss"], -logp[valid].mean(), atol=1e-5, rtol=1e-5)
    correct = y.argmax(-1) == arrays["target"]
    np.testing.assert_allclose(got["accuracy"], correct[valid].mean(), atol=1e-6, rtol=1e-6)


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**31 - 1))
def test_values_at_padded_positions_change_nothing(padded, seed):
    rt, params, run = padded
    batch = _reverse_batch(rt, seed=seed % 1000)
    g = np.random.default_rng(seed)
    other = {k: v.copy() for k, v in batch.items()}
    padding = np.arange(N) >= batch["length"][:, None]
    for k in ("x", "target"):  # anything at all past each length
        other[k] = np.where(padding, g.integers(0, V, padding.shape), batch[k]).astype(np.int32)
    loss, y, grads = run(params, batch)
    loss2, y2, grads2 = run(params, other)
    valid = ~padding
    np.testing.assert_allclose(np.asarray(y2)[valid], np.asarray(y)[valid], atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(float(loss2), float(loss), atol=1e-6, rtol=1e-6)
    for a, b in zip(jax.tree.leaves(grads2), jax.tree.leaves(grads), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5, rtol=1e-5)
    changed = {**batch, "x": np.where(valid, (batch["x"] + 1) % V, batch["x"]).astype(np.int32)}
    assert float(run(params, changed)[0]) != float(loss)  # a real position does change it


def test_a_query_without_keys_gives_zeros_and_finite_gradients():
    """float32, the dot_product_attention path: a length-0 example (no key at all) and, with
    causal=true, the queries before the first valid key."""
    n = 4
    model = seqnet.loads(f"dim N = {n}\ninput x : float32[N, 6]\ninput keep : bool[N]\n"
                         "output y : float32[N, 6] = attention(x, heads=2, causal=true, mask=keep)\n")  # fmt: skip
    params = model.init(jax.random.key(1))
    x = np.random.default_rng(0).normal(size=(2, n, 6)).astype(np.float32)
    keep = np.array([[False] * n, [False, False, True, True]])

    def total(p, x):
        return jnp.sum(model.apply(p, x=x, keep=keep)["y"] ** 2)

    y = np.asarray(model.apply(params, x=x, keep=keep)["y"])
    bias = np.asarray(params["y"]["bo"])
    np.testing.assert_array_equal(y[0], np.broadcast_to(bias, (n, 6)))  # zeros, then the bias
    np.testing.assert_array_equal(y[1, :2], np.broadcast_to(bias, (2, 6)))
    assert np.isfinite(y).all()
    grads = jax.grad(total, argnums=(0, 1))(params, x)
    assert all(np.isfinite(np.asarray(a)).all() for a in jax.tree.leaves(grads))
    np.testing.assert_array_equal(np.asarray(grads[1][0]), 0.0)  # nothing read from a masked key


def test_npz_lengths_array_feeds_an_input_and_the_loss(tmp_path):
    g = np.random.default_rng(0)
    lengths = g.integers(1, N + 1, 20).astype(np.int32)
    x = np.where(np.arange(N) < lengths[:, None], g.integers(2, V, (20, N)), 0).astype(np.int32)
    np.savez(tmp_path / "d.npz", x=x, x__vocab=np.int32(V), length=lengths, target=x, target__vocab=np.int32(V))
    spec = tmp_path / "s.seqnet"
    spec.write_text(f"dim N = {N}\ninput x : int32[N] vocab {V}\ninput length : int32[]\n"
                    f"h = lstm(embed(x, 8), 8, lengths=length)\noutput y : float32[N, {V}] = dense(h, {V})\n"
                    "train {\n  data = npz(\"d.npz\")\n  loss = cross_entropy(y, target, lengths=length)\n"
                    "  batch = 4\n}\n")  # fmt: skip
    model = seqnet.load(spec)
    assert str(model.inputs["length"]) == "int32[]"
    rt = Runtime(model, model.train_config)
    arrays = rt.load_split("eval")
    np.testing.assert_array_equal(arrays["length"], lengths[18:])  # the last 10%: eval
    got = rt.evaluate(model.init(jax.random.key(0)), rt.eval_batches(arrays, None))
    assert np.isfinite(got["loss"]) and got["loss"] > 0


def test_npz_lengths_past_the_sequence_are_refused_in_words(tmp_path):
    x = np.ones((10, N), np.int32)
    np.savez(tmp_path / "d.npz", x=x, length=np.full(10, N + 1, np.int32), target=x)
    spec = tmp_path / "s.seqnet"
    spec.write_text(f"dim N = {N}\ninput x : int32[N]\noutput y : float32[N, 2] = dense(embed(x, 4, vocab=2), 2)\n"
                    "train {\n  data = npz(\"d.npz\")\n  loss = cross_entropy(y, target, lengths=length)\n}\n")  # fmt: skip
    model = seqnet.load(spec)
    with pytest.raises(InputError, match=f"lengths in 'length' must lie in 0..{N}.*example 0 holds {N + 1}"):
        Runtime(model, model.train_config).load_split("train")


def test_sequence_mask_shorter_than_the_datas_lengths_is_refused_at_check():
    text = SPEC.replace("real = sequence_mask(length, N)", "real = sequence_mask(length, N - 1)")
    text = text.replace("mask=real", "mask=concat(real, sequence_mask(length, 1), axis=0)")
    with pytest.raises(seqnet.SpecError) as e:
        seqnet.loads(text, name="short.seqnet")
    first = next(d for d in e.value.diagnostics if d.severity == "error")
    assert first.code == "SQN0503" and f"reaches {N} in the data, past the {N - 1} positions" in first.message
