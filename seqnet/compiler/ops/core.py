"""Core op families: dense, embeddings, activations, elementwise, shape, norms, conv, pooling."""

from __future__ import annotations

from seqnet.compiler.ops.registry import (
    ACTIVATIONS,
    PROBABILITY_ACTIVATIONS,
    Arg,
    OpCall,
    ParamSpec,
    ShapeError,
    dims,
    need_float,
    need_rank,
    norm_axis,
    op,
    positive,
    zero_flops,
)
from seqnet.compiler.types import Dim, TensorType, sum_expr

ACT = Arg("act", "choice", "none", ACTIVATIONS, "activation applied to the result")
BIAS = Arg("bias", "bool", True, doc="add a learned bias")


def _lead(t: TensorType) -> int:
    n = 1
    for d in t.dims[:-1]:
        n *= d
    return n


# --- dense and embeddings ------------------------------------------------------------------------


def _dense_infer(c: OpCall):
    x = c["x"]
    need_float(x, "x")
    need_rank(x, "x", range(1, 8), " (at least one feature axis)")
    positive(c, "units")
    return [x.with_shape(x.shape[:-1] + dims(c["units"]))]


op(
    "dense", "dense",
    [Arg("x", "tensor"), Arg("units", "int"), ACT, BIAS],
    _dense_infer,
    params=lambda c: {
        "w": ParamSpec((c["x"].dims[-1], c["units"]), "glorot_uniform", axes=("in", "out")),
        **({"b": ParamSpec((c["units"],), "zeros", axes=("out",))} if c["bias"] else {}),
    },
    flops=lambda c, out: 2 * c["x"].size * c["units"], feature_axis="out",
    doc="Affine map of the last axis: act(x @ w + b).",
)  # fmt: skip


def _embed_infer(c: OpCall):
    x = c["x"]
    if x.is_float:
        raise ShapeError(
            f"embed takes integer token ids, but 'x' is {x}", arg="x", code="SQN0302",
            hint="declare the input as int32[...] vocab V, or use dense(...) for real-valued features",
        )  # fmt: skip
    vocab = _vocab(c)
    positive(c, "dim")
    return [TensorType(c.attrs.get("dtype", "float32"), x.shape + dims(c["dim"]))] if vocab else []


def _vocab(c: OpCall) -> int:
    declared = c["x"].vocab
    if c["vocab"] and declared and c["vocab"] < declared:  # ids past vocab would be clamped
        raise ShapeError(
            f"vocab={c['vocab']} is smaller than the vocabulary of 'x' ({c['x']})", arg="vocab",
            code="SQN0503", hint=f"leave vocab out to use the input's {declared}, or pass vocab={declared}",
        )  # fmt: skip
    vocab = c["vocab"] or c["x"].vocab
    if not vocab:
        raise ShapeError(
            "embed needs the vocabulary size", arg="x", code="SQN0104",
            hint="declare the input with 'vocab V' (input x : int32[T] vocab 128) or pass vocab=V",
        )  # fmt: skip
    return vocab


op(
    "embed", "embedding",
    [Arg("x", "tensor"), Arg("dim", "int"), Arg("vocab", "int", 0, doc="0: the input's vocab")],
    _embed_infer,
    params=lambda c: {"table": ParamSpec((_vocab(c), c["dim"]), "normal", 1.0, ("vocab", "embed"))},
    flops=lambda c, out: 0, feature_axis="embed",
    doc="Look up a learned vector for each token id.",
)  # fmt: skip


def _one_hot_infer(c: OpCall):
    x = c["x"]
    if x.is_float:
        raise ShapeError(f"one_hot takes integer ids, but 'x' is {x}", arg="x", code="SQN0302")
    vocab = c["vocab"] or x.vocab
    if c["vocab"] and x.vocab and c["vocab"] < x.vocab:
        raise ShapeError(f"vocab={c['vocab']} is smaller than the vocabulary of 'x' ({x})", arg="vocab",
                         code="SQN0503", hint=f"leave vocab out, or pass vocab={x.vocab}")  # fmt: skip
    if not vocab:
        raise ShapeError("one_hot needs the vocabulary size", arg="x", code="SQN0104",
                         hint="declare the input with 'vocab V' or pass vocab=V")  # fmt: skip
    return [TensorType("float32", x.shape + dims(vocab))]


op("one_hot", "embedding", [Arg("x", "tensor"), Arg("vocab", "int", 0)], _one_hot_infer,
   flops=zero_flops, doc="One-hot float encoding of integer ids.")  # fmt: skip

# --- activations ---------------------------------------------------------------------------------


def _same_float(c: OpCall):
    need_float(c["x"], "x")
    return [c["x"]]


def _always(attrs) -> bool:
    return True


for _name in ("relu", "gelu", "tanh", "sigmoid", "silu", "softplus", "elu"):
    op(_name, "activation", [Arg("x", "tensor")], _same_float,
       flops=lambda c, out: 4 * c["x"].size, doc=f"Elementwise {_name}.",
       **({"probabilities": _always} if _name in PROBABILITY_ACTIVATIONS else {}))  # fmt: skip
op("leaky_relu", "activation", [Arg("x", "tensor"), Arg("alpha", "float", 0.01)], _same_float,
   flops=lambda c, out: 2 * c["x"].size, doc="Elementwise leaky ReLU.")  # fmt: skip


def _axis_same(c: OpCall):
    need_float(c["x"], "x")
    norm_axis(c["axis"], c["x"].rank)
    return [c["x"]]


op("softmax", "activation", [Arg("x", "tensor"), Arg("axis", "int", -1)], _axis_same,
   flops=lambda c, out: 5 * c["x"].size, doc="Softmax along an axis.",
   probabilities=_always)  # fmt: skip
op("log_softmax", "activation", [Arg("x", "tensor"), Arg("axis", "int", -1)], _axis_same,
   flops=lambda c, out: 5 * c["x"].size, doc="Log-softmax along an axis.")  # fmt: skip
op("identity", "activation", [Arg("x", "tensor")], lambda c: [c["x"]], flops=zero_flops,
   doc="Returns its input.")  # fmt: skip

# --- elementwise arithmetic ----------------------------------------------------------------------


def broadcast(a: TensorType, b: TensorType) -> tuple[Dim, ...]:
    """NumPy broadcasting of two example shapes (the batch axis is shared by construction)."""
    out = []
    for i in range(1, max(a.rank, b.rank) + 1):
        da = a.shape[-i] if i <= a.rank else Dim(1)
        db = b.shape[-i] if i <= b.rank else Dim(1)
        if da.value == db.value or db.value == 1:
            out.append(da)
        elif da.value == 1:
            out.append(db)
        else:
            raise ShapeError(
                f"shapes {a} and {b} do not match: axis {-i} is {da.value} in one and {db.value} in the other",
                arg="y", hint="elementwise ops need equal sizes, or size 1 on one side to broadcast",
            )  # fmt: skip
    return tuple(reversed(out))


def _binary_infer(c: OpCall):
    a, b = c["x"], c["y"]
    if a.dtype != b.dtype:
        raise ShapeError(
            f"dtypes differ: {a} and {b}", arg="y", code="SQN0302",
            hint="convert one side with cast(x, \"float32\")",
        )  # fmt: skip
    return [TensorType(a.dtype, broadcast(a, b))]


for _name, _doc in [("add", "x + y"), ("sub", "x - y"), ("mul", "x * y"), ("div", "x / y"),
                    ("maximum", "max(x, y)"), ("minimum", "min(x, y)")]:  # fmt: skip
    op(_name, "elementwise", [Arg("x", "tensor"), Arg("y", "tensor")], _binary_infer,
       flops=lambda c, out: out[0].size, doc=f"Elementwise {_doc}, broadcasting.")  # fmt: skip

op("affine", "elementwise",
   [Arg("x", "tensor"), Arg("scale", "float", 1.0), Arg("shift", "float", 0.0)],
   _same_float, flops=lambda c, out: 2 * c["x"].size,
   doc="x * scale + shift with constants (what `2 * h + 1` in a spec becomes).")  # fmt: skip
op("power", "elementwise", [Arg("x", "tensor"), Arg("exponent", "float")], _same_float,
   flops=lambda c, out: c["x"].size, doc="x ** exponent with a constant exponent.")  # fmt: skip

# What the spec's arithmetic operators become: between two tensors, one op each; between a
# tensor and a constant c, an op and its attributes (None: the operator is not defined so).
TENSOR_OPERATORS = {"+": "add", "-": "sub", "*": "mul", "/": "div", "@": "matmul"}


def constant_operator(symbol: str, c: float, tensor_left: bool) -> tuple[str, dict] | None:
    """`x <symbol> c` (tensor_left) or `c <symbol> x` as (op, attributes); ZeroDivisionError
    for `x / 0`."""
    if symbol == "+":
        return "affine", {"scale": 1.0, "shift": c}
    if symbol == "-":
        return "affine", {"scale": 1.0, "shift": -c} if tensor_left else {"scale": -1.0, "shift": c}
    if symbol == "*":
        return "affine", {"scale": c, "shift": 0.0}
    if symbol == "/" and tensor_left:
        return "affine", {"scale": 1.0 / c, "shift": 0.0}  # c == 0 raises ZeroDivisionError
    if symbol == "**" and tensor_left:
        return "power", {"exponent": c}
    return None


def _matmul_infer(c: OpCall):
    a, b = c["x"], c["y"]
    need_float(a, "x")
    need_float(b, "y")
    if a.rank < 1 or b.rank < 1:
        raise ShapeError("matmul needs tensors of rank 1 or more", arg="x", code="SQN0303")
    ka = a.shape[-1]
    kb = b.shape[-2] if b.rank >= 2 else b.shape[-1]
    if ka.value != kb.value:
        raise ShapeError(
            f"matmul contracts {a} with {b}, but the inner sizes differ: {ka.value} vs {kb.value}",
            arg="y", hint="the last axis of the left operand must equal the second-last axis of the right one",
        )  # fmt: skip
    lead = broadcast(TensorType(a.dtype, a.shape[:-2]), TensorType(b.dtype, b.shape[:-2]))
    shape = lead + (a.shape[-2:-1] if a.rank >= 2 else ()) + (b.shape[-1:] if b.rank >= 2 else ())
    return [TensorType(a.dtype, shape)]


op("matmul", "elementwise", [Arg("x", "tensor"), Arg("y", "tensor")], _matmul_infer,
   flops=lambda c, out: 2 * out[0].size * c["x"].dims[-1], doc="Matrix product x @ y.")  # fmt: skip

# --- shape ops -----------------------------------------------------------------------------------


def _concat_infer(c: OpCall):
    xs = c["xs"]
    if len(xs) < 1:
        raise ShapeError("concat needs at least one tensor", arg="xs", code="SQN0104")
    first = xs[0]
    axis = norm_axis(c["axis"], first.rank)
    total = 0
    exprs = []
    for i, t in enumerate(xs):
        if t.rank != first.rank or t.dtype != first.dtype:
            raise ShapeError(f"concat: tensor {i + 1} is {t} but tensor 1 is {first}", arg=f"xs{i}")
        for k in range(first.rank):
            if k != axis and t.shape[k].value != first.shape[k].value:
                raise ShapeError(
                    f"concat along axis {c['axis']}: tensor {i + 1} is {t} but tensor 1 is {first}",
                    arg=f"xs{i}", hint="all axes but the concatenated one must match",
                )  # fmt: skip
        total += t.shape[axis].value
        exprs.append(str(t.shape[axis]))
    expr = sum_expr(exprs) if len(exprs) > 1 else exprs[0]
    shape = first.shape[:axis] + (Dim(total, expr),) + first.shape[axis + 1 :]
    return [TensorType(first.dtype, shape)]


op("concat", "shape", [Arg("xs", "tensors"), Arg("axis", "int", -1)], _concat_infer,
   flops=zero_flops, doc="Concatenate tensors along an axis.")  # fmt: skip


def _split_infer(c: OpCall):
    x = c["x"]
    axis = norm_axis(c["axis"], x.rank)
    positive(c, "parts")
    size = x.shape[axis].value
    if size % c["parts"]:
        raise ShapeError(f"cannot split axis of size {size} into {c['parts']} equal parts",
                         arg="parts", code="SQN0304")  # fmt: skip
    part = Dim(size // c["parts"], f"{x.shape[axis]}/{c['parts']}")
    shape = x.shape[:axis] + (part,) + x.shape[axis + 1 :]
    return [TensorType(x.dtype, shape)] * c["parts"]


op("split", "shape", [Arg("x", "tensor"), Arg("parts", "int"), Arg("axis", "int", -1)],
   _split_infer, outputs=("parts...",), flops=zero_flops, doc="Split into equal parts: `a, b = split(x, 2)`.")  # fmt: skip


def _reshape_infer(c: OpCall):
    x, shape = c["x"], list(c["shape"])
    if shape.count(-1) > 1:
        raise ShapeError("reshape: at most one -1 in the new shape", arg="shape", code="SQN0304")
    known = 1
    for s in shape:
        if s != -1:
            if s <= 0:
                raise ShapeError(f"reshape: sizes must be positive, got {s}", arg="shape", code="SQN0108")
            known *= s
    if -1 in shape:
        if x.size % known:
            raise ShapeError(f"reshape: {x} has {x.size} elements, not divisible by {known}",
                             arg="shape", code="SQN0304")  # fmt: skip
        shape[shape.index(-1)] = x.size // known
    elif known != x.size:
        raise ShapeError(f"reshape: {x} has {x.size} elements but the new shape {c['shape']} has {known}",
                         arg="shape", code="SQN0304")  # fmt: skip
    return [x.with_shape(shape)]


op("reshape", "shape", [Arg("x", "tensor"), Arg("shape", "ints")], _reshape_infer,
   flops=zero_flops, doc="Reshape one example (the batch axis is kept).")  # fmt: skip
op("flatten", "shape", [Arg("x", "tensor")], lambda c: [c["x"].with_shape([c["x"].size])],
   flops=zero_flops, doc="Flatten one example to a vector.")  # fmt: skip


def _transpose_infer(c: OpCall):
    x, perm = c["x"], list(c["perm"])
    if sorted(perm) != list(range(x.rank)):
        raise ShapeError(f"transpose: perm {perm} is not a permutation of the axes of {x}",
                         arg="perm", code="SQN0303")  # fmt: skip
    return [TensorType(x.dtype, tuple(x.shape[p] for p in perm))]


op("transpose", "shape", [Arg("x", "tensor"), Arg("perm", "ints")], _transpose_infer,
   flops=zero_flops, doc="Permute the axes of one example.")  # fmt: skip


def _take_infer(c: OpCall):
    x = c["x"]
    axis = norm_axis(c["axis"], x.rank)
    size = x.shape[axis].value
    if not -size <= c["index"] < size:
        raise ShapeError(f"index {c['index']} is out of range for axis {c['axis']} of size {size}",
                         arg="index", code="SQN0303",
                         hint=f"an axis of size {size} takes indices from -{size} to {size - 1}")  # fmt: skip
    return [TensorType(x.dtype, x.shape[:axis] + x.shape[axis + 1 :], x.vocab, x.bounds)]


op("take", "shape", [Arg("x", "tensor"), Arg("index", "int"), Arg("axis", "int", 0)], _take_infer,
   flops=zero_flops, doc="Select one index along an axis, removing it (`last(h)` is take(h, -1)).")  # fmt: skip
op("last", "shape", [Arg("x", "tensor"), Arg("axis", "int", 0)],
   lambda c: _take_infer(OpCall(c.op, c.inputs, {**c.attrs, "index": -1})),
   flops=zero_flops, doc="The last element along an axis (the sequence axis by default).")  # fmt: skip


def _reduce_infer(c: OpCall):
    x = c["x"]
    axis = norm_axis(c["axis"], x.rank)
    return [TensorType(x.dtype, x.shape[:axis] + x.shape[axis + 1 :])]


for _name in ("mean", "sum", "max"):
    op(_name, "pool", [Arg("x", "tensor"), Arg("axis", "int", 0)], _reduce_infer,
       flops=lambda c, out: c["x"].size, doc=f"{_name} over one axis (the sequence axis by default).")  # fmt: skip


def _cast_infer(c: OpCall):
    from seqnet.compiler.types import DTYPES

    if c["dtype"] not in DTYPES:
        raise ShapeError(f"unknown dtype {c['dtype']!r}", arg="dtype", code="SQN0108",
                         hint="one of " + ", ".join(DTYPES))  # fmt: skip
    return [c["x"].with_shape(c["x"].shape, c["dtype"])]


op("cast", "shape", [Arg("x", "tensor"), Arg("dtype", "str")], _cast_infer, flops=zero_flops,
   doc="Change dtype.")  # fmt: skip

# --- normalisation and regularisation -----------------------------------------------------------


def _norm_infer(c: OpCall):
    if c["x"].rank == 0:
        raise ShapeError(f"{c.op.name} normalises over the last axis, but 'x' is a scalar ({c['x']})",
                         arg="x", code="SQN0303", hint="normalise a tensor with at least one axis")  # fmt: skip
    return _same_float(c)


def _norm_params(c: OpCall):
    f = c["x"].dims[-1]
    out = {}
    if c.attrs.get("scale", True):
        out["scale"] = ParamSpec((f,), "ones", axes=("features",))
    if c.attrs.get("center", False):
        out["bias"] = ParamSpec((f,), "zeros", axes=("features",))
    return out


op("layernorm", "norm",
   [Arg("x", "tensor"), Arg("eps", "float", 1e-5), Arg("scale", "bool", True), Arg("center", "bool", True)],
   _norm_infer, params=_norm_params, flops=lambda c, out: 8 * c["x"].size, feature_axis="features",
   doc="Layer normalisation over the last axis.")  # fmt: skip
op("rmsnorm", "norm", [Arg("x", "tensor"), Arg("eps", "float", 1e-6), Arg("scale", "bool", True)],
   _norm_infer, params=_norm_params, flops=lambda c, out: 4 * c["x"].size, feature_axis="features",
   doc="Root-mean-square normalisation over the last axis.")  # fmt: skip


def _dropout_infer(c: OpCall):
    if not 0.0 <= c["rate"] < 1.0:
        raise ShapeError(f"dropout rate must be in [0, 1), got {c['rate']}", arg="rate", code="SQN0108")
    return _same_float(c)


op("dropout", "regularization", [Arg("x", "tensor"), Arg("rate", "float")], _dropout_infer,
   needs_rng=True, flops=lambda c, out: 2 * c["x"].size,
   doc="Zero a fraction `rate` of activations in training; identity in evaluation.")  # fmt: skip

# --- positional encodings -----------------------------------------------------------------------


def _pos_infer(c: OpCall):
    need_float(c["x"], "x")
    need_rank(c["x"], "x", 2, " (sequence, features)")
    if c["x"].dims[-1] % 2 and c["kind"] == "sinusoidal":
        raise ShapeError("sinusoidal encodings need an even feature size", arg="x", code="SQN0304")
    return [c["x"]]


op("positional", "encoding",
   [Arg("x", "tensor"), Arg("kind", "choice", "sinusoidal", ("sinusoidal", "learned"))],
   _pos_infer,
   params=lambda c: {"table": ParamSpec(c["x"].dims, "normal", 0.02)} if c["kind"] == "learned" else {},
   flops=lambda c, out: c["x"].size,
   doc="Adds position encodings to a (sequence, features) tensor.")  # fmt: skip

# --- convolution and pooling ---------------------------------------------------------------------

PADDING = Arg("padding", "choice", "same", ("same", "valid"))


def _conv_out(size: int, kernel: int, stride: int, dilation: int, padding: str) -> int:
    if padding == "same":
        return -(-size // stride)
    span = dilation * (kernel - 1) + 1
    return (size - span) // stride + 1


def _conv_infer(spatial: int):
    def infer(c: OpCall):
        x = c["x"]
        need_float(x, "x")
        need_rank(x, "x", spatial + 1, " (" + ", ".join(["length", "height", "width"][-spatial:] if spatial == 2 else ["length"]) + ", channels)")  # fmt: skip
        positive(c, "filters", "kernel", "stride", "dilation")
        out = []
        for d in x.shape[:-1]:
            n = _conv_out(d.value, c["kernel"], c["stride"], c.attrs.get("dilation", 1), c["padding"])
            if n <= 0:
                raise ShapeError(
                    f"kernel {c['kernel']} does not fit an axis of size {d.value} with padding='valid'",
                    arg="kernel", code="SQN0304", hint="use padding=\"same\" or a smaller kernel",
                )  # fmt: skip
            out.append(Dim(n) if n != d.value else d)
        return [x.with_shape(tuple(out) + dims(c["filters"]))]

    return infer


def _conv_params(spatial: int):
    def params(c: OpCall):
        k = (c["kernel"],) * spatial
        p = {"w": ParamSpec(k + (c["x"].dims[-1], c["filters"]), "lecun_normal",
                            axes=("kernel",) * spatial + ("in", "out"))}  # fmt: skip
        if c["bias"]:
            p["b"] = ParamSpec((c["filters"],), "zeros", axes=("out",))
        return p

    return params


def _conv_flops(spatial: int):
    return lambda c, out: 2 * out[0].size * c["kernel"] ** spatial * c["x"].dims[-1]


op("conv1d", "conv",
   [Arg("x", "tensor"), Arg("filters", "int"), Arg("kernel", "int"), Arg("stride", "int", 1),
    PADDING, Arg("dilation", "int", 1), ACT, BIAS],
   _conv_infer(1), params=_conv_params(1), flops=_conv_flops(1), feature_axis="out",
   doc="1-D convolution over (length, channels).")  # fmt: skip
op("conv2d", "conv",
   [Arg("x", "tensor"), Arg("filters", "int"), Arg("kernel", "int"), Arg("stride", "int", 1),
    PADDING, Arg("dilation", "int", 1), ACT, BIAS],
   _conv_infer(2), params=_conv_params(2), flops=_conv_flops(2), feature_axis="out",
   doc="2-D convolution over (height, width, channels).")  # fmt: skip


def _pool_infer(spatial: int):
    def infer(c: OpCall):
        x = c["x"]
        need_float(x, "x")
        need_rank(x, "x", spatial + 1)
        stride = c["stride"] or c["size"]
        positive(c, "size")
        out = []
        for d in x.shape[:-1]:
            n = _conv_out(d.value, c["size"], stride, 1, c["padding"])
            if n <= 0:
                raise ShapeError(f"pool size {c['size']} does not fit an axis of size {d.value}",
                                 arg="size", code="SQN0304")  # fmt: skip
            out.append(Dim(n))
        return [x.with_shape(tuple(out) + x.shape[-1:])]

    return infer


for _sp in (1, 2):
    for _kind in ("max", "avg"):
        op(f"{_kind}pool{_sp}d", "pool",
           [Arg("x", "tensor"), Arg("size", "int"), Arg("stride", "int", 0, doc="0: same as size"),
            Arg("padding", "choice", "valid", ("same", "valid"))],
           _pool_infer(_sp), flops=lambda c, out: c["x"].size,
           doc=f"{_kind} pooling over {_sp} spatial axis/axes.")  # fmt: skip


def _global_pool(c: OpCall):
    need_float(c["x"], "x")
    need_rank(c["x"], "x", range(2, 8))
    return [c["x"].with_shape(c["x"].shape[-1:])]


op("global_avgpool", "pool", [Arg("x", "tensor")], _global_pool,
   flops=lambda c, out: c["x"].size, doc="Average over every axis but the last.")  # fmt: skip
op("global_maxpool", "pool", [Arg("x", "tensor")], _global_pool,
   flops=lambda c, out: c["x"].size, doc="Maximum over every axis but the last.")  # fmt: skip

