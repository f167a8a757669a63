"""Padded sequences in JAX: which positions are real, and holding values at those that are not.

A leaf module (jax only): the ops that take lengths (recurrent cells, `scan`, `sequence_mask`) and
the losses that skip padding all read it, so each rule is written once."""

from __future__ import annotations

import jax.numpy as jnp


def valid_positions(lengths, size: int):
    """(batch, size) bool: True at positions before each example's length."""
    return jnp.arange(size) < lengths.astype(jnp.int32).reshape(-1, 1)


def hold(valid, new, old):
    """`new` where `valid` (batch,) is true, else `old`: a padded position changes nothing."""
    return jnp.where(valid.reshape(valid.shape + (1,) * (new.ndim - 1)), new, old)
