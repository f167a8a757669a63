"""JAX lowerings of the core ops: dense, embeddings, activations, elementwise, shape, norms,
dropout, positional encodings, convolution and pooling.

Every tensor argument arrives with a leading batch axis; axis attributes name axes of one example,
so they are shifted by one (`batched_axis`). Binary ops broadcast per example (`jax.vmap`), so a
lower-rank operand lines up with the trailing axes of one example, never with the batch axis.

Pooling: max pools pad with -inf; average pools with padding="same" divide by the number of real
(unpadded) elements in each window.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from seqnet.backends.jax.ops.common import (
    ACTIVATIONS,
    activate,
    batched_axis,
    flat_matmul,
    lowering,
    positionwise,
    refuses_time_axis,
    step_rule,
)

# --- dense and embeddings ------------------------------------------------------------------------


@lowering("dense")
def dense(ctx, x, units, act, bias):
    y = flat_matmul(x, ctx.params["w"])
    if bias:
        y = y + ctx.params["b"]
    return activate(y, act)


@lowering("embed")
def embed(ctx, x, dim, vocab):
    return ctx.params["table"][x]


@lowering("one_hot")
def one_hot(ctx, x, vocab):
    size = ctx.out_types[0].dims[-1]  # vocab=0 means the input's declared vocab
    return jax.nn.one_hot(x, size, dtype=ctx.compute_dtype)


# --- activations ---------------------------------------------------------------------------------


def _register_activation(name: str) -> None:
    fn = ACTIVATIONS[name]
    lowering(name)(lambda ctx, x: fn(x))


for _name in ("relu", "gelu", "tanh", "sigmoid", "silu", "softplus", "elu"):
    _register_activation(_name)


@lowering("leaky_relu")
def leaky_relu(ctx, x, alpha):
    return jax.nn.leaky_relu(x, alpha)


@lowering("softmax")
def softmax(ctx, x, axis):
    return jax.nn.softmax(x, axis=batched_axis(axis, x.ndim - 1))


@lowering("log_softmax")
def log_softmax(ctx, x, axis):
    return jax.nn.log_softmax(x, axis=batched_axis(axis, x.ndim - 1))


@lowering("identity")
def identity(ctx, x):
    return x


# --- elementwise arithmetic ----------------------------------------------------------------------

_BINARY = {
    "add": jnp.add,
    "sub": jnp.subtract,
    "mul": jnp.multiply,
    "div": jnp.divide,
    "maximum": jnp.maximum,
    "minimum": jnp.minimum,
    "matmul": jnp.matmul,
}


def _register_binary(name: str) -> None:
    per_example = jax.vmap(_BINARY[name])
    lowering(name)(lambda ctx, x, y: per_example(x, y))


for _name in _BINARY:
    _register_binary(_name)


@lowering("affine")
def affine(ctx, x, scale, shift):
    return x * scale + shift


@lowering("power")
def power(ctx, x, exponent):
    if float(exponent).is_integer():
        return lax.integer_pow(x, int(exponent))  # exact, and defined for negative x
    return x**exponent


# --- shape ops -----------------------------------------------------------------------------------


@lowering("concat")
def concat(ctx, xs, axis):
    return jnp.concatenate(xs, axis=batched_axis(axis, xs[0].ndim - 1))


@lowering("split")
def split(ctx, x, parts, axis):
    return tuple(jnp.split(x, parts, axis=batched_axis(axis, x.ndim - 1)))


@lowering("reshape")
def reshape(ctx, x, shape):
    return x.reshape((x.shape[0],) + tuple(shape))


@lowering("flatten")
def flatten(ctx, x):
    return x.reshape(x.shape[0], -1)


@lowering("transpose")
def transpose(ctx, x, perm):
    return jnp.transpose(x, (0,) + tuple(p + 1 for p in perm))


def _take(x, index, axis):
    ax = batched_axis(axis, x.ndim - 1)
    return lax.index_in_dim(x, index % x.shape[ax], ax, keepdims=False)


@lowering("take")
def take(ctx, x, index, axis):
    return _take(x, index, axis)


@lowering("last")
def last(ctx, x, axis):
    return _take(x, -1, axis)


for _name, _reduce in (("mean", jnp.mean), ("sum", jnp.sum), ("max", jnp.max)):
    lowering(_name)(
        lambda ctx, x, axis, _reduce=_reduce: _reduce(x, axis=batched_axis(axis, x.ndim - 1))
    )


@lowering("cast", cast_inputs=False)
def cast(ctx, x, dtype):
    return x.astype(jnp.dtype(dtype))


# --- normalisation and regularisation -----------------------------------------------------------


def _stats_dtype(x):
    """Norm statistics are computed in at least float32, even under a bfloat16 policy."""
    return jnp.promote_types(x.dtype, jnp.float32)


@lowering("layernorm")
def layernorm(ctx, x, eps, scale, center):
    xf = x.astype(_stats_dtype(x))
    mean = xf.mean(axis=-1, keepdims=True)
    var = jnp.square(xf - mean).mean(axis=-1, keepdims=True)
    y = ((xf - mean) * lax.rsqrt(var + eps)).astype(x.dtype)
    if scale:
        y = y * ctx.params["scale"]
    if center:
        y = y + ctx.params["bias"]
    return y


@lowering("rmsnorm")
def rmsnorm(ctx, x, eps, scale):
    xf = x.astype(_stats_dtype(x))
    y = (xf * lax.rsqrt(jnp.square(xf).mean(axis=-1, keepdims=True) + eps)).astype(x.dtype)
    if scale:
        y = y * ctx.params["scale"]
    return y


@lowering("dropout")
def dropout(ctx, x, rate):
    """Inverted dropout: kept activations are scaled by 1/(1-rate), so evaluation is identity."""
    if not ctx.train or rate == 0.0:
        return x
    if ctx.rng is None:
        raise ValueError("dropout in training needs a PRNG key (ctx.rng is None)")
    keep = jax.random.bernoulli(ctx.rng, 1.0 - rate, x.shape)
    return jnp.where(keep, x / (1.0 - rate), jnp.zeros_like(x))


# --- positional encodings -----------------------------------------------------------------------


def sinusoidal_table(length: int, width: int) -> np.ndarray:
    """Vaswani et al.: pe[t, 2i] = sin(t / 10000^(2i/width)), pe[t, 2i+1] = cos(same angle)."""
    position = np.arange(length, dtype=np.float64)[:, None]
    rates = 10000.0 ** (-np.arange(0, width, 2, dtype=np.float64) / width)
    angles = position * rates[None, :]
    return np.stack([np.sin(angles), np.cos(angles)], axis=-1).reshape(length, width)


@lowering("positional")
def positional(ctx, x, kind):
    if kind == "learned":
        return x + ctx.params["table"]
    table = sinusoidal_table(x.shape[1], x.shape[2])  # a constant, built once at trace time
    return x + jnp.asarray(table, x.dtype)


# --- convolution and pooling ---------------------------------------------------------------------

_CONV_DIMS = {1: ("NWC", "WIO", "NWC"), 2: ("NHWC", "HWIO", "NHWC")}


def _conv(ctx, x, spatial, stride, padding, dilation, act, bias):
    # JAX's "SAME" pads the dilated kernel, giving ceil(size / stride) outputs as the registry's
    # shape rule says; the odd cell of padding goes after (high side).
    y = lax.conv_general_dilated(
        x,
        ctx.params["w"],
        window_strides=(stride,) * spatial,
        padding=padding.upper(),
        rhs_dilation=(dilation,) * spatial,
        dimension_numbers=_CONV_DIMS[spatial],
    )
    if bias:
        y = y + ctx.params["b"]
    return activate(y, act)


@lowering("conv1d")
def conv1d(ctx, x, filters, kernel, stride, padding, dilation, act, bias):
    return _conv(ctx, x, 1, stride, padding, dilation, act, bias)


@lowering("conv2d")
def conv2d(ctx, x, filters, kernel, stride, padding, dilation, act, bias):
    return _conv(ctx, x, 2, stride, padding, dilation, act, bias)


def _pool(x, kind, spatial, size, stride, padding):
    stride = stride or size
    window = (1,) + (size,) * spatial + (1,)
    strides = (1,) + (stride,) * spatial + (1,)
    pad = padding.upper()
    # NumPy (concrete) init values let lax recognise the max/add monoids, which it can
    # differentiate; a traced init value would make the pool non-differentiable under jit.
    if kind == "max":
        return lax.reduce_window(x, np.array(-np.inf, x.dtype), lax.max, window, strides, pad)
    zero = np.array(0, x.dtype)
    total = lax.reduce_window(x, zero, lax.add, window, strides, pad)
    ones = jnp.ones((1,) + x.shape[1:-1] + (1,), x.dtype)
    count = lax.reduce_window(ones, zero, lax.add, window, strides, pad)
    return total / count


def _register_pool(kind: str, spatial: int) -> None:
    def rule(ctx, x, size, stride, padding):
        return _pool(x, kind, spatial, size, stride, padding)

    lowering(f"{kind}pool{spatial}d")(rule)


for _spatial in (1, 2):
    for _kind in ("max", "avg"):
        _register_pool(_kind, _spatial)


@lowering("global_avgpool")
def global_avgpool(ctx, x):
    return x.mean(axis=tuple(range(1, x.ndim - 1)))


@lowering("global_maxpool")
def global_maxpool(ctx, x):
    return x.max(axis=tuple(range(1, x.ndim - 1)))


# --- incremental rules (generation: one new position at a time) ----------------------------------

for _name in ("dense", "embed", "one_hot", "identity", "affine", "power", "cast", "layernorm",
              "rmsnorm", "dropout", "leaky_relu", *(b for b in _BINARY if b != "matmul")):  # fmt: skip
    positionwise(_name)
for _name in ("relu", "gelu", "tanh", "sigmoid", "silu", "softplus", "elu"):
    positionwise(_name)
for _name in ("softmax", "log_softmax", "concat", "split"):
    positionwise(_name, refuses=refuses_time_axis())


@step_rule("positional")
def positional_step(ctx, cache, pos, x, kind):
    """The encoding of position `pos` added to the one new position."""
    if kind == "learned":
        table = ctx.params["table"]
    else:
        length, width = ctx.out_types[0].dims[:2]
        table = jnp.asarray(sinusoidal_table(length, width), x.dtype)
    return x + lax.dynamic_slice_in_dim(table, pos, 1, axis=0), None
