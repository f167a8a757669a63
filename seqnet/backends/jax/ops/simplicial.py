"""JAX lowering of 2-simplicial attention (design/mechanisms.md section 3), streamed.

Per head, with d = head_dim: p_i = x_i Wp (query), l1_j = s_j Wl1, l2_k = s_k Wl2 (keys),
u_j = s_j Wu (value), where s is the key/value entity set below. Index ranges, decided here:

* Queries i run over the N rows of x; the op returns one row per standard entity.
* Pairs (j, k), ordered (both (j, k) and (k, j) appear, j == k included):
  - virtual=0, window=0: all N^2 pairs of rows of x (not causal; i itself may be j or k).
  - virtual=M: all M^2 pairs of the M virtual entities only, O(N M^2); standard entities are
    never keys here. virtual_mode=paper (the default, the paper's section 3): each example's
    virtual entities start from the learned params["virtual"] (M, E) and are updated before
    the pair sum by their own 1-simplicial attention over the N standard entities (queries
    f_z Wvq, keys x_j Wvk, values x_j Wvv; the standard entities never attend to them: their
    1-simplicial attention is the block's `attention` op, which does not see them) plus the
    recurrence term u_z = f_z Wu: f'_z = f_z + [attention_z (+) u_z] Wvo. They are dropped
    after this op. virtual_mode=fixed: params["virtual"] is used as it is, the same for every
    example (no attention updates it).
  - window=w1 > 0: j in [i - w1 + 1, i] and k in [i - w2 + 1, i] (w2 = window2, or w1): causal
    sliding windows (the trilinear form of the 2025 formulation), O(N w1 w2), for both variants.
* Logits, variant "triple": the unsigned scalar triple product
      <p, a, b>^2 = (p.a)^2 |b|^2 + (a.b)^2 |p|^2 + (p.b)^2 |a|^2 - 2 (p.a)(p.b)(a.b),
  <p, a, b> = sqrt(max(that, 0)) (rounding can make it slightly negative), divided by sqrt(d),
  the same temperature as dot-product attention. The square root is "safe": where the square is
  <= 0 its gradient is taken as 0, so gradients stay finite when the triple product vanishes.
  With keys shared by every query the key-key dots a.b are computed once (S1 x S2 per head).
  Variant "trilinear": sum_c p_ic l1_jc l2_kc / sqrt(d).
  logit_scale=inv_d divides both by d instead: both are homogeneous of degree one in p, so the
  queries are scaled by 1/sqrt(d) once and the blocks below are unchanged.
* A^i_(j,k) = softmax over all pairs (j, k) of the logits (one softmax over the flattened pairs).
* Values, "triple": out_i[a] = sum_(j,k) A^i_jk sum_(b,c) B[a,b,c] u_j[b] u_k[c] with B the
  head's (d, d, d) slice of params["B"]. Over entities, without the pair x d^2 tensor:
  C_ij = sum_k A^i_jk u_k, D_i = sum_j u_j (x) C_ij (d x d), out_i = B : D_i. Over virtual
  entities B(u_j (x) u_k) is computed once per pair (M^2 d-vectors), then out_i = sum A V.
  "trilinear": out_i = sum_(j,k) A^i_jk (u_j * u2_k) (elementwise), as sum_j u_j * (sum_k A u2_k);
  over virtual entities once per pair as well.
* Heads are concatenated and projected by wo (no bias). The paper's layer norm on the
  2-simplicial output belongs to the enclosing block.

The softmax over pairs and the value sum run in `pair_softmax` (query chunks, blocks of first
keys, online softmax, a backward that recomputes blocks); the functions below say per block
what the logits and values are.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from seqnet.backends.jax.ops.common import lowering, merge_heads, split_heads
from seqnet.backends.jax.ops.pair_softmax import PairStream, pair_softmax
from seqnet.compiler.ops.simplicial import pair_blocks


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


# --- per-block logits and values (pair_softmax's layouts) ----------------------------------------


def _per_query(keys: jax.Array) -> bool:
    return keys.ndim == 5


def _query_key(q, keys):
    """q_i . key_j -> (batch, heads, Q, S)."""
    return jnp.einsum("bihd,bijhd->bhij" if _per_query(keys) else "bihd,bjhd->bhij", q, keys)


def _key_key(k1, k2):
    """k1_j . k2_k -> (batch, heads, 1 or Q, S1, S2)."""
    if _per_query(k1):
        return jnp.einsum("bijhd,bikhd->bhijk", k1, k2)
    return jnp.einsum("bjhd,bkhd->bhjk", k1, k2)[:, :, None]


def _sqnorm(keys):
    """|key_j|^2 -> (batch, heads, 1 or Q, S)."""
    norms = jnp.moveaxis(jnp.sum(keys * keys, axis=-1), -1, 1)
    return norms if _per_query(keys) else norms[:, :, None]


def triple_logits(q, jkeys, kkeys, pair):
    """<p_i, l1_j, l2_k> / sqrt(d); pair[0], when given, holds the key-key dots l1_j . l2_k."""
    l1, l2 = jkeys[0], kkeys[0]
    pa = _query_key(q, l1)[..., :, None]  # (b, h, Q, J, 1)
    pb = _query_key(q, l2)[..., None, :]  # (b, h, Q, 1, K)
    ab = pair[0][:, :, None] if pair else _key_key(l1, l2)  # (b, h, Q|1, J, K)
    pp = jnp.moveaxis(jnp.sum(q * q, axis=-1), -1, 1)[..., None, None]  # (b, h, Q, 1, 1)
    aa = _sqnorm(l1)[..., :, None]
    bb = _sqnorm(l2)[..., None, :]
    return triple_from_dots(pa, pb, ab, pp, aa, bb) / math.sqrt(q.shape[-1])


def trilinear_logits(q, jkeys, kkeys, pair):
    """sum_c p_ic l1_jc l2_kc / sqrt(d)."""
    l1, l2 = jkeys[0], kkeys[0]
    if _per_query(l1):
        s = jnp.einsum("bihd,bijhd,bikhd->bhijk", q, l1, l2)
    else:
        s = jnp.einsum("bihd,bjhd,bkhd->bhijk", q, l1, l2)
    return s / math.sqrt(q.shape[-1])


def _contract_k(weights, values):
    """sum_k A_ijk v_k -> (batch, heads, Q, J, d)."""
    if _per_query(values):
        return jnp.einsum("bhijk,bikhd->bhijd", weights, values)
    return jnp.einsum("bhijk,bkhd->bhijd", weights, values)


def outer_values(weights, jkeys, kkeys, pair):
    """D_i = sum_j u_j (x) C_ij with C_ij = sum_k A_ijk u_k: (b, h, Q, d, d); out_i = B : D_i."""
    c = _contract_k(weights, kkeys[1])
    u = jkeys[1]
    return jnp.einsum("bhijc,bijhe->bhiec" if _per_query(u) else "bhijc,bjhe->bhiec", c, u)


def elementwise_values(weights, jkeys, kkeys, pair):
    """sum_j u_j * (sum_k A_ijk u2_k): (b, h, Q, d)."""
    c = _contract_k(weights, kkeys[1])
    u = jkeys[1]
    return jnp.einsum("bhijd,bijhd->bhid" if _per_query(u) else "bhijd,bjhd->bhid", c, u)


def pair_values(weights, jkeys, kkeys, pair):
    """sum_(j,k) A_ijk V_jk with V_jk computed once per pair (pair[-1], (b, h, J, K, d))."""
    return jnp.einsum("bhijk,bhjkd->bhid", weights, pair[-1])


# --- the lowering --------------------------------------------------------------------------------


def updated_virtual(p, x, heads: int) -> jax.Array:
    """virtual_mode=paper: each example's virtual entities f (M, E) from the learned ones, after
    1-simplicial attention over the standard entities x plus the recurrence term u_z = f_z Wu:
    f + [attention (+) u] Wvo, (batch, M, E)."""
    f = jnp.broadcast_to(p["virtual"], (x.shape[0],) + p["virtual"].shape)
    q = split_heads(f @ p["vq"], heads)
    k = split_heads(x @ p["vk"], heads)
    v = split_heads(x @ p["vv"], heads)
    logits = jnp.einsum("bzhd,bjhd->bhzj", q, k) / math.sqrt(q.shape[-1])
    attended = merge_heads(jnp.einsum("bhzj,bjhd->bzhd", jax.nn.softmax(logits, axis=-1), v))
    return f + jnp.concatenate([attended, f @ p["wu"]], axis=-1) @ p["vo"]


def _virtual_pairs(p, keys, variant):
    """(l1 . l2 dots (triple only), V_jk) per virtual pair: (b, h, M, M) and (b, h, M, M, d)."""
    l1, l2, u = keys[:3]
    if variant == "triple":
        bu = jnp.einsum("haec,bkhc->bhkae", p["B"], u)  # B(., u_k): (b, h, M, d, d)
        values = jnp.einsum("bhkae,bjhe->bhjka", bu, u)  # B(u_j (x) u_k)
        return (jnp.einsum("bjhd,bkhd->bhjk", l1, l2), values)
    return (jnp.einsum("bjhd,bkhd->bhjkd", u, keys[3]),)  # u_j * u2_k


def _use_pallas(implementation: str) -> bool:
    """implementation=pallas only (the compiler allowed it only for trilinear windows). auto takes
    the streamed JAX lowering everywhere, GPUs included: the kernel is tested against it in Pallas
    interpret mode and lowered to Triton IR on a CPU, but it has never run, nor been timed, on a
    GPU, and a default should not pick an unmeasured kernel. Once a GPU benchmark is recorded
    (benchmarks/simplicial.py, trilinear-window-pallas), auto can take it where it measured faster
    (docs/ops.md)."""
    return implementation == "pallas"


@lowering("simplicial_attention")
def simplicial_attention(
    ctx, x, heads, head_dim, out_dim, virtual, variant, window, window2, virtual_mode,
    implementation, logit_scale,
):
    p = ctx.params
    batch, n = x.shape[:2]
    q = split_heads(x @ p["wp"], heads)
    if logit_scale == "inv_d":  # the blocks divide by sqrt(d); the logits are linear in q
        q = q / math.sqrt(q.shape[-1])
    names = ("wl1", "wl2", "wu") + (("wu2",) if variant == "trilinear" else ())
    if virtual and virtual_mode == "paper":
        entities = updated_virtual(p, x, heads)
    elif virtual:  # the same for every example: project once, broadcast
        entities = jnp.broadcast_to(p["virtual"], (batch,) + p["virtual"].shape)
    else:
        entities = x
    keys = [split_heads(entities @ p[w], heads) for w in names]
    logits = triple_logits if variant == "triple" else trilinear_logits

    w1 = min(window, n) if window else 0
    w2 = min(window2 or window, n) if window else 0
    s1, s2 = (w1, w2) if window else (keys[0].shape[1],) * 2
    chunk, block = pair_blocks(n, s1, s2, heads)
    plan = dict(chunk=chunk, block=block, first_keys=s1, window=w1, window2=w2)

    if virtual:
        stream = PairStream(logits, pair_values, **plan)
        out = pair_softmax(stream, q, keys[:1], keys[1:2], _virtual_pairs(p, keys, variant))
    elif variant == "triple":
        l1, l2, u = keys
        dots = () if window else (jnp.einsum("bjhd,bkhd->bhjk", l1, l2),)
        outer = pair_softmax(PairStream(logits, outer_values, **plan), q, (l1, u), (l2, u), dots)
        out = jnp.einsum("haec,bhiec->bhia", p["B"], outer)  # out_i[a] = B[a] : D_i
    elif _use_pallas(implementation):
        # imported here: jax.experimental.pallas costs every lowering ~0.1 s to import
        from seqnet.backends.jax.ops.simplicial_pallas import trilinear_window

        l1, l2, u, u2 = keys
        out = trilinear_window(q, l1, u, l2, u2, w1, w2, interpret=jax.default_backend() == "cpu")
    else:
        l1, l2, u, u2 = keys
        out = pair_softmax(PairStream(logits, elementwise_values, **plan), q, (l1, u), (l2, u2))
    return merge_heads(jnp.moveaxis(out, 1, 2)) @ p["wo"]
