"""What a JAX lowering rule sees besides its arguments: the node's parameters, PRNG key and types."""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp


@dataclass(frozen=True)
class LowerCtx:
    """The per-node context passed to every rule as `rule(ctx, **kwargs)`.

    params: this node's parameters, keyed as in `OpDef.params` ("w", "b", ...).
    rng: a PRNG key when training and the op needs one (`OpDef.needs_rng`), else None.
    in_types / out_types: the registry's types (batch axis excluded) of the arguments and results.
    compute_dtype: float tensor arguments and parameters are cast to this before the rule runs
    (the mixed-precision policy; see `ops.common.lowering`).
    """

    params: dict[str, jax.Array]
    rng: jax.Array | None
    train: bool
    in_types: dict
    out_types: list
    compute_dtype: jnp.dtype = jnp.float32
