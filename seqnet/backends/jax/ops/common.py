"""Shared pieces of the JAX lowering rules: the activation table, axis helpers, and `lowering`,
the decorator that registers a rule and applies the compute-dtype policy."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import replace

import jax
import jax.numpy as jnp
import numpy as np

from seqnet.backends.jax.context import LowerCtx, StepRule
from seqnet.compiler.ops.catalog import register_lowering, register_step
from seqnet.compiler.ops.registry import OPS

BACKEND = "jax"

# The one activation table: `act=` attributes and the activation ops both read it.
# gelu is the exact (erf) form; leaky_relu's slope is 0.01; elu's alpha is 1.
ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "none": lambda x: x,
    "relu": jax.nn.relu,
    "gelu": functools.partial(jax.nn.gelu, approximate=False),
    "tanh": jnp.tanh,
    "sigmoid": jax.nn.sigmoid,
    "silu": jax.nn.silu,
    "softplus": jax.nn.softplus,
    "elu": jax.nn.elu,
    "leaky_relu": jax.nn.leaky_relu,
    "softmax": functools.partial(jax.nn.softmax, axis=-1),
}


def activate(x: jax.Array, name: str) -> jax.Array:
    return ACTIVATIONS[name](x)


def batched_axis(axis: int, example_rank: int) -> int:
    """Map an axis of one example (what the spec writes) to the axis of the batched array."""
    return axis % example_rank + 1


def _cast_float(value, dtype):
    if isinstance(value, list):
        return [_cast_float(v, dtype) for v in value]
    if isinstance(value, (jax.Array, np.ndarray)) and jnp.issubdtype(value.dtype, jnp.floating):
        return value if value.dtype == dtype else value.astype(dtype)
    return value


def lowering(name: str, *, cast_inputs: bool = True):
    """Register `rule` as the JAX lowering of op `name`.

    The registered function first casts float tensor arguments and parameters to
    `ctx.compute_dtype` (integer ids and attributes are left alone), then calls the rule. `cast`
    opts out for its input: casting is its whole job.
    """

    def attach(rule: Callable) -> Callable:
        @functools.wraps(rule)
        def apply_policy(ctx: LowerCtx, **kwargs):
            dtype = jnp.dtype(ctx.compute_dtype)
            if cast_inputs:
                kwargs = {k: _cast_float(v, dtype) for k, v in kwargs.items()}
            params = {k: _cast_float(v, dtype) for k, v in ctx.params.items()}
            return rule(replace(ctx, params=params), **kwargs)

        return register_lowering(name, BACKEND)(apply_policy)

    return attach


def flat_matmul(x: jax.Array, w: jax.Array) -> jax.Array:
    """x @ w over the last axis, as one 2-D matmul over all leading axes (batch * positions).

    XLA's CPU backward pass for a 3-D dot that contracts batch and sequence together runs
    1.2-2x slower than the same product on the flattened (batch * positions, features) matrix
    (benchmarks/overhead.py); the reshapes are free.
    """
    if x.ndim <= 2:
        return x @ w
    return (x.reshape(-1, x.shape[-1]) @ w).reshape(*x.shape[:-1], w.shape[-1])


def split_heads(x: jax.Array, heads: int) -> jax.Array:
    """(batch, n, heads * d) -> (batch, n, heads, d)."""
    return x.reshape(x.shape[:-1] + (heads, x.shape[-1] // heads))


def merge_heads(x: jax.Array) -> jax.Array:
    """(batch, n, heads, d) -> (batch, n, heads * d)."""
    return x.reshape(x.shape[:-2] + (x.shape[-2] * x.shape[-1],))


def step_rule(name: str, *, init=None, refuses=None):
    """Register `step(ctx, cache, pos, **kwargs) -> (out, cache)` as the incremental rule of
    op `name` (see `context.StepRule`), with the same compute-dtype policy as `lowering`."""

    def attach(step: Callable) -> Callable:
        @functools.wraps(step)
        def apply_policy(ctx: LowerCtx, cache, pos, **kwargs):
            dtype = jnp.dtype(ctx.compute_dtype)
            kwargs = {k: _cast_float(v, dtype) for k, v in kwargs.items()}
            params = {k: _cast_float(v, dtype) for k, v in ctx.params.items()}
            return step(replace(ctx, params=params), cache, pos, **kwargs)

        extra = {k: v for k, v in (("init", init), ("refuses", refuses)) if v is not None}
        register_step(name, BACKEND)(StepRule(apply_policy, **extra))
        return step

    return attach


def positionwise(name: str, refuses=None) -> None:
    """Op `name` computes each position from that position alone (dense, norms, activations):
    its incremental rule is its plain rule applied to the one new position."""

    def step(ctx, cache, pos, **kwargs):
        return OPS[name].lowerings[BACKEND](ctx, **kwargs), None

    extra = {"refuses": refuses} if refuses else {}
    register_step(name, BACKEND)(StepRule(step, positionwise=True, **extra))


def refuses_time_axis(attr: str = "axis"):
    """A `refuses` test for ops that are position-wise unless they work along the time axis
    (the example's axis 0)."""

    def refuses(attrs: dict, out_types: list) -> str | None:
        if attrs.get(attr, -1) % out_types[0].rank == 0:
            return f"it works along the time axis ({attr}=0)"
        return None

    return refuses
