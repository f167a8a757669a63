"""mode = mask_merge (Algorithm 1 of the ensemble mask paper) against an independent numpy
float64 implementation: the same matrices, vectors and minibatch orders, the masked network's
gradients written out by hand, SGD (with momentum: then the merge is what keeps the disabled
edges where they were), and the merge."""

from __future__ import annotations

import jax
import numpy as np
import pytest

import seqnet
from seqnet.backends.jax.runtime import Runtime
from seqnet.backends.jax.settings import resolve_config

N = 3
SPEC = """dim N = 3
input adj : float32[N, N]
input x : float32[N]
h = masked_dense(x, adj)
output y : float32[N] = masked_dense(h, adj, mask=cluster)
train {{
  data = task.matvec(N, low=0)
  loss = mse(y, target)
  optimizer = {optimizer}
  mode = mask_merge(meta_epochs=2, epochs=2, condition=shuffled, matrices=5, vectors=8, minibatches=2)
  dtype = float64
  batch = 8
}}
"""


def reference_session(w1, w2, trace, d, xs, orders, lr, momentum):
    """One meta-epoch of Algorithm 1 for architecture (1): h_i = sum_j A_ij W1[j, i] x_j,
    y_i = W2[i] h_i, loss = mean over the batch and the outputs of (y - A x)^2."""
    for a, x, order in zip(d, xs, orders, strict=True):
        before = w1.copy()
        t = x @ a.T
        for idx in order:
            xb, tb = x[idx], t[idx]
            h = np.einsum("bj,ij,ji->bi", xb, a, w1)
            y = h * w2
            dy = 2.0 * (y - tb) / y.size
            g1 = np.einsum("bi,ij,bj->ji", dy * w2, a, xb)
            g2 = (dy * h).sum(axis=0)
            trace = (g1 + momentum * trace[0], g2 + momentum * trace[1])
            w1, w2 = w1 - lr * trace[0], w2 - lr * trace[1]
        w1 = np.where(a.T != 0, w1, before)  # merge: the edges A disables keep their values
    return w1, w2, trace


@pytest.mark.parametrize("optimizer, lr, momentum", [
    ("sgd(lr=0.1)", 0.1, 0.0), ("momentum(lr=0.05, momentum=0.9)", 0.05, 0.9)])  # fmt: skip
def test_mask_merge_matches_a_numpy_float64_reference(optimizer, lr, momentum):
    with jax.enable_x64(True):
        model = seqnet.loads(SPEC.format(optimizer=optimizer))
        rt = Runtime(model, resolve_config(model, None, {}))
        params, opt_state = rt.init_state()
        w1 = np.asarray(params["h"]["w"], np.float64)
        w2 = np.asarray(params["y"]["w"], np.float64).reshape(N)
        assert params["h"]["w"].dtype == np.float64
        trace = (np.zeros_like(w1), np.zeros_like(w2))
        step = rt.train_step()
        state = (params, opt_state, jax.numpy.asarray(0, jax.numpy.int32))
        stream = rt.driver.train_stream(None, 0)
        for session in range(2):
            d = next(stream)
            x, orders = jax.device_get(rt.driver.draws(session, len(d), jax.numpy.float64))
            assert x.dtype == np.float64 and orders.shape == (5, 4, 4)
            w1, w2, trace = reference_session(w1, w2, trace, d.astype(np.float64), x, orders, lr, momentum)
            state, logs = step(state, d)
        got = jax.device_get(state[0])
    np.testing.assert_allclose(got["h"]["w"], w1, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got["y"]["w"].reshape(N), w2, rtol=1e-12, atol=1e-14)
    assert np.isfinite(float(logs["loss"]))


def test_the_sessions_matrix_sets_follow_the_condition():
    from seqnet.data.matrix_sets import session_matrices, stratified_counts

    first = session_matrices("control", 4, 12, 0, 0)
    assert (first == np.swapaxes(first, 1, 2)).all() and set(np.unique(first)) <= {0.0, 1.0}
    norms = first.sum(axis=(1, 2))
    assert list(norms) == sorted(norms)  # generation order: ascending L1 norm
    assert sum(stratified_counts(4, 12).values()) == 12
    assert (session_matrices("control", 4, 12, 0, 3) == first).all()
    shuffled = session_matrices("shuffled", 4, 12, 0, 3)
    assert sorted(map(bytes, shuffled)) == sorted(map(bytes, first)) and not (shuffled == first).all()
    assert not (session_matrices("subsampled", 4, 12, 0, 3) == first).all()
