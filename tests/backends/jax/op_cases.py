"""Small test cases for every lowered op, and the machinery to build and run them.

A case names an op, its attributes, and its tensor inputs as specs: a shape tuple (normal floats),
("pos", shape) (floats in [0.5, 1.5], for div and fractional powers), ("int", shape, vocab) (token
ids, declared with that vocab, or none when vocab is None), ("unit", shape) (floats in [0, 1),
adjacency matrices), ("mask", shape) (a bool key mask: the first example's all false, so every
query of it is left without a key; the second's random with one true at least) or ("lengths",
(l0, l1)) (int32[] lengths, one per example). Shapes exclude the batch axis, as in the registry.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np

import seqnet.backends.jax.ops  # noqa: F401  (registers the rules)
from seqnet.backends.jax.context import LowerCtx
from seqnet.compiler.ops.catalog import load_ops
from seqnet.compiler.ops.registry import OPS, OpCall
from seqnet.compiler.types import Dim, TensorType

BATCH = 2


@dataclass(frozen=True)
class Case:
    op: str
    inputs: dict
    attrs: dict = field(default_factory=dict)
    name: str = ""

    @property
    def id(self) -> str:
        return f"{self.op}-{self.name}" if self.name else self.op


def case(op, name="", **kw):
    inputs = {k: v for k, v in kw.items() if _is_tensor_arg(op, k)}
    attrs = {k: v for k, v in kw.items() if k not in inputs}
    return Case(op, inputs, attrs, name)


def _is_tensor_arg(op: str, name: str) -> bool:
    load_ops()
    arg = OPS[op].arg(name)
    if arg is None:
        raise KeyError(f"op {op!r} has no argument {name!r}")
    return arg.is_tensor


M = (3, 4)  # a small (sequence, features) example shape

CASES = [
    # dense and embeddings
    case("dense", "relu", x=M, units=5, act="relu"),
    case("dense", "vector-softmax-nobias", x=(4,), units=3, act="softmax", bias=False),
    case("dense", "rank3-gelu", x=(2, 3, 4), units=2, act="gelu"),
    case("embed", "input-vocab", x=("int", (5,), 7), dim=3),
    case("embed", "attr-vocab", x=("int", (2, 3), None), dim=2, vocab=6),
    case("one_hot", "input-vocab", x=("int", (4,), 5)),
    case("one_hot", "attr-vocab", x=("int", (4,), None), vocab=6),
    # activations
    *[case(a, x=M) for a in ("relu", "gelu", "tanh", "sigmoid", "silu", "softplus", "elu")],
    case("leaky_relu", x=M, alpha=0.2),
    case("softmax", "last", x=M),
    case("softmax", "axis0", x=M, axis=0),
    case("log_softmax", "last", x=M),
    case("log_softmax", "axis0", x=(2, 3, 2), axis=0),
    case("identity", x=M),
    # elementwise
    case("add", "broadcast-row", x=M, y=(4,)),
    case("sub", x=M, y=M),
    case("mul", "broadcast-outer", x=(3, 1), y=(1, 4)),
    case("div", x=M, y=("pos", M)),
    case("maximum", x=M, y=M),
    case("minimum", x=M, y=(1, 4)),
    case("matmul", "matrix", x=M, y=(4, 2)),
    case("matmul", "vector", x=(4,), y=(4, 2)),
    case("matmul", "batched", x=(2, 3, 4), y=(4, 5)),
    case("affine", x=M, scale=2.5, shift=-1.0),
    case("power", "square", x=M, exponent=2.0),
    case("power", "cube", x=M, exponent=3.0),
    case("power", "sqrt", x=("pos", M), exponent=0.5),
    # shape
    case("concat", "last", xs=[M, (3, 2)]),
    case("concat", "axis0", xs=[(2, 4), M, (1, 4)], axis=0),
    case("split", "last", x=M, parts=2),
    case("split", "axis0", x=(3, 2), parts=3, axis=0),
    case("reshape", "explicit", x=M, shape=(2, 6)),
    case("reshape", "infer", x=M, shape=(-1, 3)),
    case("flatten", x=(2, 3, 2)),
    case("transpose", x=(2, 3, 4), perm=(2, 0, 1)),
    case("take", "axis0", x=M, index=1),
    case("take", "negative-axis1", x=M, index=-1, axis=1),
    case("last", x=M),
    *[case(r, "axis0", x=M) for r in ("mean", "sum", "max")],
    *[case(r, "last", x=(2, 3, 2), axis=-1) for r in ("mean", "sum", "max")],
    case("slice", "start", x=M, start=1),
    case("slice", "negative-stop-axis1", x=M, start=1, stop=-1, axis=1),
    case("slice", "step", x=(5, 2), start=0, stop=5, step=2),
    case("shift", "later", x=M, n=1),
    case("shift", "earlier-fill-axis1", x=M, n=-2, fill=7.0, axis=1),
    case("shift", "ids", x=("int", (5,), 9), n=2, fill=3.0),
    case("cast", "float", x=M, dtype="float32"),
    case("cast", "int", x=M, dtype="int32"),
    # norms, dropout, positional
    case("layernorm", x=M),
    case("layernorm", "bare", x=M, scale=False, center=False),
    case("rmsnorm", x=M),
    case("rmsnorm", "bare", x=M, scale=False),
    case("dropout", "eval", x=M, rate=0.5),
    case("positional", "sinusoidal", x=(5, 6)),
    case("positional", "learned", x=(5, 4), kind="learned"),
    # learned tensors
    case("param", "matrix", shape=(2, 3)),
    case("param", "vector-ones", shape=(4,), init="ones"),
    # convolution and pooling
    case("conv1d", "same", x=(7, 3), filters=4, kernel=3),
    case("conv1d", "valid-stride", x=(7, 3), filters=2, kernel=3, stride=2, padding="valid"),
    case(
        "conv1d",
        "same-stride-dilated",
        x=(8, 2),
        filters=3,
        kernel=3,
        stride=2,
        dilation=2,
        act="relu",
    ),
    case("conv1d", "even-kernel-nobias", x=(6, 2), filters=2, kernel=2, bias=False),
    case("conv2d", "same", x=(5, 6, 2), filters=3, kernel=3),
    case(
        "conv2d",
        "valid-stride",
        x=(5, 6, 2),
        filters=2,
        kernel=2,
        stride=2,
        padding="valid",
        act="tanh",
    ),
    case("conv2d", "same-stride-dilated", x=(6, 5, 2), filters=2, kernel=3, stride=2, dilation=2),
    *[
        case(f"{kind}pool{sp}d", name, x=shape, **attrs)
        for kind in ("max", "avg")
        for sp, shape in ((1, (7, 3)), (2, (5, 6, 2)))
        for name, attrs in (
            ("valid", {"size": 2}),
            ("same-stride", {"size": 3, "stride": 2, "padding": "same"}),
        )
    ],
    case("global_avgpool", x=(3, 4, 2)),
    case("global_maxpool", x=(5, 3)),
    # attention
    case("attention", "self", x=(4, 6), heads=2),
    case("attention", "causal", x=(4, 6), heads=2, causal=True),
    case("attention", "cross", x=(4, 6), kv=(5, 3), heads=2),
    case("attention", "causal-cross", x=(4, 6), kv=(4, 2), heads=1, causal=True),
    case("attention", "dims-nobias", x=(3, 4), heads=3, head_dim=2, out_dim=5, bias=False),
    case("attention", "key-mask", x=(4, 6), heads=2, mask=("mask", (4,))),
    case("attention", "causal-key-mask", x=(4, 6), heads=2, causal=True, mask=("mask", (4,))),
    case("attention", "cross-query-key-mask", x=(4, 6), kv=(5, 3), heads=2, mask=("mask", (4, 5))),
    case("sequence_mask", lengths=("lengths", (0, 3)), size=4),
    case("simplicial_attention", "triple", x=(4, 6), heads=2),
    case("simplicial_attention", "triple-virtual", x=(4, 6), heads=2, virtual=3),
    case("simplicial_attention", "triple-window", x=(5, 4), heads=1, window=2),
    case("simplicial_attention", "triple-dims", x=(3, 4), heads=1, head_dim=3, out_dim=5),
    case("simplicial_attention", "trilinear", x=(4, 6), heads=2, variant="trilinear"),
    case(
        "simplicial_attention", "trilinear-window", x=(5, 4), heads=2, variant="trilinear", window=3
    ),
    case(
        "simplicial_attention",
        "trilinear-virtual",
        x=(4, 4),
        heads=1,
        variant="trilinear",
        virtual=2,
    ),
    case("simplicial_attention", "triple-virtual-fixed", x=(4, 6), heads=2, virtual=3,
         virtual_mode="fixed"),
    case("simplicial_attention", "trilinear-virtual-fixed", x=(4, 4), heads=1, variant="trilinear",
         virtual=2, virtual_mode="fixed"),
    # the 2025 form: j over the last 3 positions, k over the last 2 (w1 != w2)
    case("simplicial_attention", "trilinear-windows", x=(6, 4), heads=2, variant="trilinear",
         window=3, window2=2),
    case("simplicial_attention", "triple-windows", x=(6, 4), heads=1, window=2, window2=4),
    # logits / d instead of / sqrt(d)
    case("simplicial_attention", "triple-inv-d", x=(4, 6), heads=2, logit_scale="inv_d"),
    case("simplicial_attention", "triple-virtual-inv-d", x=(4, 6), heads=1, virtual=2,
         logit_scale="inv_d"),
    case("simplicial_attention", "trilinear-window-inv-d", x=(5, 4), heads=2, variant="trilinear",
         window=3, logit_scale="inv_d"),
    # recurrent
    *[
        c
        for cell in ("rnn", "lstm", "gru")
        for c in (
            case(cell, "many_to_many", x=(5, 3), hidden=4),
            case(cell, "many_to_one", x=(5, 3), hidden=4, mode="many_to_one"),
            case(cell, "one_to_many", x=(3,), hidden=2, mode="one_to_many", steps=4),
            case(
                cell,
                "initial-state",
                x=(4, 3),
                hidden=3,
                return_state=True,
                initial=(6 if cell == "lstm" else 3,),
            ),
            case(
                cell,
                "reverse-many_to_one-state",
                x=(4, 2),
                hidden=3,
                mode="many_to_one",
                reverse=True,
                return_state=True,
            ),
            case(
                cell,
                "reverse-one_to_many",
                x=(2,),
                hidden=2,
                mode="one_to_many",
                steps=3,
                reverse=True,
                initial=(4 if cell == "lstm" else 2,),
            ),
        )
    ],
    case("rnn", "relu", x=(5, 3), hidden=4, act="relu"),
    *[
        c
        for cell in ("rnn", "lstm", "gru")
        for c in (
            case(cell, "lengths", x=(5, 3), hidden=4, lengths=("lengths", (2, 5))),
            case(cell, "lengths-many_to_one-state", x=(5, 3), hidden=3, mode="many_to_one",
                 return_state=True, lengths=("lengths", (0, 3))),
            case(cell, "lengths-reverse-many_to_one", x=(5, 2), hidden=3, mode="many_to_one",
                 reverse=True, lengths=("lengths", (3, 4))),
        )
    ],
    # mechanisms
    case("wormhole_gate", "sigmoid", x=M, units=5, target_shape=(Dim(3), Dim(5))),
    case("wormhole_gate", "tanh", x=M, units=2, gate="tanh", target_shape=(Dim(3), Dim(2))),
    case(
        "wormhole_gate",
        "none-reshaped",
        x=(4,),
        units=6,
        gate="none",
        target_shape=(Dim(2), Dim(3)),
    ),
    case("masked_dense", "adjacency", x=(3,), adj=("unit", (3, 3))),
    case(
        "masked_dense",
        "adjacency-copies",
        x=(8,),
        adj=("unit", (4, 4)),
        copies=3,
        act="tanh",
        bias=True,
    ),
    case("masked_dense", "cluster", x=(6,), adj=("unit", (3, 3)), copies=2, mask="cluster"),
    case(
        "masked_dense",
        "cluster-act",
        x=(4,),
        adj=("unit", (2, 2)),
        copies=1,
        mask="cluster",
        act="relu",
        bias=True,
    ),
]


# --- building a case ------------------------------------------------------------------------------


@dataclass
class Built:
    case: Case
    attrs: dict  # every attribute, defaults filled in
    in_types: dict
    out_types: list
    param_specs: dict
    inputs: dict  # tensor args: batched NumPy arrays (float64 holding float32-exact values)
    params: dict  # NumPy float64 arrays holding float32-exact values
    compiled: dict = field(default_factory=dict)  # (dtype, train) -> jitted rule

    @property
    def op(self):
        return OPS[self.case.op]

    def float_inputs(self) -> dict:
        """The differentiable tensor arguments (floats), as given to the rule."""
        out = {}
        for name, value in self.inputs.items():
            if isinstance(value, list) or (value is not None and value.dtype.kind == "f"):
                out[name] = value
        return out

    def static_inputs(self) -> dict:
        floats = self.float_inputs()
        return {k: v for k, v in self.inputs.items() if k not in floats}

    def ctx(self, params, dtype, *, train=False, rng=None) -> LowerCtx:
        return LowerCtx(params, rng, train, self.in_types, self.out_types, dtype, batch=BATCH)


def _example(spec, rng: np.random.Generator):
    """-> (TensorType, batched float64/int array)."""
    if isinstance(spec, tuple) and spec and isinstance(spec[0], str):
        kind, shape = spec[0], spec[1]
        if kind == "int":
            vocab = spec[2]
            high = vocab or 5
            value = rng.integers(0, high, (BATCH,) + shape).astype(np.int32)
            return TensorType.of("int32", shape, vocab), value
        if kind == "mask":
            value = rng.random((BATCH,) + shape) < 0.6
            value[0], value[1].flat[0] = False, True
            return TensorType.of("bool", shape), value
        if kind == "lengths":
            return TensorType.of("int32", ()), np.asarray(shape, np.int32)
        if kind == "pos":
            value = rng.uniform(0.5, 1.5, (BATCH,) + shape)
        elif kind == "unit":
            value = rng.uniform(0.0, 1.0, (BATCH,) + shape)
        else:
            raise ValueError(spec)
    else:
        shape = spec
        value = rng.normal(size=(BATCH,) + shape)
    return TensorType.of("float32", shape), value.astype(np.float32).astype(np.float64)


def build(c: Case) -> Built:
    op = OPS[c.op]
    rng = np.random.default_rng(zlib.crc32(c.id.encode()))
    attrs = {a.name: c.attrs.get(a.name, a.default) for a in op.attr_args}
    in_types, inputs = {}, {}
    for arg in op.tensor_args:
        spec = c.inputs.get(arg.name)
        if spec is None:
            assert not arg.required, f"{c.id}: missing required input {arg.name}"
            inputs[arg.name] = None
        elif arg.kind == "tensors":
            pairs = [_example(s, rng) for s in spec]
            in_types[arg.name] = tuple(t for t, _ in pairs)
            inputs[arg.name] = [v for _, v in pairs]
        else:
            in_types[arg.name], inputs[arg.name] = _example(spec, rng)
    call = OpCall(op, in_types, attrs)
    out_types = op.infer(call)
    param_specs = op.params(call)
    params = {
        name: (0.5 * rng.normal(size=spec.shape)).astype(np.float32).astype(np.float64)
        for name, spec in sorted(param_specs.items())
    }
    return Built(c, attrs, in_types, out_types, param_specs, inputs, params)


def as_jax(value, dtype):
    if value is None:
        return None
    if isinstance(value, list):
        return [as_jax(v, dtype) for v in value]
    return jnp.asarray(value, dtype if value.dtype.kind == "f" else value.dtype)


def run(built: Built, dtype=jnp.float32, *, train=False, rng=None, jit=True):
    """Run the registered JAX rule on the case's current inputs and parameters (cast to `dtype`),
    jitted by default; the compiled function is kept on `built`, so tests that change input
    values and run again do not recompile."""
    rule = built.op.lowerings["jax"]
    params = {k: as_jax(v, dtype) for k, v in built.params.items()}
    inputs = {k: as_jax(v, dtype) for k, v in built.inputs.items()}

    def apply(params, inputs, rng):
        ctx = built.ctx(params, dtype, train=train, rng=rng)
        return rule(ctx, **inputs, **built.attrs)

    if not jit:
        return apply(params, inputs, rng)
    key = (jnp.dtype(dtype).name, train)
    if key not in built.compiled:
        built.compiled[key] = jax.jit(apply)
    return built.compiled[key](params, inputs, rng)


def as_tuple(out):
    return out if isinstance(out, tuple) else (out,)
