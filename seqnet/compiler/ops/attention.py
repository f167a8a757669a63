"""Attention: multi-head (1-simplicial) attention and 2-simplicial attention with virtual entities."""

from __future__ import annotations

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


def _heads(c: OpCall) -> tuple[int, int, int]:
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
    _, _, out = _heads(c)
    keep = not c["out_dim"] and out == x.shape[-1].value  # the width keeps its name (E)
    return [x.with_shape(x.shape[:1] + (x.shape[-1] if keep else dims(out)[0],))]


def _attention_params(c: OpCall):
    h, d, out = _heads(c)
    e = c["x"].dims[-1]
    kv = c.inputs.get("kv")
    ekv = kv.dims[-1] if kv is not None else e
    p = {
        "wq": ParamSpec((e, h * d)),
        "wk": ParamSpec((ekv, h * d)),
        "wv": ParamSpec((ekv, h * d)),
        "wo": ParamSpec((h * d, out)),
    }
    if c["bias"]:
        p["bo"] = ParamSpec((out,), "zeros")
    return p


def _attention_flops(c: OpCall, outs):
    h, d, out = _heads(c)
    n, e = c["x"].dims
    kv = c.inputs.get("kv")
    m, ekv = kv.dims if kv is not None else (n, e)
    proj = 2 * (n * e + 2 * m * ekv) * h * d + 2 * n * h * d * out
    return proj + 4 * n * m * h * d


def _attention_temporaries(c: OpCall, outs) -> dict[str, int]:
    """The scores the lowering holds: the logits and their softmax weights, heads x N x M
    each (N queries, M keys), in the input's dtype."""
    h, _, _ = _heads(c)
    n = c["x"].dims[0]
    kv = c.inputs.get("kv")
    m = kv.dims[0] if kv is not None else n
    return {f"scores 2 × {h} × {n} × {m}": 2 * h * n * m * DTYPE_BYTES[c["x"].dtype]}


op(
    "attention", "attention",
    [Arg("x", "tensor"), Arg("heads", "int", 1), Arg("head_dim", "int", 0, doc="0: width/heads"),
     Arg("out_dim", "int", 0, doc="0: the input width"), Arg("causal", "bool", False),
     Arg("kv", "tensor", None, doc="keys/values for cross-attention (default: x)"),
     Arg("bias", "bool", True)],
    _attention_infer, params=_attention_params, flops=_attention_flops,
    temporaries=_attention_temporaries,
    doc="Multi-head scaled dot-product (1-simplicial) attention.",
)  # fmt: skip


def _simplicial_infer(c: OpCall):
    x = c["x"]
    need_float(x, "x")
    need_rank(x, "x", 2, " (entities, features)")
    positive(c, "heads")
    if c["virtual"] < 0:
        raise ShapeError("virtual must be 0 or more", arg="virtual", code="SQN0108")
    if c["window"] < 0:
        raise ShapeError("window must be 0 (all pairs) or more", arg="window", code="SQN0108")
    if c["virtual"] and c["window"]:
        raise ShapeError(
            "virtual entities and sliding windows cannot be combined", arg="window", code="SQN0108",
            hint="virtual entities already make the cost O(N M^2)",
        )  # fmt: skip
    _, _, out = _heads(c)
    keep = not c["out_dim"] and out == x.shape[-1].value  # the width keeps its name (E)
    return [x.with_shape(x.shape[:1] + (x.shape[-1] if keep else dims(out)[0],))]


def _simplicial_params(c: OpCall):
    h, d, out = _heads(c)
    e = c["x"].dims[-1]
    p = {
        "wp": ParamSpec((e, h * d)),
        "wl1": ParamSpec((e, h * d)),
        "wl2": ParamSpec((e, h * d)),
        "wu": ParamSpec((e, h * d)),
        "wo": ParamSpec((h * d, out)),
    }
    if c["variant"] == "triple":
        p["B"] = ParamSpec((h, d, d, d), "normal", d**-1.5)
    else:
        p["wu2"] = ParamSpec((e, h * d))
    if c["virtual"]:
        p["virtual"] = ParamSpec((c["virtual"], e), "normal", 0.02)
    return p


def _simplicial_flops(c: OpCall, outs):
    h, d, out = _heads(c)
    n, e = c["x"].dims
    m = c["virtual"] + n if c["virtual"] else n
    keys = c["virtual"] or (min(c["window"], n) if c["window"] else n)  # j and k range over these
    proj = 2 * m * e * h * d * 5 + 2 * n * h * d * out
    logits = n * keys * keys * h * 8 * d  # the triple product from dot products, per (i, j, k)
    # values contracted as in the lowering: sum_k A u_k (N S^2 d), then u_j (x) C_ij (N S d^2),
    # then B : D_i (N d^3) for the triple product; the trilinear variant stops at N S^2 d + N S d
    if c["variant"] == "triple":
        values = 2 * n * h * (keys * keys * d + keys * d * d + d**3)
    else:
        values = 2 * n * h * (keys * keys * d + keys * d)
    return proj + logits + values


def _simplicial_temporaries(c: OpCall, outs) -> dict[str, int]:
    """What the lowering (backends/jax/ops/attention.py) holds per head, with S the keys j and
    k range over (the M virtual entities, the window w, or all N entities) and d = head_dim:
    the pair logits and their softmax weights (N x S x S each); the key-key dots l1_j . l2_k
    (S x S, shared by every query, or N x S x S gathered per query in a window); C_ij =
    sum_k A u_k (N x S x d); for the triple product D_i = sum_j u_j (x) C_ij (N x d x d); and
    in a window each key tensor gathered per query (N x S x d for l1, l2, u, and u2 in the
    trilinear variant). In the input's dtype."""
    h, d, _ = _heads(c)
    n = c["x"].dims[0]
    window = min(c["window"], n) if c["window"] else 0
    s = c["virtual"] or window or n
    size = DTYPE_BYTES[c["x"].dtype]
    dots = n if window else 1
    parts = {
        f"pair scores 2 × {h} × {n} × {s} × {s}": 2 * h * n * s * s * size,
        f"key-key dots {h} × {dots} × {s} × {s}": h * dots * s * s * size,
        f"value sums {h} × {n} × {s} × {d}": h * n * s * d * size,
    }
    if c["variant"] == "triple":
        parts[f"value outer products {h} × {n} × {d} × {d}"] = h * n * d * d * size
    if window:
        k = 3 if c["variant"] == "triple" else 4
        parts[f"gathered keys {k} × {h} × {n} × {s} × {d}"] = k * h * n * s * d * size
    return parts


op(
    "simplicial_attention", "attention",
    [Arg("x", "tensor"), Arg("heads", "int", 1), Arg("head_dim", "int", 0),
     Arg("out_dim", "int", 0), Arg("virtual", "int", 0, doc="M learned virtual entities"),
     Arg("variant", "choice", "triple", ("triple", "trilinear")),
     Arg("window", "int", 0, doc="causal sliding window: j, k in [i-w+1, i]; 0: all pairs")],
    _simplicial_infer, params=_simplicial_params, flops=_simplicial_flops,
    temporaries=_simplicial_temporaries,
    doc="2-simplicial attention: logits from the unsigned scalar triple product <p_i, l1_j, l2_k>, "
        "values B(u_j (x) u_k); with virtual=M the pair sum runs over M learned virtual entities.",
)  # fmt: skip
