"""JAX lowerings of attention: multi-head (1-simplicial) and 2-simplicial attention.

Multi-head attention: per head q_i = x_i Wq, k_j = s_j Wk, v_j = s_j Wv with s = kv (or x),
out_i = sum_j softmax_j(q_i . k_j / sqrt(d)) v_j; heads are concatenated and projected by wo
(+ bo). causal keeps j <= i (query and key positions aligned, equal lengths). Lowered as good
hand-written JAX: every projection is one 2-D matmul over (batch * positions); self-attention
projects q, k and v in one fused matmul against [wq | wk | wv] (the parameters stay three
arrays, so checkpoints are unchanged); the scores go through `jax.nn.dot_product_attention`
(implementation=None: XLA's path on the CPU, and whatever JAX picks on an accelerator). It
rounds its softmax to float32, so float64 (the gradient checks) takes the same maths written
out in einsums instead.

2-simplicial attention (design/mechanisms.md section 3). Per head, with d = head_dim:
p_i = x_i Wp (query), l1_j = s_j Wl1, l2_k = s_k Wl2 (keys), u_j = s_j Wu (value), where s is the
key/value entity set below. Index ranges, decided here:

* Queries i run over the N rows of x; the op returns one row per standard entity.
* Pairs (j, k), ordered (both (j, k) and (k, j) appear, j == k included):
  - virtual=0, window=0: all N^2 pairs of rows of x (not causal; i itself may be j or k).
  - virtual=M: all M^2 pairs of the learned virtual entities only (params["virtual"], shape
    (M, E), projected by the same Wl1, Wl2, Wu (and Wu2) as the standard entities and shared by
    every example), O(N M^2). Standard entities are never keys here. Updating the virtual
    entities by 1-simplicial attention (the paper's block) happens outside this op, at graph
    level; this op only reads them.
  - window=w > 0: j and k both in [max(0, i - w + 1), i]: the last w positions up to and
    including i (a causal sliding window), O(N w^2). It applies to both variants.
* Logits, variant "triple": the unsigned scalar triple product
      <p, a, b>^2 = (p.a)^2 |b|^2 + (a.b)^2 |p|^2 + (p.b)^2 |a|^2 - 2 (p.a)(p.b)(a.b),
  <p, a, b> = sqrt(max(that, 0)) (rounding can make it slightly negative), divided by sqrt(d),
  the same temperature as dot-product attention. The square root is "safe": where the square is
  <= 0 its gradient is taken as 0, so gradients stay finite when the triple product vanishes.
  Variant "trilinear": sum_c p_ic l1_jc l2_kc / sqrt(d).
* A^i_(j,k) = softmax over all pairs (j, k) of the logits (one softmax over the flattened pairs).
* Values, "triple": out_i[a] = sum_(j,k) A^i_jk sum_(b,c) B[a,b,c] u_j[b] u_k[c] with B the
  head's (d, d, d) slice of params["B"]. Computed without the N^2 x d^2 tensor:
  C_ij = sum_k A^i_jk u_k (a d-vector), D_i = sum_j u_j (x) C_ij (d x d), out_i = B : D_i.
  "trilinear": out_i = sum_(j,k) A^i_jk (u_j * u2_k) (elementwise), as sum_j u_j * (sum_k A u2_k).
* Heads are concatenated and projected by wo (no bias). The paper's layer norm on the
  2-simplicial output belongs to the enclosing block.

Key tensors come in two layouts: shared by every query, (batch, S, heads, d), or gathered per
query for sliding windows, (batch, N, S, heads, d); the helpers below accept either.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from seqnet.backends.jax.ops.common import flat_matmul, lowering, merge_heads, split_heads

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


# --- 2-simplicial attention ----------------------------------------------------------------------


def safe_sqrt(square: jax.Array) -> jax.Array:
    """sqrt(max(square, 0)), with gradient 0 (not inf or nan) where square <= 0."""
    positive = square > 0
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, square, 1.0)), 0.0)


def triple_from_dots(ab, ac, bc, aa, bb, cc):
    """The unsigned scalar triple product <a, b, c> from pairwise dot products (broadcasting)."""
    square = ab**2 * cc + bc**2 * aa + ac**2 * bb - 2.0 * ab * ac * bc
    return safe_sqrt(square)


def triple_product(a: jax.Array, b: jax.Array, c: jax.Array) -> jax.Array:
    """<a, b, c> over the last axis: 0 for pairwise orthogonal vectors, |a||b||c| when dependent."""

    def dot(u, v):
        return jnp.sum(u * v, axis=-1)

    return triple_from_dots(dot(a, b), dot(a, c), dot(b, c), dot(a, a), dot(b, b), dot(c, c))


def _per_query(keys: jax.Array) -> bool:
    return keys.ndim == 5


def _query_key(q, keys):
    """q_i . key_j -> (batch, heads, N, S)."""
    return jnp.einsum("bihd,bijhd->bhij" if _per_query(keys) else "bihd,bjhd->bhij", q, keys)


def _key_key(k1, k2):
    """k1_j . k2_k -> (batch, heads, 1 or N, S, S)."""
    if _per_query(k1):
        return jnp.einsum("bijhd,bikhd->bhijk", k1, k2)
    return jnp.einsum("bjhd,bkhd->bhjk", k1, k2)[:, :, None]


def _sqnorm(keys):
    """|key_j|^2 -> (batch, heads, 1 or N, S)."""
    norms = jnp.sum(keys * keys, axis=-1)
    if _per_query(keys):
        return jnp.moveaxis(norms, -1, 1)  # (b, i, j, h) -> (b, h, i, j)
    return jnp.moveaxis(norms, -1, 1)[:, :, None]  # (b, j, h) -> (b, h, 1, j)


def _triple_logits(q, l1, l2):
    pa = _query_key(q, l1)[..., :, None]  # (b, h, i, j, 1)
    pb = _query_key(q, l2)[..., None, :]  # (b, h, i, 1, k)
    ab = _key_key(l1, l2)  # (b, h, i|1, j, k)
    pp = jnp.moveaxis(jnp.sum(q * q, axis=-1), -1, 1)[..., None, None]  # (b, h, i, 1, 1)
    aa = _sqnorm(l1)[..., :, None]
    bb = _sqnorm(l2)[..., None, :]
    return triple_from_dots(pa, pb, ab, pp, aa, bb)


def _trilinear_logits(q, l1, l2):
    if _per_query(l1):
        return jnp.einsum("bihd,bijhd,bikhd->bhijk", q, l1, l2)
    return jnp.einsum("bihd,bjhd,bkhd->bhijk", q, l1, l2)


def _contract_k(weights, values):
    """sum_k A_ijk v_k -> (batch, heads, N, S, d)."""
    if _per_query(values):
        return jnp.einsum("bhijk,bikhd->bhijd", weights, values)
    return jnp.einsum("bhijk,bkhd->bhijd", weights, values)


def _triple_values(weights, u, B):
    c = _contract_k(weights, u)  # C_ij = sum_k A_ijk u_k
    if _per_query(u):
        outer = jnp.einsum("bhijc,bijhe->bhiec", c, u)  # D_i = sum_j u_j (x) C_ij, (d, d)
    else:
        outer = jnp.einsum("bhijc,bjhe->bhiec", c, u)
    return jnp.einsum("haec,bhiec->biha", B, outer)  # out_i[a] = sum_ec B[a, e, c] D_i[e, c]


def _trilinear_values(weights, u, u2):
    c = _contract_k(weights, u2)  # sum_k A_ijk u2_k
    if _per_query(u):
        return jnp.einsum("bhijd,bijhd->bihd", c, u)
    return jnp.einsum("bhijd,bjhd->bihd", c, u)


def _window_index(n: int, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions i - window + 1 .. i for each i (clipped at 0), and which of them are real."""
    index = np.arange(n)[:, None] - window + 1 + np.arange(window)[None, :]
    return np.clip(index, 0, None), index >= 0


@lowering("simplicial_attention")
def simplicial_attention(ctx, x, heads, head_dim, out_dim, virtual, variant, window):
    p = ctx.params
    batch, n = x.shape[:2]
    q = split_heads(x @ p["wp"], heads)
    names = ("wl1", "wl2", "wu") + (("wu2",) if variant == "trilinear" else ())
    if virtual:
        # The virtual entities are the same for every example: project once, broadcast.
        projected = [split_heads(p["virtual"] @ p[w], heads) for w in names]
        keys = [jnp.broadcast_to(k, (batch,) + k.shape) for k in projected]
    else:
        keys = [split_heads(x @ p[w], heads) for w in names]
    mask = None
    if window:
        index, valid = _window_index(n, min(window, n))  # a longer window reads nothing more
        keys = [k[:, index] for k in keys]  # (batch, N, window, heads, d)
        mask = valid[:, :, None] & valid[:, None, :]  # (N, window, window)
    l1, l2, u = keys[:3]

    logits = _triple_logits(q, l1, l2) if variant == "triple" else _trilinear_logits(q, l1, l2)
    logits = logits / math.sqrt(q.shape[-1])
    if mask is not None:
        logits = jnp.where(mask, logits, -jnp.inf)
    shape = logits.shape
    weights = jax.nn.softmax(logits.reshape(shape[:3] + (-1,)), axis=-1).reshape(shape)

    if variant == "triple":
        out = _triple_values(weights, u, p["B"])
    else:
        out = _trilinear_values(weights, u, keys[3])
    return merge_heads(out) @ p["wo"]
