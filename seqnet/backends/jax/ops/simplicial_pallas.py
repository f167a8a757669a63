"""A Pallas kernel for trilinear sliding-window 2-simplicial attention (the 2025 formulation):
for query i, logits s_ijk = sum_c q_ic l1_jc l2_kc / sqrt(d) over j in [i - w1 + 1, i] and
k in [i - w2 + 1, i], a softmax over the pairs (j, k), out_i = sum_jk A_ijk (u_j * u2_k).
The same maths as `simplicial.py` with `pair_softmax`, written for GPUs but taken only with
implementation=pallas until a GPU benchmark is recorded (docs/ops.md, "The Pallas kernel", says
how it is blocked and why, and when `auto` would take it).

Blocking. Heads are folded into the batch: every array is (batch * heads, positions, d), with d
padded with zeros to a power of two of at least 16 (zeros change no dot product and no value),
so every tile a GPU loads has power-of-two sides. The grid is (batch * heads, query blocks of
BQ rows). A program holds its BQ queries, the k window of the whole block as one tile of
SK = next_pow2(BQ + w2 - 1) rows of l2 and u2, and walks the block's j positions one at a time
(BQ + w1 - 1 of them, read as single rows): for one j the logits of all BQ queries and SK keys k
are one matmul (q * l1_j) @ l2^T, masked to each row's windows, folded into an online softmax
(running max, running sum, rescaled accumulator), and their values (P @ u2) * u_j. Nothing of
size positions x w1 x w2 exists anywhere; the largest value is one (BQ, SK) tile.

Backward (jax.custom_vjp): the forward keeps the log-sum-exp of each query; a second kernel over
the same grid recomputes each j step's P = exp(s - lse) and, with delta_i = <g_i, out_i>,
ds = P (dP - delta), writes dq for its block and the cotangents of the key positions its block
read (a j span and a k span per block). Blocks overlap on keys, so instead of atomic adds
across programs each block writes its own span and the spans are overlap-added afterwards
(a scatter-add over a static index).

Positions before 0 are padding (zeros, masked out); positions after N are padding rows that are
sliced away.

Written for Pallas's Triton backend (every load and store a power-of-two tile, 2-D matmuls
with K >= 16); tests/backends/jax/test_simplicial_pallas.py lowers both kernels to Triton IR
through jax.export for CUDA on a CPU, which is as far as a machine without a GPU can go.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.experimental import pallas as pl
from jax.experimental.pallas import triton as pltriton

from seqnet.compiler.ops.simplicial import WindowTiles

# A finite "minus infinity" for the running max: exp(NEG - m) is 0 and NEG - NEG is not nan.
NEG = -1e30


@dataclass(frozen=True)
class WindowPlan(WindowTiles):
    """The kernel's static sizes (WindowTiles, planned in the compiler so the memory estimate
    agrees) and how it runs; hashable: the custom_vjp's static argument."""

    interpret: bool = False
    dtype: str = "float32"  # what the kernels compute and accumulate in: float32 or wider


# --- the kernels ---------------------------------------------------------------------------------


def _contract(a, b, dims):
    return lax.dot_general(a, b, (dims, ((), ())), preferred_element_type=a.dtype)


def _dot(a, b):
    return _contract(a, b, ((1,), (0,)))


def _dot_t(a, b):
    """a @ b.T."""
    return _contract(a, b, ((1,), (1,)))


def _tdot(a, b):
    """a.T @ b."""
    return _contract(a, b, ((0,), (0,)))


def _block_setup(plan: WindowPlan, q_ref, l2_ref, u2_ref):
    """The program's first position, scaled queries, k tile and k-window mask (BQ, SK)."""
    start = pl.program_id(1) * plan.block
    q = q_ref[...].astype(plan.dtype) * (1.0 / math.sqrt(plan.d))
    l2 = l2_ref[pl.ds(start, plan.ktile), :].astype(plan.dtype)
    u2 = u2_ref[pl.ds(start, plan.ktile), :].astype(plan.dtype)
    shape = (plan.block, plan.ktile)
    rows = lax.broadcasted_iota(jnp.int32, shape, 0)
    cols = lax.broadcasted_iota(jnp.int32, shape, 1)
    # tile column s is position start + s - (w2 - 1): row r's window is s in [r, r + w2 - 1]
    kmask = (cols >= rows) & (cols <= rows + plan.window2 - 1) & (start + cols >= plan.window2 - 1)
    return start, q, l2, u2, rows, kmask


def _jstep(plan: WindowPlan, start, t, q, l1_ref, u_ref, l2, rows, kmask):
    """j = span row t: its key rows, the logits of every query with every k, and the mask."""
    l1 = l1_ref[pl.ds(start + t, 1), :].astype(plan.dtype)
    u = u_ref[pl.ds(start + t, 1), :].astype(plan.dtype)
    s = _dot_t(q * l1, l2)  # (BQ, SK)
    # span row t is position start + t - (w1 - 1): in row r's window when r <= t <= r + w1 - 1
    jmask = (rows <= t) & (rows >= t - plan.window + 1) & (start + t >= plan.window - 1)
    return l1, u, s, kmask & jmask


def _forward_kernel(plan: WindowPlan, q_ref, l1_ref, u_ref, l2_ref, u2_ref, out_ref, lse_ref):
    start, q, l2, u2, rows, kmask = _block_setup(plan, q_ref, l2_ref, u2_ref)

    def step(t, carry):
        m, total, acc = carry
        _, u, s, mask = _jstep(plan, start, t, q, l1_ref, u_ref, l2, rows, kmask)
        m_new = jnp.maximum(m, jnp.max(jnp.where(mask, s, NEG), axis=1))
        p = jnp.where(mask, jnp.exp(s - m_new[:, None]), 0.0)
        alpha = jnp.exp(m - m_new)
        total = total * alpha + jnp.sum(p, axis=1)
        acc = acc * alpha[:, None] + _dot(p, u2) * u
        return m_new, total, acc

    init = (jnp.full((plan.block,), NEG, plan.dtype), jnp.zeros((plan.block,), plan.dtype),
            jnp.zeros((plan.block, plan.width), plan.dtype))  # fmt: skip
    m, total, acc = lax.fori_loop(0, plan.span, step, init)
    out_ref[...] = (acc / total[:, None]).astype(out_ref.dtype)
    lse_ref[...] = m + jnp.log(total)


def _backward_kernel(plan: WindowPlan, q_ref, l1_ref, u_ref, l2_ref, u2_ref, g_ref, lse_ref,
                     delta_ref, dq_ref, dl1_ref, du_ref, dl2_ref, du2_ref):  # fmt: skip
    start, q, l2, u2, rows, kmask = _block_setup(plan, q_ref, l2_ref, u2_ref)
    g = g_ref[...].astype(plan.dtype)
    lse, delta = lse_ref[...], delta_ref[...]
    dl1_ref[...] = jnp.zeros(dl1_ref.shape, dl1_ref.dtype)
    du_ref[...] = jnp.zeros(du_ref.shape, du_ref.dtype)

    def step(t, carry):
        dq, dl2, du2 = carry
        l1, u, s, mask = _jstep(plan, start, t, q, l1_ref, u_ref, l2, rows, kmask)
        p = jnp.where(mask, jnp.exp(s - lse[:, None]), 0.0)
        gu = g * u
        ds = p * (_dot_t(gu, u2) - delta[:, None])
        ql1 = q * l1
        t1 = _dot(ds, l2)  # sum_k ds_ijk l2_k: (BQ, width)
        dq = dq + t1 * l1
        dl1_ref[pl.ds(t, 1), :] = jnp.sum(t1 * q, axis=0, keepdims=True)
        du_ref[pl.ds(t, 1), :] = jnp.sum(_dot(p, u2) * g, axis=0, keepdims=True)
        return dq, dl2 + _tdot(ds, ql1), du2 + _tdot(p, gu)

    tile = jnp.zeros((plan.ktile, plan.width), plan.dtype)
    init = (jnp.zeros((plan.block, plan.width), plan.dtype), tile, tile)
    dq, dl2, du2 = lax.fori_loop(0, plan.span, step, init)
    dq_ref[...] = dq * (1.0 / math.sqrt(plan.d))
    dl2_ref[...] = dl2
    du2_ref[...] = du2


# --- pallas_call plumbing ------------------------------------------------------------------------


def _rows(plan: WindowPlan, rows: int):
    """A block of `rows` per (batch-head, query block), at block index (b, c)."""
    return pl.BlockSpec((None, rows, plan.width), lambda b, c: (b, c, 0))


def _whole(length: int, width: int):
    """A batch-head's whole key tensor (the kernel slices its span)."""
    return pl.BlockSpec((None, length, width), lambda b, c: (b, 0, 0))


def _vector(plan: WindowPlan):
    return pl.BlockSpec((None, plan.block), lambda b, c: (b, c))


def _span(tile: int, width: int):
    """One span cotangent per (batch-head, query block): (bh, blocks, tile, width)."""
    return pl.BlockSpec((None, None, tile, width), lambda b, c: (b, c, 0, 0))


def _key_specs(plan: WindowPlan):
    jlen, klen = plan.length(plan.jtile), plan.length(plan.ktile)
    return [_whole(jlen, plan.width), _whole(jlen, plan.width),
            _whole(klen, plan.width), _whole(klen, plan.width)]  # fmt: skip


# The Triton backend of Pallas, named: JAX's default GPU backend (Mosaic GPU) wants explicit
# layouts for the iotas and row slices this kernel is written with.
_TRITON = pltriton.CompilerParams(num_warps=4, num_stages=2)


def _forward(plan: WindowPlan, q, l1, u, l2, u2):
    bh, npad, width = q.shape
    acc = plan.dtype
    return pl.pallas_call(
        functools.partial(_forward_kernel, plan),
        out_shape=(jax.ShapeDtypeStruct((bh, npad, width), acc), jax.ShapeDtypeStruct((bh, npad), acc)),
        grid=(bh, plan.blocks),
        in_specs=[_rows(plan, plan.block), *_key_specs(plan)],
        out_specs=(_rows(plan, plan.block), _vector(plan)),
        interpret=plan.interpret,
        compiler_params=_TRITON,
        name="simplicial_window_forward",
    )(q, l1, u, l2, u2)


def _backward(plan: WindowPlan, q, l1, u, l2, u2, g, lse, delta):
    bh, npad, width = q.shape
    acc = plan.dtype

    def shaped(*shape):
        return jax.ShapeDtypeStruct(shape, acc)

    jspan, kspan = (bh, plan.blocks, plan.jtile, width), (bh, plan.blocks, plan.ktile, width)
    return pl.pallas_call(
        functools.partial(_backward_kernel, plan),
        out_shape=(shaped(bh, npad, width), shaped(*jspan), shaped(*jspan), shaped(*kspan),
                   shaped(*kspan)),  # fmt: skip
        grid=(bh, plan.blocks),
        in_specs=[_rows(plan, plan.block), *_key_specs(plan), _rows(plan, plan.block),
                  _vector(plan), _vector(plan)],  # fmt: skip
        out_specs=(_rows(plan, plan.block), _span(plan.jtile, width), _span(plan.jtile, width),
                   _span(plan.ktile, width), _span(plan.ktile, width)),  # fmt: skip
        interpret=plan.interpret,
        compiler_params=_TRITON,
        name="simplicial_window_backward",
    )(q, l1, u, l2, u2, g, lse, delta)


def _overlap_add(plan: WindowPlan, spans, tile: int):
    """Sum each block's span cotangent (bh, blocks, tile, width) into its positions c * BQ + t."""
    index = (np.arange(plan.blocks)[:, None] * plan.block + np.arange(tile)[None, :]).ravel()
    bh, _, _, width = spans.shape
    total = jnp.zeros((bh, plan.length(tile), width), spans.dtype)
    return total.at[:, index].add(spans.reshape(bh, -1, width))


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def _attend(plan: WindowPlan, q, l1, u, l2, u2):
    return _forward(plan, q, l1, u, l2, u2)[0]


def _attend_fwd(plan: WindowPlan, q, l1, u, l2, u2):
    out, lse = _forward(plan, q, l1, u, l2, u2)
    return out, (q, l1, u, l2, u2, out, lse)


def _attend_bwd(plan: WindowPlan, residuals, g):
    q, l1, u, l2, u2, out, lse = residuals
    g = g.astype(plan.dtype)
    delta = jnp.sum(g * out, axis=-1)
    dq, dl1, du, dl2, du2 = _backward(plan, q, l1, u, l2, u2, g, lse, delta)
    grads = (dq, _overlap_add(plan, dl1, plan.jtile), _overlap_add(plan, du, plan.jtile),
             _overlap_add(plan, dl2, plan.ktile), _overlap_add(plan, du2, plan.ktile))  # fmt: skip
    return tuple(d.astype(x.dtype) for d, x in zip(grads, (q, l1, u, l2, u2), strict=True))


_attend.defvjp(_attend_fwd, _attend_bwd)


# --- the entry point -----------------------------------------------------------------------------


def _flat(plan: WindowPlan, x, left: int, length: int):
    """(b, N, h, d) -> (b * h, length, width): heads into the batch, `left` zero rows before
    position 0, zero rows after N up to `length`, d padded with zeros to the width."""
    b, n, h, d = x.shape
    x = jnp.moveaxis(x, 2, 1).reshape(b * h, n, d)
    return jnp.pad(x, ((0, 0), (left, length - left - n), (0, plan.width - d)))


def trilinear_window(q, l1, u, l2, u2, window: int, window2: int, *, interpret: bool):
    """sum_(j,k) softmax_(j,k)(sum_c q_ic l1_jc l2_kc / sqrt(d)) (u_j * u2_k) over the causal
    windows j in [i - window + 1, i], k in [i - window2 + 1, i]; inputs (b, N, h, d), the
    result (b, h, N, d) in float32 or wider (pair_softmax's layout and dtype)."""
    b, n, h, d = q.shape
    dtype = jnp.promote_types(q.dtype, jnp.float32)
    plan = WindowPlan(n=n, d=d, window=window, window2=window2, interpret=interpret,
                      dtype=dtype.name)  # fmt: skip
    jlen, klen = plan.length(plan.jtile), plan.length(plan.ktile)
    flat_q = _flat(plan, q, 0, plan.blocks * plan.block)
    flat_j = [_flat(plan, t, window - 1, jlen) for t in (l1, u)]
    flat_k = [_flat(plan, t, window2 - 1, klen) for t in (l2, u2)]
    out = _attend(plan, flat_q, flat_j[0], flat_j[1], flat_k[0], flat_k[1])
    out = out[:, :n, :d].reshape(b, h, n, d)
    return out.astype(dtype)
