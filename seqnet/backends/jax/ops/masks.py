"""JAX lowering of `sequence_mask` (the padding rules themselves are in backends/jax/padding.py)."""

from __future__ import annotations

from seqnet.backends.jax.ops.common import lowering
from seqnet.backends.jax.padding import valid_positions


@lowering("sequence_mask")
def sequence_mask(ctx, lengths, size):
    return valid_positions(lengths, size)
