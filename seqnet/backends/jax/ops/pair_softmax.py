"""The streamed pair softmax under 2-simplicial attention: for every query i, a softmax over the
pairs (j, k) of its logits and the weighted sum of the pair values, without ever holding the
(N, S1, S2) pair tensors of all queries.

The queries are walked in chunks of Q rows (a scan), each chunk's first keys j in blocks of J
(an inner scan) with an online softmax (running max, running sum, rescaled accumulator), so one
(heads, Q, J, S2) block is alive at a time. The backward (a jax.custom_vjp) keeps only the inputs,
the normalised result and the log-sum-exp of each query, and walks the same blocks again:
with P = exp(s - lse) recomputed, dP from the values' vjp, delta_i = <g_i, out_i> and
ds = P (dP - delta), the logits' vjp gives the query and key cotangents. Nothing of size
N x S1 x S2 is stored in either direction. `seqnet.compiler.ops.simplicial.pair_blocks` plans Q
and J, so the memory estimate knows the block.

Layouts (batch b, heads h, head width d):
* q: (b, N, h, d).
* Key tensors on the j side and the k side, tuples: shared by every query, (b, S, h, ...), or,
  for causal sliding windows, given over positions (b, N, h, ...) and gathered per chunk into
  (b, Q, w, h, ...): query i reads positions i - w + 1 .. i (w1 on the j side, w2 on the k side);
  positions before 0 are masked out.
* Pair tensors (shared layout only), a tuple of (b, h, S1, S2, ...): what is known per pair
  before any query (the triple product's key-key dots, virtual entities' pair values).
* `logits(q, jkeys, kkeys, pair)` -> (b, h, Q, J, S2) (scaled); `values(w, jkeys, kkeys, pair)`
  -> (b, h, Q, ...), linear in the weights w. The result is (b, h, N, ...).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax


@dataclass(frozen=True)
class PairStream:
    """What to compute and how to block it (hashable: a static argument of the custom_vjp)."""

    logits: Callable
    values: Callable
    chunk: int  # Q queries per chunk
    block: int  # J first keys per block
    first_keys: int  # S1: keys j range over (the window w1 when windowed)
    window: int = 0  # w1: 0 when the keys are shared by every query
    window2: int = 0  # w2

    @property
    def blocks(self) -> int:
        return -(-self.first_keys // self.block)

    @property
    def wide(self) -> int:
        """The j extent a chunk reads, whole blocks: S1 rounded up to a multiple of J."""
        return self.blocks * self.block


def _pad(t, axis: int, left: int, right: int):
    if not left and not right:
        return t
    widths = [(0, 0)] * t.ndim
    widths[axis] = (left, right)
    return jnp.pad(t, widths)


def _slice(t, start, size: int, axis: int):
    return lax.dynamic_slice_in_dim(t, start, size, axis=axis)


def pair_softmax(stream: PairStream, q, jkeys: tuple, kkeys: tuple, pair: tuple = ()):
    """sum_(j,k) softmax_(j,k)(logits_ijk) values_ijk for every query i: (b, h, N, ...)."""
    jkeys, kkeys, pair = tuple(jkeys), tuple(kkeys), tuple(pair)
    n = q.shape[1]
    chunks = -(-n // stream.chunk)
    padded = chunks * stream.chunk
    if chunks == 1 and stream.blocks == 1 and not stream.window:
        return _whole(stream, q, jkeys, kkeys, pair)
    q = _pad(q, 1, 0, padded - n)
    if stream.window:  # position p sits at p + w - 1; a chunk reads Q + width - 1 positions
        w1, w2 = stream.window, stream.window2
        jkeys = tuple(_pad(t, 1, w1 - 1, padded + stream.wide - w1 - n) for t in jkeys)
        kkeys = tuple(_pad(t, 1, w2 - 1, padded - n) for t in kkeys)
    else:
        extra = stream.wide - stream.first_keys
        jkeys = tuple(_pad(t, 1, 0, extra) for t in jkeys)
        pair = tuple(_pad(t, 2, 0, extra) for t in pair)
    return _streamed(stream, q, jkeys, kkeys, pair)[:, :, :n]


def _whole(stream: PairStream, q, jkeys, kkeys, pair):
    """All queries and pairs in one block (the plan's block covers them): plain softmax and
    autodiff, which hold the same one block and skip the loops' overhead."""
    s = stream.logits(q, jkeys, kkeys, pair)
    shape = s.shape
    dtype = _acc_dtype(q)
    w = jax.nn.softmax(s.astype(dtype).reshape(shape[:3] + (-1,)), axis=-1).reshape(shape)
    return stream.values(w, jkeys, kkeys, pair).astype(dtype)


# --- one chunk of queries ------------------------------------------------------------------------


def _spans(stream: PairStream, i0):
    """(start, length) along axis 1 of the j-side and the k-side key tensors a chunk reads."""
    if not stream.window:
        return None
    return (i0, stream.chunk + stream.wide - 1), (i0, stream.chunk + stream.window2 - 1)


def _gather(stream: PairStream, jspan: tuple, kspan: tuple):
    """Each query's window out of its chunk's spans: (b, Q, width, ...) (static indices)."""
    rows = np.arange(stream.chunk)[:, None]
    jindex = rows + np.arange(stream.wide)[None, :]
    kindex = rows + np.arange(stream.window2)[None, :]
    return tuple(t[:, jindex] for t in jspan), tuple(t[:, kindex] for t in kspan)


def _chunk_keys(stream: PairStream, i0, jkeys, kkeys):
    spans = _spans(stream, i0)
    if spans is None:
        return jkeys, kkeys
    (js, jl), (ks, kl) = spans
    return _gather(
        stream, tuple(_slice(t, js, jl, 1) for t in jkeys), tuple(_slice(t, ks, kl, 1) for t in kkeys)
    )


def _valid(stream: PairStream, i0):
    """Which j (Q or 1, S1 rounded up) and k (Q, w2) a chunk's queries may read (None: all)."""
    if stream.window:
        rows = i0 + np.arange(stream.chunk)[:, None]
        t = np.arange(stream.wide)[None, :]
        vj = (rows - (stream.window - 1) + t >= 0) & (t < stream.window)
        vk = rows - (stream.window2 - 1) + np.arange(stream.window2)[None, :] >= 0
        return vj, vk
    if stream.wide == stream.first_keys:
        return None, None
    return jnp.asarray(np.arange(stream.wide)[None, :] < stream.first_keys), None


def _block(stream: PairStream, jb, jkeys, pair, valid):
    """The jb-th block of first keys: its key and pair slices and its mask (or None)."""
    j0 = jb * stream.block
    axis = 2 if stream.window else 1
    jt = tuple(_slice(t, j0, stream.block, axis) for t in jkeys)
    pt = tuple(_slice(t, j0, stream.block, 2) for t in pair)
    vj, vk = valid
    mask = None
    if vj is not None:
        mask = _slice(vj, j0, stream.block, 1)[:, :, None]
        if vk is not None:
            mask = mask & vk[:, None, :]
    return j0, jt, pt, mask


def _acc_dtype(q):
    return jnp.promote_types(q.dtype, jnp.float32)


def _expand(a, like):
    return a.reshape(a.shape + (1,) * (like.ndim - a.ndim))


def _chunk_forward(stream: PairStream, q, jkeys, kkeys, pair, valid):
    """(out, lse) of one chunk: out (b, h, Q, ...) normalised, lse (b, h, Q)."""
    dtype = _acc_dtype(q)
    _, jt, pt, _ = _block(stream, 0, jkeys, pair, valid)
    s_shape = jax.eval_shape(stream.logits, q, jt, kkeys, pt)
    weights = jax.ShapeDtypeStruct(s_shape.shape, dtype)
    v_shape = jax.eval_shape(stream.values, weights, jt, kkeys, pt)

    def body(carry, jb):
        m, total, acc = carry
        _, jt, pt, mask = _block(stream, jb, jkeys, pair, valid)
        s = stream.logits(q, jt, kkeys, pt).astype(dtype)
        if mask is not None:
            s = jnp.where(mask, s, -jnp.inf)
        m_new = jnp.maximum(m, jnp.max(s, axis=(-2, -1)))
        m_safe = jnp.where(jnp.isfinite(m_new), m_new, 0.0)
        w = jnp.exp(s - m_safe[..., None, None])
        scale = jnp.exp(m - m_safe)
        total = total * scale + jnp.sum(w, axis=(-2, -1))
        acc = acc * _expand(scale, acc) + stream.values(w, jt, kkeys, pt).astype(dtype)
        return (m_new, total, acc), None

    init = (jnp.full(s_shape.shape[:3], -jnp.inf, dtype), jnp.zeros(s_shape.shape[:3], dtype),
            jnp.zeros(v_shape.shape, dtype))  # fmt: skip
    (m, total, acc), _ = lax.scan(body, init, jnp.arange(stream.blocks))
    return acc / _expand(total, acc), m + jnp.log(total)


def _chunk_backward(stream: PairStream, q, jkeys, kkeys, pair, valid, g, lse, delta):
    """Cotangents of one chunk's query rows and of the keys and pairs it read."""
    axis = 2 if stream.window else 1
    _, jt, pt, _ = _block(stream, 0, jkeys, pair, valid)
    s_dtype = jax.eval_shape(stream.logits, q, jt, kkeys, pt).dtype
    weights = jax.ShapeDtypeStruct(jax.eval_shape(stream.logits, q, jt, kkeys, pt).shape, lse.dtype)
    g = g.astype(jax.eval_shape(stream.values, weights, jt, kkeys, pt).dtype)

    def body(carry, jb):
        dq, dj, dk, dp = carry
        j0, jt, pt, mask = _block(stream, jb, jkeys, pair, valid)
        s, logits_vjp = jax.vjp(stream.logits, q, jt, kkeys, pt)
        s = s.astype(lse.dtype)
        if mask is not None:
            s = jnp.where(mask, s, -jnp.inf)
        w = jnp.exp(s - lse[..., None, None])
        _, values_vjp = jax.vjp(stream.values, w, jt, kkeys, pt)
        dw, djv, dkv, dpv = values_vjp(g)
        ds = w * (dw - delta[..., None, None])
        dqs, djs, dks, dps = logits_vjp(ds.astype(s_dtype))
        dj = tuple(lax.dynamic_update_slice_in_dim(a, b + c, j0, axis)
                   for a, b, c in zip(dj, djv, djs, strict=True))  # fmt: skip
        dp = tuple(lax.dynamic_update_slice_in_dim(a, b + c, j0, 2)
                   for a, b, c in zip(dp, dpv, dps, strict=True))  # fmt: skip
        dk = tuple(a + b + c for a, b, c in zip(dk, dkv, dks, strict=True))
        return (dq + dqs, dj, dk, dp), None

    zeros = jax.tree_util.tree_map(jnp.zeros_like, (q, jkeys, kkeys, pair))
    (dq, dj, dk, dp), _ = lax.scan(body, zeros, jnp.arange(stream.blocks))
    return dq, dj, dk, dp


# --- all chunks, and the custom vjp --------------------------------------------------------------


def _chunks(stream: PairStream, q):
    return q.shape[1] // stream.chunk


def _unchunk(stacked, axis: int):
    """(chunks, ..., Q at `axis`, ...) -> (..., chunks * Q, ...)."""
    moved = jnp.moveaxis(stacked, 0, axis)
    return moved.reshape(moved.shape[:axis] + (-1,) + moved.shape[axis + 2 :])


def _forward(stream: PairStream, q, jkeys, kkeys, pair):
    def body(_, c):
        i0 = c * stream.chunk
        jv, kv = _chunk_keys(stream, i0, jkeys, kkeys)
        q_c = _slice(q, i0, stream.chunk, 1)
        return None, _chunk_forward(stream, q_c, jv, kv, pair, _valid(stream, i0))

    _, (out, lse) = lax.scan(body, None, jnp.arange(_chunks(stream, q)))
    return _unchunk(out, 2), _unchunk(lse, 2)


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def _streamed(stream: PairStream, q, jkeys, kkeys, pair):
    return _forward(stream, q, jkeys, kkeys, pair)[0]


def _streamed_fwd(stream: PairStream, q, jkeys, kkeys, pair):
    out, lse = _forward(stream, q, jkeys, kkeys, pair)
    return out, (q, jkeys, kkeys, pair, out, lse)


def _add_span(total, part, span):
    if span is None:
        return total + part
    start, length = span
    return lax.dynamic_update_slice_in_dim(total, _slice(total, start, length, 1) + part, start, 1)


def _streamed_bwd(stream: PairStream, residuals, g):
    q, jkeys, kkeys, pair, out, lse = residuals
    delta = jnp.sum(g * out, axis=tuple(range(3, out.ndim)))
    size = stream.chunk

    def body(carry, c):
        dj, dk, dp = carry
        i0 = c * size
        spans = _spans(stream, i0)
        if spans is None:
            (jv, kv), gather_vjp = (jkeys, kkeys), lambda d: d
        else:
            (js, jl), (ks, kl) = spans
            jspan = tuple(_slice(t, js, jl, 1) for t in jkeys)
            kspan = tuple(_slice(t, ks, kl, 1) for t in kkeys)
            (jv, kv), gather_vjp = jax.vjp(functools.partial(_gather, stream), jspan, kspan)
        pieces = [_slice(t, i0, size, 2) for t in (g, lse, delta)]
        dq, djv, dkv, dpv = _chunk_backward(
            stream, _slice(q, i0, size, 1), jv, kv, pair, _valid(stream, i0), *pieces
        )
        djs, dks = gather_vjp((djv, dkv))
        jspan_, kspan_ = spans if spans is not None else (None, None)
        dj = tuple(_add_span(a, b, jspan_) for a, b in zip(dj, djs, strict=True))
        dk = tuple(_add_span(a, b, kspan_) for a, b in zip(dk, dks, strict=True))
        dp = tuple(a + b for a, b in zip(dp, dpv, strict=True))
        return (dj, dk, dp), dq

    zeros = jax.tree_util.tree_map(jnp.zeros_like, (jkeys, kkeys, pair))
    (dj, dk, dp), dq = lax.scan(body, zeros, jnp.arange(_chunks(stream, q)))
    return _unchunk(dq, 1), dj, dk, dp


_streamed.defvjp(_streamed_fwd, _streamed_bwd)
