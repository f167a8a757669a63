"""A spec that declares float64 computes in float64 (with JAX's 64-bit mode), and says so
clearly when that mode is off."""

import jax
import numpy as np
import pytest

import seqnet

SPEC = "input x : float64[4]\nh = dense(x, 8, act=tanh)\noutput y : float64[2] = dense(h, 2)\n"


def test_float64_spec_needs_64_bit_mode():
    with jax.enable_x64(False):
        with pytest.raises(ValueError, match="64-bit mode is off"):
            seqnet.loads(SPEC)._jax()


def test_float64_spec_computes_in_float64():
    with jax.enable_x64(True):
        model = seqnet.loads(SPEC)
        params = model.init(jax.random.key(0))
        assert all(p.dtype == np.float64 for p in jax.tree.leaves(params))
        x = np.random.default_rng(0).normal(size=(3, 4))
        y = np.asarray(model.apply(params, x=x)["y"])
        p = jax.tree.map(np.asarray, params)
        ref = np.tanh(x @ p["h"]["w"] + p["h"]["b"]) @ p["y"]["w"] + p["y"]["b"]
        assert y.dtype == np.float64
        np.testing.assert_allclose(y, ref, rtol=1e-13, atol=1e-14)  # float32 anywhere would give ~1e-7
