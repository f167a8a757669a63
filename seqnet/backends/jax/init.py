"""Parameter initialisation: the JAX meaning of each `ParamSpec.init` recipe.

Fans follow the usual convention for a weight of shape (*receptive, fan_in_axis, fan_out_axis):
fan_in = shape[-2] * prod(receptive), fan_out = shape[-1] * prod(receptive); a vector has
fan_in = fan_out = its length. `scale` is a gain multiplying the samples of glorot_uniform,
lecun_normal and orthogonal; for normal it is the std, for uniform the bound, for constant the value.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from seqnet.compiler.ops.registry import ParamSpec


def _fans(shape: tuple[int, ...]) -> tuple[int, int]:
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


def _orthogonal(key: jax.Array, shape: tuple[int, ...], dtype) -> jax.Array:
    """Orthogonal init; a 2-D (h, g*h) weight (a recurrent "wh") gets one orthogonal h x h block
    per gate, so every gate's recurrence starts norm-preserving."""
    orthogonal = jax.nn.initializers.orthogonal()
    if len(shape) == 2 and shape[1] > shape[0] and shape[1] % shape[0] == 0:
        rows = shape[0]
        keys = jax.random.split(key, shape[1] // rows)
        return jnp.concatenate([orthogonal(k, (rows, rows), dtype) for k in keys], axis=1)
    return orthogonal(key, shape, dtype)


def init_param(key: jax.Array, spec: ParamSpec, dtype=jnp.float32) -> jax.Array:
    shape, scale = tuple(spec.shape), spec.scale
    fan_in, fan_out = _fans(shape)
    if spec.init == "glorot_uniform":
        limit = math.sqrt(6.0 / (fan_in + fan_out))
        return scale * jax.random.uniform(key, shape, dtype, -limit, limit)
    if spec.init == "lecun_normal":
        # Truncated at two standard deviations, rescaled so the std is exactly 1/sqrt(fan_in).
        std = math.sqrt(1.0 / fan_in) / 0.87962566103423978
        return scale * std * jax.random.truncated_normal(key, -2.0, 2.0, shape, dtype)
    if spec.init == "zeros":
        return jnp.zeros(shape, dtype)
    if spec.init == "ones":
        return jnp.ones(shape, dtype)
    if spec.init == "normal":
        return scale * jax.random.normal(key, shape, dtype)
    if spec.init == "uniform":
        return jax.random.uniform(key, shape, dtype, -scale, scale)
    if spec.init == "constant":
        return jnp.full(shape, scale, dtype)
    if spec.init == "orthogonal":
        return scale * _orthogonal(key, shape, dtype)
    raise ValueError(f"unknown init recipe {spec.init!r}")


def init_params(
    key: jax.Array, specs: dict[str, ParamSpec], dtype=jnp.float32
) -> dict[str, jax.Array]:
    """One key per parameter, split in sorted-name order, so the result never depends on the
    order the op listed its parameters in."""
    names = sorted(specs)
    if not names:
        return {}
    keys = jax.random.split(key, len(names))
    return {name: init_param(k, specs[name], dtype) for name, k in zip(names, keys, strict=True)}
