"""2-simplicial attention (design/mechanisms.md section 3): its signature, parameters, costs,
and the block plan its streamed lowering follows (backends/jax/ops/simplicial.py).

The lowering never holds the (N, S, S) pair tensors of all queries at once: it walks query
chunks of Q rows and, inside each, blocks of J first keys, with an online softmax, and its
backward recomputes each block. `pair_blocks` chooses Q and J, so the memory estimate
(`temporaries`) and the lowering agree on what is held.
"""

from __future__ import annotations

from dataclasses import dataclass

from seqnet.compiler.ops.attention import head_sizes
from seqnet.compiler.ops.registry import (
    Arg,
    OpCall,
    ParamSpec,
    ShapeError,
    dims,
    need_float,
    need_rank,
    op,
    positive,
)
from seqnet.compiler.types import DTYPE_BYTES

# Elements of one (heads, Q, J, S2) pair block per example: 2^18 float32 values are 1 MiB, small
# enough for a CPU's caches to matter little and large enough that the loop overhead is noise.
BLOCK_ELEMENTS = 1 << 18
IMPLEMENTATIONS = ("auto", "jax", "pallas")
# the logits' divisor: sqrt(head_dim), dot-product attention's temperature, or head_dim
LOGIT_SCALES = ("inv_sqrt_d", "inv_d")


def _balanced(total: int, most: int) -> int:
    """The smallest block size that covers `total` in as few blocks as blocks of `most` do."""
    count = -(-total // max(1, most))
    return -(-total // count)


def pair_blocks(n: int, s1: int, s2: int, heads: int) -> tuple[int, int]:
    """(Q, J): queries per chunk and first keys per block for N queries over S1 x S2 pairs.
    Whole queries while one query's pairs fit BLOCK_ELEMENTS (J = S1), else one query at a time
    and the first keys in blocks (the second keys are never split)."""
    per_query = heads * s1 * s2
    if per_query <= BLOCK_ELEMENTS:
        return _balanced(n, BLOCK_ELEMENTS // per_query), s1
    return 1, _balanced(s1, BLOCK_ELEMENTS // (heads * s2))


def _pow2(n: int, least: int = 1) -> int:
    return max(least, 1 << max(0, n - 1).bit_length())


@dataclass(frozen=True)
class WindowTiles:
    """The sizes the Pallas kernel of the trilinear windows works in (its module,
    backends/jax/ops/simplicial_pallas.py, says why), planned here so that the memory estimate
    and the kernel agree. BQ = 16 queries per program: the smallest side a GPU matmul tile takes
    well, so the k tile BQ + w2 - 1 stays small for the windows the 2025 paper uses."""

    n: int  # N real positions
    d: int  # head width
    window: int  # w1 (clipped at N)
    window2: int  # w2
    block: int = 16  # BQ

    @property
    def blocks(self) -> int:
        return -(-self.n // self.block)

    @property
    def span(self) -> int:
        """j positions a block reads: BQ + w1 - 1."""
        return self.block + self.window - 1

    @property
    def jtile(self) -> int:
        """Rows of each block's j-span cotangent (the span rounded up to a power of two)."""
        return _pow2(self.span)

    @property
    def ktile(self) -> int:
        """SK: rows of the k tile a block loads, BQ + w2 - 1 rounded up to a power of two."""
        return _pow2(self.block + self.window2 - 1)

    @property
    def width(self) -> int:
        """The head width padded with zeros to a power of two of at least 16."""
        return _pow2(self.d, 16)

    def length(self, tile: int) -> int:
        """Padded positions of a key tensor whose blocks read `tile` rows from c * BQ."""
        return (self.blocks - 1) * self.block + tile


def key_ranges(c: OpCall) -> tuple[int, int]:
    """(S1, S2): how many keys j and k range over for each query: the M virtual entities, the
    windows (clipped at N), or all N entities."""
    n = c["x"].dims[0]
    if c["virtual"]:
        return c["virtual"], c["virtual"]
    if c["window"]:
        w1 = min(c["window"], n)
        return w1, min(c["window2"] or c["window"], n)
    return n, n


def _simplicial_infer(c: OpCall):
    x = c["x"]
    need_float(x, "x")
    need_rank(x, "x", 2, " (entities, features)")
    positive(c, "heads")
    for name in ("virtual", "window", "window2"):
        if c[name] < 0:
            raise ShapeError(f"{name} must be 0 or more", arg=name, code="SQN0108")
    if c["virtual"] and c["window"]:
        raise ShapeError(
            "virtual entities and sliding windows cannot be combined", arg="window", code="SQN0108",
            hint="virtual entities already make the cost O(N M^2)",
        )  # fmt: skip
    if c["window2"] and not c["window"]:
        raise ShapeError(
            "window2 (the second key's window) needs window", arg="window2", code="SQN0108",
            hint="set window=w1 as well: j runs over the last w1 positions, k over the last w2",
        )  # fmt: skip
    if c["implementation"] == "pallas" and not (c["variant"] == "trilinear" and c["window"]):
        raise ShapeError(
            "implementation=pallas is the kernel of the trilinear sliding-window form only",
            arg="implementation", code="SQN0108",
            hint="use it with variant=trilinear and window=w (and optionally window2), or "
                 "implementation=auto, which picks the streamed JAX lowering here",
        )  # fmt: skip
    _, _, out = head_sizes(c)
    keep = not c["out_dim"] and out == x.shape[-1].value  # the width keeps its name (E)
    return [x.with_shape(x.shape[:1] + (x.shape[-1] if keep else dims(out)[0],))]


def _paper_virtual(c: OpCall) -> bool:
    return bool(c["virtual"]) and c["virtual_mode"] == "paper"


def _simplicial_params(c: OpCall):
    h, d, out = head_sizes(c)
    e = c["x"].dims[-1]
    heads_in, heads_out = ("in", "heads"), ("heads", "out")
    p = {
        "wp": ParamSpec((e, h * d), axes=heads_in),
        "wl1": ParamSpec((e, h * d), axes=heads_in),
        "wl2": ParamSpec((e, h * d), axes=heads_in),
        "wu": ParamSpec((e, h * d), axes=heads_in),
        "wo": ParamSpec((h * d, out), axes=heads_out),
    }
    if c["variant"] == "triple":
        p["B"] = ParamSpec((h, d, d, d), "normal", d**-1.5)
    else:
        p["wu2"] = ParamSpec((e, h * d))
    if c["virtual"]:
        p["virtual"] = ParamSpec((c["virtual"], e), "normal", 0.02)
    if _paper_virtual(c):
        # the virtual entities' own 1-simplicial attention over the standard entities, and the
        # map of (its output (+) the recurrence term u_z) back to the entity width
        p.update(vq=ParamSpec((e, h * d)), vk=ParamSpec((e, h * d)), vv=ParamSpec((e, h * d)),
                 vo=ParamSpec((2 * h * d, e)))  # fmt: skip
    return p


def _simplicial_flops(c: OpCall, outs):
    h, d, out = head_sizes(c)
    n, e = c["x"].dims
    s1, s2 = key_ranges(c)
    m = c["virtual"]
    proj = 2 * (n + m) * e * h * d * 5 + 2 * n * h * d * out
    logits = n * s1 * s2 * h * 8 * d  # the triple product from dot products, per (i, j, k)
    if m:  # values once per virtual pair (B(u_j (x) u_k) for the triple product), then A . V
        pair = d**3 if c["variant"] == "triple" else d
        values = 2 * h * (m * m * pair + n * m * m * d)
    elif c["variant"] == "triple":  # sum_k A u_k, then u_j (x) C_ij, then B : D_i
        values = 2 * n * h * (s1 * s2 * d + s1 * d * d + d**3)
    else:
        values = 2 * n * h * (s1 * s2 * d + s1 * d)
    update = 0
    if _paper_virtual(c):  # projections, M x N attention, (attention (+) u) @ vo
        update = 2 * (m + 2 * n) * e * h * d + 4 * m * n * h * d + 2 * m * 2 * h * d * e
    return proj + logits + values + update


def _simplicial_temporaries(c: OpCall, outs) -> dict[str, int]:
    """What the streamed lowering holds per example, with S1 x S2 the pairs (j, k) of each query,
    Q x J the block `pair_blocks` plans and d = head_dim: one block's logits and weights
    (heads x Q x J x S2 each); with keys shared by every query (all pairs, virtual entities) the
    key-key dots l1_j . l2_k of the triple product (S1 x S2, computed once); the block's value
    sums C = sum_k A v_k (Q x J x d); for the triple product over entities D_i = sum_j u_j (x) C_ij
    for every query (N x d x d, the kernel's result); with virtual entities the pair values
    V_jk (M x M x d); in a window each chunk's keys gathered per query (2 tensors of Q x J' x d
    on the j side, J' the window rounded up to whole blocks, and 2 of Q x S2 x d on the k side).
    In the input's dtype. implementation=pallas: `_pallas_temporaries`; auto is counted as the
    JAX lowering, which it runs everywhere (see `_use_pallas` in the JAX backend)."""
    h, d, _ = head_sizes(c)
    n = c["x"].dims[0]
    s1, s2 = key_ranges(c)
    if c["implementation"] == "pallas":
        return _pallas_temporaries(WindowTiles(n, d, s1, s2), h, DTYPE_BYTES[c["x"].dtype])
    q, j = pair_blocks(n, s1, s2, h)
    size = DTYPE_BYTES[c["x"].dtype]
    triple = c["variant"] == "triple"
    parts = {f"pair blocks 2 × {h} × {q} × {j} × {s2}": 2 * h * q * j * s2 * size}
    if triple and not c["window"]:
        parts[f"key-key dots {h} × {s1} × {s2}"] = h * s1 * s2 * size
    if c["virtual"]:
        parts[f"pair values {h} × {s1} × {s2} × {d}"] = h * s1 * s2 * d * size
    else:
        parts[f"value sums {h} × {q} × {j} × {d}"] = h * q * j * d * size
        if triple:
            parts[f"value outer products {h} × {n} × {d} × {d}"] = h * n * d * d * size
    if c["window"]:
        wide = -(-s1 // j) * j
        parts[f"gathered keys {h} × {q} × (2 × {wide} + 2 × {s2}) × {d}"] = (
            h * q * (2 * wide + 2 * s2) * d * size
        )
    return parts


def _pallas_temporaries(t: WindowTiles, h: int, size: int) -> dict[str, int]:
    """What the Pallas kernel's program holds per example outside the kernels: the queries and
    keys copied head-major and padded (positions to whole blocks and tiles, d to the width), in
    the input's dtype; the kernel's result and each query's log-sum-exp, and the backward's span
    cotangents (a j span and a k span per block for two tensors each), in float32 or wider."""
    acc = max(size, 4)
    rows, jlen, klen = t.blocks * t.block, t.length(t.jtile), t.length(t.ktile)
    return {
        f"padded copies {h} × ({rows} + 2 × {jlen} + 2 × {klen}) × {t.width}":
            h * (rows + 2 * jlen + 2 * klen) * t.width * size,
        f"kernel result and log-sum-exp {h} × {rows} × ({t.width} + 1)": h * rows * (t.width + 1) * acc,
        f"span cotangents {h} × {t.blocks} × 2 × ({t.jtile} + {t.ktile}) × {t.width}":
            h * t.blocks * 2 * (t.jtile + t.ktile) * t.width * acc,
    }  # fmt: skip


NOTES = """
Decisions (design/mechanisms.md section 3; the lowering's docstring in
`seqnet/backends/jax/ops/simplicial.py` has the formulas):

- **Pairs.** For each query i the pairs (j, k) are ordered and include j == k: all N^2 pairs of
  entities (not causal), the M^2 pairs of virtual entities, or causal sliding windows
  j in [i - window + 1, i], k in [i - window2 + 1, i] (window2 = 0: the same as window; the
  trilinear 2025 formulation with w1 != w2, O(N w1 w2); it applies to the triple product too).
- **Virtual entities, `virtual_mode=paper` (default).** Per example, the M virtual entities
  start from learned vectors (`virtual`, M x E) and are updated inside the op, before its pair
  sum, by their own 1-simplicial attention over the N standard entities (weights `vq`, `vk`,
  `vv`) plus the recurrence term u_z = f_z Wu (the paper's second summand):
  f'_z = f_z + [attention_z (+) u_z] Wvo. The standard entities never attend to them in the
  1-simplicial part (the block's `attention` op does not see them); the 2-simplicial sum of the
  standard entities runs over the virtual pairs only, with B(u_j (x) u_k) computed once per pair;
  the virtual entities are dropped after the op. Two readings of the paper decided here: the
  virtual queries attend to the standard entities only (the paper's appendix writes the sum over
  all entities; with the update inside one op there are no other virtual states to attend to), and
  the update runs once per op call (in a repeated block, each iteration starts again from the
  learned vectors and the current entities) rather than carrying virtual rows through the block's
  feed-forward layers. `virtual_mode=fixed` keeps the earlier behaviour: the learned vectors are the
  virtual entities of every example and nothing updates them.
- **Logit scale (`logit_scale=`).** The logits are divided by sqrt(d) by default, the
  temperature of dot-product attention; `inv_d` divides them by d instead. For random N(0, 1)
  vectors the triple product <p, a, b> / sqrt(d) has a spread of 1.4, 3.0, 4.2, 5.1 at d = 8, 16,
  32, 64 and <p, a, b> / d one of 0.5 to 0.7, about that of q . k / sqrt(d), so 1/d is the
  dimensionally matched temperature of the triple product; whether it trains better is measured
  in docs/results.md section 4 (it did not, there). Both variants' logits are homogeneous of
  degree one in the query, so the lowering applies the extra 1/sqrt(d) to the queries, and the
  streamed lowering and the Pallas kernel are unchanged.
- **Streaming.** The lowering walks query chunks and blocks of first keys with an online softmax;
  its backward (a custom vjp) recomputes each block from the log-sum-exp it kept. It holds one
  block (heads x Q x J x S2, at most 2^18 elements per example unless one query's second keys
  alone are more), the key-key dots of shared keys (S1 x S2) and per-query d x d value sums, never
  the N x S1 x S2 pair tensors: `temporaries` counts exactly these.
- **The Pallas kernel (`implementation=`).** For `variant=trilinear` with `window`, a Pallas
  kernel (`seqnet/backends/jax/ops/simplicial_pallas.py`) computes the same maths; `pallas` uses
  it (in Pallas interpret mode on a CPU: correct, slow, for tests), `auto` (the default) and
  `jax` take the streamed JAX lowering, on a GPU too: the kernel has not yet run or been timed
  on a GPU, and the default will not pick an unmeasured kernel; once a GPU benchmark is recorded
  (`benchmarks/simplicial.py`, `trilinear-window-pallas`), `auto` may take it where it won. Its blocking:
  heads folded into the batch, the head width padded with zeros to a power of two (at least 16),
  a grid of (batch x heads, blocks of BQ = 16 queries). A program loads its queries and the
  block's whole k window as one tile of SK = next_pow2(BQ + w2 - 1) rows of l2 and u2, then walks
  the block's BQ + w1 - 1 positions j one at a time: for one j, the logits of all BQ queries with
  all SK keys are one matmul (q * l1_j) @ l2^T, masked to each query's two windows and folded
  into an online softmax, and the values are (P @ u2) * u_j. The largest value a program holds
  is one BQ x SK tile; it computes (BQ + w1 - 1) x SK logits per BQ x w1 x w2 that count (about
  3x at w1 = w2 = 32), the price of matmul-shaped work. The backward (a custom vjp) keeps each
  query's log-sum-exp, recomputes every j step's weights in a second kernel over the same grid,
  writes dq for the block and the cotangents of the key rows the block read (a j span and a
  k span per block), and the overlapping spans are summed afterwards by a scatter-add, so no two
  programs write the same memory. Suited to windows up to a few hundred; the k tile is not split.
  It is written for Pallas's Triton backend (named in its compiler parameters: JAX's default GPU
  backend, Mosaic GPU, wants explicit layouts). The tests run it in interpret mode against the JAX
  lowering and lower both kernels to Triton IR through `jax.export` for CUDA, on a CPU; it has not
  yet been compiled or timed on a GPU.
"""


op(
    "simplicial_attention", "attention",
    [Arg("x", "tensor"), Arg("heads", "int", 1), Arg("head_dim", "int", 0),
     Arg("out_dim", "int", 0), Arg("virtual", "int", 0, doc="M virtual entities"),
     Arg("variant", "choice", "triple", ("triple", "trilinear")),
     Arg("window", "int", 0, doc="causal sliding window: j in [i-w+1, i]; 0: all pairs"),
     Arg("window2", "int", 0, doc="k's window (0: the same as window)"),
     Arg("virtual_mode", "choice", "paper", ("paper", "fixed"),
         doc="paper: updated per example by attention over the entities; fixed: learned only"),
     Arg("implementation", "choice", "auto", IMPLEMENTATIONS,
         doc="auto: the streamed JAX lowering (the Pallas kernel is not yet measured on a GPU); pallas: the kernel"),
     Arg("logit_scale", "choice", "inv_sqrt_d", LOGIT_SCALES,
         doc="the logits times 1/sqrt(head_dim) (as in dot-product attention) or 1/head_dim")],
    _simplicial_infer, params=_simplicial_params, flops=_simplicial_flops,
    temporaries=_simplicial_temporaries, notes=NOTES,
    doc="2-simplicial attention: logits from the unsigned scalar triple product <p_i, l1_j, l2_k>, "
        "values B(u_j (x) u_k); with virtual=M the pair sum runs over M virtual entities, "
        "updated per example by 1-simplicial attention over the entities (virtual_mode=paper).",
)  # fmt: skip
