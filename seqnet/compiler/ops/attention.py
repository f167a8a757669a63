"""Attention: multi-head (1-simplicial) attention (2-simplicial attention is in simplicial.py)."""

from __future__ import annotations

from seqnet.compiler.ops.masks import check_key_mask
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

NOTES = """
`mask=` is a key mask: `bool[keys]`, the same for every query (padding:
`sequence_mask(length, T)`), or `bool[queries, keys]`. With `causal=true` a query reads the keys
both allow. Masked logits are set to a large finite negative rather than -inf (what
`jax.nn.dot_product_attention` does with a mask), so a query left with no key, a sequence of
length 0 or the causal positions before its first real key, has a finite softmax and gradient;
its output is then set to zeros (before the output projection's bias), rather than the average of
keys it may not read. Specs with a mask have no KV-cache rule: generation runs unpadded
sequences.
"""


def head_sizes(c: OpCall) -> tuple[int, int, int]:
    """(heads, head_dim, out_dim), with defaults derived from the model width E."""
    e = c["x"].dims[-1]
    heads = c["heads"]
    head_dim = c["head_dim"] or (e // heads if heads else 0)
    if not c["head_dim"] and heads and e % heads:
        raise ShapeError(
            f"the width {e} is not divisible by heads={heads}", arg="heads", code="SQN0304",
            hint="pass head_dim=... explicitly, or choose heads dividing the width",
        )  # fmt: skip
    return heads, head_dim, c["out_dim"] or e


def _attention_infer(c: OpCall):
    x = c["x"]
    need_float(x, "x")
    need_rank(x, "x", 2, " (sequence, features)")
    positive(c, "heads")
    kv = c.inputs.get("kv")
    if kv is not None:
        need_rank(kv, "kv", 2, " (sequence, features)")
        if c["causal"] and kv.dims[0] != x.dims[0]:
            raise ShapeError("causal cross-attention needs equal sequence lengths", arg="kv")
    check_key_mask(c.inputs.get("mask"), x.shape[0], (kv if kv is not None else x).shape[0])
    _, _, out = head_sizes(c)
    keep = not c["out_dim"] and out == x.shape[-1].value  # the width keeps its name (E)
    return [x.with_shape(x.shape[:1] + (x.shape[-1] if keep else dims(out)[0],))]


def _attention_params(c: OpCall):
    h, d, out = head_sizes(c)
    e = c["x"].dims[-1]
    kv = c.inputs.get("kv")
    ekv = kv.dims[-1] if kv is not None else e
    heads_in, heads_out = ("in", "heads"), ("heads", "out")  # column-, then row-parallel by heads
    p = {
        "wq": ParamSpec((e, h * d), axes=heads_in),
        "wk": ParamSpec((ekv, h * d), axes=heads_in),
        "wv": ParamSpec((ekv, h * d), axes=heads_in),
        "wo": ParamSpec((h * d, out), axes=heads_out),
    }
    if c["bias"]:
        p["bo"] = ParamSpec((out,), "zeros", axes=("out",))
    return p


def _attention_flops(c: OpCall, outs):
    h, d, out = head_sizes(c)
    n, e = c["x"].dims
    kv = c.inputs.get("kv")
    m, ekv = kv.dims if kv is not None else (n, e)
    proj = 2 * (n * e + 2 * m * ekv) * h * d + 2 * n * h * d * out
    return proj + 4 * n * m * h * d


def _attention_temporaries(c: OpCall, outs) -> dict[str, int]:
    """The scores the lowering holds: the logits and their softmax weights, heads x N x M
    each (N queries, M keys), in the input's dtype."""
    h, _, _ = head_sizes(c)
    n = c["x"].dims[0]
    kv = c.inputs.get("kv")
    m = kv.dims[0] if kv is not None else n
    return {f"scores 2 × {h} × {n} × {m}": 2 * h * n * m * DTYPE_BYTES[c["x"].dtype]}


op(
    "attention", "attention",
    [Arg("x", "tensor"), Arg("heads", "int", 1), Arg("head_dim", "int", 0, doc="0: width/heads"),
     Arg("out_dim", "int", 0, doc="0: the input width"), Arg("causal", "bool", False),
     Arg("kv", "tensor", None, doc="keys/values for cross-attention (default: x)"),
     Arg("bias", "bool", True),
     Arg("mask", "tensor", None, doc="bool[keys] (or [queries, keys]): the keys a query may read")],
    _attention_infer, params=_attention_params, flops=_attention_flops, feature_axis="out",
    temporaries=_attention_temporaries, notes=NOTES,
    doc="Multi-head scaled dot-product (1-simplicial) attention; `mask=` (a key mask, composable "
        "with causal) hides padding, and a query with no key left outputs zeros.",
)  # fmt: skip
