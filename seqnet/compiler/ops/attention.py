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


op(
    "attention", "attention",
    [Arg("x", "tensor"), Arg("heads", "int", 1), Arg("head_dim", "int", 0, doc="0: width/heads"),
     Arg("out_dim", "int", 0, doc="0: the input width"), Arg("causal", "bool", False),
     Arg("kv", "tensor", None, doc="keys/values for cross-attention (default: x)"),
     Arg("bias", "bool", True)],
    _attention_infer, params=_attention_params, flops=_attention_flops,
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


op(
    "simplicial_attention", "attention",
    [Arg("x", "tensor"), Arg("heads", "int", 1), Arg("head_dim", "int", 0),
     Arg("out_dim", "int", 0), Arg("virtual", "int", 0, doc="M learned virtual entities"),
     Arg("variant", "choice", "triple", ("triple", "trilinear")),
     Arg("window", "int", 0, doc="causal sliding window: j, k in [i-w+1, i]; 0: all pairs")],
    _simplicial_infer, params=_simplicial_params, flops=_simplicial_flops,
    doc="2-simplicial attention: logits from the unsigned scalar triple product <p_i, l1_j, l2_k>, "
        "values B(u_j (x) u_k); with virtual=M the pair sum runs over M learned virtual entities.",
)  # fmt: skip
