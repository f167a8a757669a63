"""JAX lowerings of the whole-tensor ops: `param`, `slice` and `shift`.

A `param` value is one array shared by every example: it is broadcast over the batch, so its
gradient is the sum over the batch of each example's (broadcast's transpose), as for a bias.
"""

from __future__ import annotations

import jax.numpy as jnp
from jax import lax

from seqnet.backends.jax.ops.common import batched_axis, lowering


@lowering("param")
def param(ctx, shape, init, scale):
    value = ctx.params["value"]
    return jnp.broadcast_to(value, (ctx.batch or 1,) + value.shape)


@lowering("slice")
def slice_(ctx, x, start, stop, step, axis):
    ax = batched_axis(axis, x.ndim - 1)
    size = x.shape[ax]
    first = start % size
    end = size if stop is None else stop % size if stop < 0 else stop
    return lax.slice_in_dim(x, first, end, step, axis=ax)


@lowering("shift")
def shift(ctx, x, n, fill, axis):
    ax = batched_axis(axis, x.ndim - 1)
    size = x.shape[ax]
    pad = jnp.full(x.shape[:ax] + (abs(n),) + x.shape[ax + 1 :], fill, x.dtype)
    if n > 0:
        return jnp.concatenate([pad, lax.slice_in_dim(x, 0, size - n, axis=ax)], axis=ax)
    if n < 0:
        return jnp.concatenate([lax.slice_in_dim(x, -n, size, axis=ax), pad], axis=ax)
    return x
