"""JAX lowering of multi-head (1-simplicial) attention (2-simplicial attention: simplicial.py).

Multi-head attention: per head q_i = x_i Wq, k_j = s_j Wk, v_j = s_j Wv with s = kv (or x),
out_i = sum_j softmax_j(q_i . k_j / sqrt(d)) v_j; heads are concatenated and projected by wo
(+ bo). causal keeps j <= i (query and key positions aligned, equal lengths). Lowered as good
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


def _scores_written_out(q, k, v, causal):
    """softmax(q k^T / sqrt(d)) v per head in the input's dtype (float64 stays float64)."""
    logits = jnp.einsum("bihd,bjhd->bhij", q, k) / math.sqrt(q.shape[-1])
    if causal:
        logits = jnp.where(np.tril(np.ones(logits.shape[-2:], bool)), logits, -jnp.inf)
    return jnp.einsum("bhij,bjhd->bihd", jax.nn.softmax(logits, axis=-1), v)


@lowering("attention")
def attention(ctx, x, heads, head_dim, out_dim, causal, kv, bias):
    p = ctx.params
    q, k, v = (split_heads(t, heads) for t in _qkv(p, x, kv))
    if q.dtype == jnp.float64:
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
    return None


def _kv_cache(ctx, batch, *, heads, head_dim, out_dim, causal, bias):
    length = ctx.out_types[0].dims[0]
    d = head_dim or ctx.in_types["x"].dims[-1] // heads
    shape = (batch, length, heads, d)
    return {"k": jnp.zeros(shape, ctx.compute_dtype), "v": jnp.zeros(shape, ctx.compute_dtype)}


@step_rule("attention", init=_kv_cache, refuses=_attention_refuses)
def attention_step(ctx, cache, pos, x, heads, head_dim, out_dim, causal, kv, bias):
    """The new position's query against the keys and values of positions 0..pos: its own k and
    v are written into the cache at `pos`; later slots are masked out."""
    p = ctx.params
    if kv is not None:
        raise ValueError("attention with kv= has no incremental rule")  # refused before tracing
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
