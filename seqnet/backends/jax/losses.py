"""Losses and metrics of the `train` section, as per-example values.

Every function takes an output batch and a target batch (leading axis = examples) and returns one
value per example (the mean over any other axes, e.g. sequence positions), so that training takes
the plain batch mean and evaluation a masked mean over padded batches. With `lengths` (one per
example) the mean is over the valid positions of axis 1 only: padded positions, whatever the
output or target holds there, count for nothing (an example with none gives 0).

cross_entropy: output = logits [B, ..., C], target = integer class ids [B, ...] (or a trailing
  axis of size 1), or float probabilities shaped like the output.
bce: output = logits (a sigmoid output is recognised by the runtime and passed with
  `probs=True`), target in {0, 1} (or [0, 1]).
mse, l1: any matching shapes (the target is broadcast / cast to float).
accuracy: argmax over the last axis against integer targets; for a single-logit binary output
  (last axis 1, or output shaped like the target) the sign (or 0.5 for probabilities).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from seqnet.backends.jax.padding import valid_positions
from seqnet.compiler.ir import node as ir_node
from seqnet.compiler.ops.catalog import load_ops


def _wide(x: jax.Array) -> jax.Array:
    """x in at least float32: low-precision outputs are scored in float32, float64 ones (a
    `dtype = float64` run) in float64."""
    if jnp.issubdtype(x.dtype, jnp.floating):
        return x.astype(jnp.promote_types(x.dtype, jnp.float32))
    return x.astype(jnp.float32)


def _per_example(x: jax.Array, lengths=None) -> jax.Array:
    x = _wide(x)
    if lengths is not None:  # the mean over each example's valid positions (axis 1) only
        per_position = x.reshape(x.shape[0], x.shape[1], -1).mean(axis=2)
        valid = valid_positions(lengths, x.shape[1])
        total = jnp.where(valid, per_position, 0.0).sum(axis=1)
        return total / jnp.maximum(valid.sum(axis=1), 1).astype(x.dtype)
    return x.reshape(x.shape[0], -1).mean(axis=1) if x.ndim > 1 else x


def _int_target(out: jax.Array, target: jax.Array) -> jax.Array:
    if target.ndim == out.ndim and target.shape[-1] == 1 and out.shape[-1] != 1:
        target = target[..., 0]
    return target


def _float_target(out: jax.Array, target: jax.Array) -> jax.Array:
    target = target.astype(out.dtype)
    if target.ndim == out.ndim - 1 and out.shape[-1] == 1:
        target = target[..., None]
    return target


def cross_entropy(out, target, probs: bool = False, lengths=None):
    logp = jnp.log(jnp.clip(out.astype(jnp.float32), 1e-12)) if probs else jax.nn.log_softmax(
        out.astype(jnp.float32), axis=-1)  # fmt: skip
    if jnp.issubdtype(target.dtype, jnp.floating) and target.shape == out.shape:
        return _per_example(-(target * logp).sum(-1), lengths)
    target = _int_target(out, target).astype(jnp.int32)
    picked = jnp.take_along_axis(logp, target[..., None], axis=-1)[..., 0]
    return _per_example(-picked, lengths)


def bce(out, target, probs: bool = False, lengths=None):
    out = _wide(out)
    target = _float_target(out, target)
    if probs:
        p = jnp.clip(out, 1e-7, 1 - 1e-7)
        return _per_example(-(target * jnp.log(p) + (1 - target) * jnp.log1p(-p)), lengths)
    return _per_example(jnp.maximum(out, 0) - out * target + jnp.log1p(jnp.exp(-jnp.abs(out))), lengths)


def mse(out, target, probs: bool = False, lengths=None):
    out = _wide(out)
    return _per_example(jnp.square(out - _float_target(out, target)), lengths)


def l1(out, target, probs: bool = False, lengths=None):
    out = _wide(out)
    return _per_example(jnp.abs(out - _float_target(out, target)), lengths)


def accuracy(out, target, probs: bool = False, lengths=None):
    out = out.astype(jnp.float32)
    binary = (out.shape[-1] == 1 and out.ndim >= target.ndim) or out.shape == target.shape
    if binary and not (jnp.issubdtype(target.dtype, jnp.floating) and out.shape == target.shape
                       and out.shape[-1] > 1):  # fmt: skip
        target = _float_target(out, target)
        pred = out > (0.5 if probs else 0.0)
        return _per_example(pred == (target > 0.5), lengths)
    if jnp.issubdtype(target.dtype, jnp.floating) and target.shape == out.shape:
        target = target.argmax(-1)
    target = _int_target(out, target)
    return _per_example(out.argmax(-1) == target, lengths)


LOSSES = {"cross_entropy": cross_entropy, "bce": bce, "mse": mse, "l1": l1}
METRICS = {"accuracy": accuracy, "cross_entropy": cross_entropy, "bce": bce, "mse": mse, "l1": l1}


def get_loss(name: str):
    try:
        return LOSSES[name]
    except KeyError:
        raise ValueError(f"unknown loss '{name}'; losses: {', '.join(LOSSES)}") from None


def get_metric(name: str):
    try:
        return METRICS[name]
    except KeyError:
        raise ValueError(f"unknown metric '{name}'; metrics: {', '.join(METRICS)}") from None


def output_is_probability(graph, output: str) -> bool:
    """True when the spec output is already a probability (a softmax / sigmoid at the end)."""
    ref = graph.graph["outputs"].get(output)
    if ref is None:
        return False
    rec = ir_node(graph, ref[0])
    opdef = load_ops().get(rec.op)
    if opdef is None:  # a spec input passed straight through
        return False
    attrs = dict(rec.attrs)
    if "act" in attrs:
        attrs["act"] = getattr(attrs["act"], "name", attrs["act"])
    return opdef.gives_probabilities(attrs)
