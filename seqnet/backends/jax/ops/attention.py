"""JAX lowering of multi-head (1-simplicial) attention (2-simplicial attention: simplicial.py).

Multi-head attention: per head q_i = x_i Wq, k_j = s_j Wk, v_j = s_j Wv with s = kv (or x),
out_i = sum_j softmax_j(q_i . k_j / sqrt(d)) v_j; heads are concatenated and projected by wo
(+ bo). causal keeps j <= i (query and key positions aligned, equal lengths); a key mask (mask=,
(batch, m) or (batch, n, m) bool) keeps the keys it marks, and composes with causal. A query left
with no key to read outputs zeros: the masked logits are a large finite negative (never -inf), so
its softmax, and the gradient through it, stay finite before the row is zeroed. Lowered as good
hand-written JAX: every projection is one 2-D matmul over (batch * positions); self-attention
projects q, k and v in one fused matmul against [wq | wk | wv] (the parameters stay three
arrays, so checkpoints are unchanged); the scores go through `jax.nn.dot_product_attention`
(implementation=None: XLA's path on the CPU, and whatever JAX picks on an accelerator). It
rounds its softmax to float32, so float64 (the gradient checks) takes the same maths written
out in einsums instead.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from seqnet.backends.jax.ops.common import (
    flat_matmul,
    lowering,
    merge_heads,
    split_heads,
    step_rule,
)

# --- multi-head attention ------------------------------------------------------------------------


def _qkv(p, x, kv):
    """The q, k, v projections, (batch, n, heads * d) each: one fused 2-D matmul when they read
    the same input, else one for q and one for k and v together."""
    width = p["wq"].shape[1]
    if kv is None:
        qkv = flat_matmul(x, jnp.concatenate([p["wq"], p["wk"], p["wv"]], axis=1))
        return jnp.split(qkv, [width, 2 * width], axis=-1)
    k, v = jnp.split(flat_matmul(kv, jnp.concatenate([p["wk"], p["wv"]], axis=1)), 2, axis=-1)
    return flat_matmul(x, p["wq"]), k, v


def _scores_written_out(q, k, v, causal, allowed=None):
    """softmax(q k^T / sqrt(d)) v per head in the input's dtype (float64 stays float64)."""
    logits = jnp.einsum("bihd,bjhd->bhij", q, k) / math.sqrt(q.shape[-1])
    if allowed is not None:
        logits = jnp.where(allowed, logits, jnp.finfo(logits.dtype).min)
    elif causal:
        logits = jnp.where(np.tril(np.ones(logits.shape[-2:], bool)), logits, -jnp.inf)
    return jnp.einsum("bhij,bjhd->bihd", jax.nn.softmax(logits, axis=-1), v)


def _allowed(mask, n: int, m: int, causal: bool):
    """(batch, 1, n, m) bool: the keys each query may read, the key mask and causality together."""
    allowed = mask[:, None, None, :] if mask.ndim == 2 else mask[:, None]
    if causal:
        allowed = allowed & np.tril(np.ones((n, m), bool))
    return jnp.broadcast_to(allowed, (mask.shape[0], 1, n, m))


def _masked(q, k, v, causal, mask):
    allowed = _allowed(mask, q.shape[1], k.shape[1], causal)
    if q.dtype == jnp.float64:
        out = _scores_written_out(q, k, v, causal, allowed)
    else:
        out = jax.nn.dot_product_attention(q, k, v, mask=allowed, implementation=None)
    reads = jnp.swapaxes(allowed.any(axis=-1), 1, 2)[..., None]  # (batch, n, 1, 1)
    return jnp.where(reads, out, 0)


@lowering("attention")
def attention(ctx, x, heads, head_dim, out_dim, causal, kv, bias, mask=None):
    p = ctx.params
    q, k, v = (split_heads(t, heads) for t in _qkv(p, x, kv))
    if mask is not None:
        out = _masked(q, k, v, causal, mask)
    elif q.dtype == jnp.float64:
        out = _scores_written_out(q, k, v, causal)
    else:
        out = jax.nn.dot_product_attention(q, k, v, is_causal=causal, implementation=None)
    y = flat_matmul(merge_heads(out), p["wo"])
    if bias:
        y = y + p["bo"]
    return y


# --- incremental rule: causal self-attention with a KV cache -------------------------------------


def _attention_refuses(attrs: dict, out_types: list) -> str | None:
    if not attrs.get("causal"):
        return "it is not causal (every position reads later ones)"
    if attrs.get("mask") is not None:
        return "it takes a mask= (generation runs unpadded sequences)"
    return None


def _kv_cache(ctx, batch, *, heads, head_dim, out_dim, causal, bias):
    length = ctx.out_types[0].dims[0]
    d = head_dim or ctx.in_types["x"].dims[-1] // heads
    shape = (batch, length, heads, d)
    return {"k": jnp.zeros(shape, ctx.compute_dtype), "v": jnp.zeros(shape, ctx.compute_dtype)}


@step_rule("attention", init=_kv_cache, refuses=_attention_refuses)
def attention_step(ctx, cache, pos, x, heads, head_dim, out_dim, causal, kv, bias, mask=None):
    """The new position's query against the keys and values of positions 0..pos: its own k and
    v are written into the cache at `pos`; later slots are masked out."""
    p = ctx.params
    if kv is not None or mask is not None:
        raise ValueError("attention with kv= or mask= has no incremental rule")  # refused before tracing
    q, k, v = (split_heads(t, heads) for t in _qkv(p, x, None))  # (batch, 1, heads, d)
    keys = jax.lax.dynamic_update_slice_in_dim(cache["k"], k.astype(cache["k"].dtype), pos, axis=1)
    values = jax.lax.dynamic_update_slice_in_dim(cache["v"], v.astype(cache["v"].dtype), pos, axis=1)
    logits = jnp.einsum("bihd,bjhd->bhij", q, keys) / math.sqrt(q.shape[-1])
    seen = jnp.arange(keys.shape[1]) <= pos
    logits = jnp.where(seen, logits, -jnp.inf)
    out = jnp.einsum("bhij,bjhd->bihd", jax.nn.softmax(logits, axis=-1), values)
    y = flat_matmul(merge_heads(out), p["wo"])
    if bias:
        y = y + p["bo"]
    return y, {"k": keys, "v": values}
