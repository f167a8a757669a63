"""Wormholes in forward mode (solver=forward, the paper's eq. 7): jvp through the fixed point
agrees with forward differences of the solved model and with the implicit reverse mode."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import seqnet
from seqnet.backends.jax.lower import lower

SPEC = """
input x : float64[4]
h1 = dense(x, 6, act=tanh)
h2 = dense(h1, 6, act=tanh)
wormhole h2 -> h1 gate=sigmoid gate_bias=0.0 tol=1e-12 max_iter=2000 solver={solver} backward_tol=1e-12
output y : float64[3] = dense(h2, 3)
"""


@pytest.fixture(autouse=True)
def float64():
    with jax.enable_x64(True):
        yield


def _model(solver):
    lowered = lower(seqnet.loads(SPEC.format(solver=solver)).graph, compute_dtype="float64")
    params = jax.tree.map(lambda a: a.astype(jnp.float64), lowered.init(jax.random.key(1)))
    return lowered, params


def test_jvp_matches_central_differences_and_reverse_mode():
    fwd, params = _model("forward")
    rev, _ = _model("fixed_point")
    x = jnp.asarray(np.random.default_rng(0).normal(size=(2, 4)))
    v = jnp.asarray(np.random.default_rng(1).normal(size=(2, 4)))

    def y(lowered, x):
        return lowered.apply(params, {"x": x})["y"]

    _, tangent = jax.jvp(lambda x: y(fwd, x), (x,), (v,))
    eps = 1e-6  # float64: central differences are accurate to ~eps**2
    numeric = (y(fwd, x + eps * v) - y(fwd, x - eps * v)) / (2 * eps)
    np.testing.assert_allclose(tangent, numeric, rtol=1e-6, atol=1e-8)
    # reverse mode of the implicit solver gives the same directional derivative
    _, pullback = jax.vjp(lambda x: y(rev, x), x)
    u = jnp.ones((2, 3))
    np.testing.assert_allclose(jnp.sum(u * tangent), jnp.sum(pullback(u)[0] * v), rtol=1e-6, atol=1e-10)


def test_jacfwd_through_the_parameters():
    fwd, params = _model("forward")
    x = jnp.ones((1, 4))
    jac = jax.jacfwd(lambda w: fwd.apply({**params, "h1": {**params["h1"], "w": w}}, {"x": x})["y"])(
        params["h1"]["w"]
    )
    assert jac.shape == (1, 3, 4, 6) and np.all(np.isfinite(jac)) and np.abs(jac).max() > 0
