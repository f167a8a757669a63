"""Parameter initialisation: every ParamSpec recipe, its statistics, and key splitting."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from op_cases import CASES, build

from seqnet.backends.jax.init import init_param, init_params
from seqnet.compiler.ops.registry import ParamSpec

RECIPES = ("glorot_uniform", "lecun_normal", "zeros", "ones", "normal", "uniform", "constant",
           "orthogonal")  # fmt: skip


def test_every_recipe_in_the_paramspec_docstring_is_known():
    for recipe in RECIPES:
        assert f'"{recipe}"' in ParamSpec.__doc__
        out = init_param(jax.random.key(0), ParamSpec((4, 6), recipe, 0.5))
        assert out.shape == (4, 6) and out.dtype == jnp.float32
    with pytest.raises(ValueError, match="unknown init"):
        init_param(jax.random.key(0), ParamSpec((2,), "he_magic"))


def test_constant_recipes():
    key = jax.random.key(0)
    np.testing.assert_array_equal(init_param(key, ParamSpec((3,), "zeros")), np.zeros(3))
    np.testing.assert_array_equal(init_param(key, ParamSpec((3,), "ones")), np.ones(3))
    np.testing.assert_array_equal(init_param(key, ParamSpec((3,), "constant", -4.0)), -4.0)


def test_random_recipe_statistics():
    key = jax.random.key(1)
    fan_in, fan_out = 200, 300
    glorot = np.asarray(init_param(key, ParamSpec((fan_in, fan_out), "glorot_uniform")))
    limit = math.sqrt(6 / (fan_in + fan_out))
    assert np.abs(glorot).max() <= limit and np.abs(glorot).max() > 0.99 * limit
    lecun = np.asarray(init_param(key, ParamSpec((3, fan_in, fan_out), "lecun_normal")))
    assert lecun.std() == pytest.approx(math.sqrt(1 / (3 * fan_in)), rel=0.02, abs=0)  # conv fan_in
    normal = np.asarray(init_param(key, ParamSpec((fan_in, fan_out), "normal", 0.02)))
    assert normal.std() == pytest.approx(0.02, rel=0.02, abs=0)
    uniform = np.asarray(init_param(key, ParamSpec((fan_in, fan_out), "uniform", 0.3)))
    assert np.abs(uniform).max() <= 0.3 and uniform.std() == pytest.approx(0.3 / 3**0.5, rel=0.02, abs=0)


def test_orthogonal_square_and_per_gate_blocks():
    key = jax.random.key(2)
    w = np.asarray(init_param(key, ParamSpec((5, 5), "orthogonal")))
    np.testing.assert_allclose(w.T @ w, np.eye(5), atol=1e-5, rtol=1e-5)
    wh = np.asarray(init_param(key, ParamSpec((4, 3 * 4), "orthogonal")))  # a GRU's recurrence
    for g in range(3):
        block = wh[:, 4 * g : 4 * (g + 1)]
        np.testing.assert_allclose(block.T @ block, np.eye(4), atol=1e-5, rtol=1e-5)
    assert not np.allclose(wh[:, :4], wh[:, 4:8], rtol=1e-5, atol=1e-6)


def test_init_params_splits_keys_in_sorted_name_order():
    specs = {"w": ParamSpec((3, 2)), "b": ParamSpec((2,), "normal"), "a": ParamSpec((2,), "normal")}
    key = jax.random.key(3)
    first = init_params(key, specs)
    again = init_params(key, dict(reversed(list(specs.items()))))
    assert list(first) == ["a", "b", "w"]
    for name in specs:
        np.testing.assert_array_equal(first[name], again[name])
    assert not np.allclose(first["a"], first["b"], rtol=1e-5, atol=1e-6)  # each parameter has its own key
    assert init_params(key, {}) == {}


def test_every_registry_param_spec_initialises():
    """Every parameter spec of every test case (so of every op with parameters) names a known
    recipe and initialises to its shape. Traced with eval_shape, not run: compiling the random
    ops for each shape would cost seconds, and the recipes' values are checked above."""
    specs = {s for c in CASES for s in build(c).param_specs.values()}
    for spec in specs:
        out = jax.eval_shape(lambda key, spec=spec: init_param(key, spec), jax.random.key(0))
        assert out.shape == tuple(spec.shape) and out.dtype == jnp.float32, spec
