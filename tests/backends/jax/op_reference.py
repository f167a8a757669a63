"""An independent float64 NumPy reference for every op the JAX backend lowers (no jax here).

`REFERENCE[name](params, out_dims, **kwargs)` takes the same arguments as the lowering rule
(batched tensors as NumPy arrays, attributes as Python values), the node's parameters as float64
arrays, and the registry's output shapes (one example each); it returns an array or a tuple.
The code is written for clarity, with explicit loops, not for speed: shapes in tests are tiny.
"""

from __future__ import annotations

import math

import numpy as np

REFERENCE: dict = {}


def reference(*names):
    def attach(fn):
        for name in names:
            REFERENCE[name] = fn
        return fn

    return attach


def _axis(axis: int, x: np.ndarray) -> int:
    return axis % (x.ndim - 1) + 1


# --- activations ---------------------------------------------------------------------------------

_erf = np.vectorize(math.erf)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


ACT = {
    "none": lambda x: x,
    "relu": lambda x: np.maximum(x, 0.0),
    "gelu": lambda x: 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0))),
    "tanh": np.tanh,
    "sigmoid": _sigmoid,
    "silu": lambda x: x * _sigmoid(x),
    "softplus": lambda x: np.logaddexp(0.0, x),
    "elu": lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0.0))),
    "leaky_relu": lambda x: np.where(x > 0, x, 0.01 * x),
    "softmax": _softmax,
}

for _name in ("relu", "gelu", "tanh", "sigmoid", "silu", "softplus", "elu"):
    reference(_name)(lambda p, out_dims, x, _f=ACT[_name]: _f(x))


@reference("leaky_relu")
def leaky_relu(p, out_dims, x, alpha):
    return np.where(x > 0, x, alpha * x)


@reference("softmax")
def softmax(p, out_dims, x, axis):
    return _softmax(x, _axis(axis, x))


@reference("log_softmax")
def log_softmax(p, out_dims, x, axis):
    return np.log(_softmax(x, _axis(axis, x)))


@reference("identity")
def identity(p, out_dims, x):
    return x


# --- dense and embeddings ------------------------------------------------------------------------


@reference("dense")
def dense(p, out_dims, x, units, act, bias):
    y = np.tensordot(x, p["w"], axes=([-1], [0]))
    if bias:
        y = y + p["b"]
    return ACT[act](y)


@reference("embed")
def embed(p, out_dims, x, dim, vocab):
    return p["table"][x]


@reference("one_hot")
def one_hot(p, out_dims, x, vocab):
    return np.eye(out_dims[0][-1])[x]


# --- elementwise ---------------------------------------------------------------------------------


def _per_example(fn):
    return lambda p, out_dims, x, y: np.stack([fn(a, b) for a, b in zip(x, y, strict=True)])


for _name, _fn in [
    ("add", np.add),
    ("sub", np.subtract),
    ("mul", np.multiply),
    ("div", np.divide),
    ("maximum", np.maximum),
    ("minimum", np.minimum),
    ("matmul", np.matmul),
]:
    reference(_name)(_per_example(_fn))


@reference("affine")
def affine(p, out_dims, x, scale, shift):
    return x * scale + shift


@reference("power")
def power(p, out_dims, x, exponent):
    return np.power(x, exponent)


# --- shape ops -----------------------------------------------------------------------------------


@reference("concat")
def concat(p, out_dims, xs, axis):
    return np.concatenate(xs, axis=_axis(axis, xs[0]))


@reference("split")
def split(p, out_dims, x, parts, axis):
    return tuple(np.split(x, parts, axis=_axis(axis, x)))


@reference("reshape")
def reshape(p, out_dims, x, shape):
    return x.reshape((x.shape[0],) + tuple(shape))


@reference("flatten")
def flatten(p, out_dims, x):
    return x.reshape(x.shape[0], -1)


@reference("transpose")
def transpose(p, out_dims, x, perm):
    return np.stack([np.transpose(example, perm) for example in x])


@reference("take")
def take(p, out_dims, x, index, axis):
    return np.take(x, index, axis=_axis(axis, x))


@reference("last")
def last(p, out_dims, x, axis):
    return np.take(x, -1, axis=_axis(axis, x))


@reference("slice")
def slice_(p, out_dims, x, start, stop, step, axis):
    index = [slice(None)] * x.ndim
    index[_axis(axis, x)] = slice(start, stop, step)
    return x[tuple(index)]


@reference("shift")
def shift(p, out_dims, x, n, fill, axis):
    out = np.full_like(x, fill)
    ax = _axis(axis, x)
    size = x.shape[ax]
    for t in range(size):  # out[t] = x[t - n] where that exists
        if 0 <= t - n < size:
            dst = [slice(None)] * x.ndim
            src = [slice(None)] * x.ndim
            dst[ax], src[ax] = t, t - n
            out[tuple(dst)] = x[tuple(src)]
    return out


@reference("param")
def param(p, out_dims, shape, init, scale):
    batch = 2  # op_cases.BATCH: every example sees the one value
    return np.stack([p["value"]] * batch)


for _name, _fn in (("mean", np.mean), ("sum", np.sum), ("max", np.max)):
    reference(_name)(lambda p, out_dims, x, axis, _fn=_fn: _fn(x, axis=_axis(axis, x)))


@reference("cast")
def cast(p, out_dims, x, dtype):
    return x.astype(np.float64 if dtype in ("float32", "float16", "bfloat16") else dtype)


# --- norms, dropout, positional ------------------------------------------------------------------


@reference("layernorm")
def layernorm(p, out_dims, x, eps, scale, center):
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    y = (x - mean) / np.sqrt(var + eps)
    if scale:
        y = y * p["scale"]
    if center:
        y = y + p["bias"]
    return y


@reference("rmsnorm")
def rmsnorm(p, out_dims, x, eps, scale):
    y = x / np.sqrt((x**2).mean(axis=-1, keepdims=True) + eps)
    return y * p["scale"] if scale else y


@reference("dropout")
def dropout(p, out_dims, x, rate):
    return x  # evaluation mode; training is tested statistically


@reference("positional")
def positional(p, out_dims, x, kind):
    if kind == "learned":
        return x + p["table"]
    n, e = x.shape[1:]
    table = np.zeros((n, e))
    for t in range(n):
        for i in range(e // 2):
            angle = t / 10000.0 ** (2 * i / e)
            table[t, 2 * i] = math.sin(angle)
            table[t, 2 * i + 1] = math.cos(angle)
    return x + table


# --- convolution and pooling ---------------------------------------------------------------------


def _padding(size, kernel, stride, dilation, padding):
    """(pad before, pad after, output size); "same" puts the odd cell after."""
    span = dilation * (kernel - 1) + 1
    if padding == "valid":
        return 0, 0, (size - span) // stride + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + span - size, 0)
    return total // 2, total - total // 2, out


def _conv2d(x, w, stride, padding, dilation):
    """x (B, H, W, C), w (KH, KW, C, F); stride/dilation per axis."""
    b, height, width, _ = x.shape
    kh, kw, _, filters = w.shape
    lo_h, hi_h, oh = _padding(height, kh, stride[0], dilation[0], padding)
    lo_w, hi_w, ow = _padding(width, kw, stride[1], dilation[1], padding)
    xp = np.pad(x, ((0, 0), (lo_h, hi_h), (lo_w, hi_w), (0, 0)))
    out = np.zeros((b, oh, ow, filters))
    for i in range(oh):
        for j in range(ow):
            for u in range(kh):
                for v in range(kw):
                    row = xp[:, i * stride[0] + u * dilation[0], j * stride[1] + v * dilation[1]]
                    out[:, i, j] += row @ w[u, v]
    return out


@reference("conv1d")
def conv1d(p, out_dims, x, filters, kernel, stride, padding, dilation, act, bias):
    y = _conv2d(x[:, None], p["w"][None], (1, stride), padding, (1, dilation))[:, 0]
    return ACT[act](y + p["b"] if bias else y)


@reference("conv2d")
def conv2d(p, out_dims, x, filters, kernel, stride, padding, dilation, act, bias):
    y = _conv2d(x, p["w"], (stride, stride), padding, (dilation, dilation))
    return ACT[act](y + p["b"] if bias else y)


def _pool2d(x, kind, size, stride, padding):
    b, height, width, c = x.shape
    lo_h, _, oh = _padding(height, size[0], stride[0], 1, padding)
    lo_w, _, ow = _padding(width, size[1], stride[1], 1, padding)
    out = np.zeros((b, oh, ow, c))
    for i in range(oh):
        for j in range(ow):
            h0, w0 = i * stride[0] - lo_h, j * stride[1] - lo_w
            window = x[:, max(h0, 0) : h0 + size[0], max(w0, 0) : w0 + size[1]]
            out[:, i, j] = window.max(axis=(1, 2)) if kind == "max" else window.mean(axis=(1, 2))
    return out


def _register_pool(kind, spatial):
    def pool(p, out_dims, x, size, stride, padding):
        stride = stride or size
        if spatial == 1:
            return _pool2d(x[:, None], kind, (1, size), (1, stride), padding)[:, 0]
        return _pool2d(x, kind, (size, size), (stride, stride), padding)

    reference(f"{kind}pool{spatial}d")(pool)


for _spatial in (1, 2):
    for _kind in ("max", "avg"):
        _register_pool(_kind, _spatial)


@reference("global_avgpool")
def global_avgpool(p, out_dims, x):
    return x.reshape(x.shape[0], -1, x.shape[-1]).mean(axis=1)


@reference("global_maxpool")
def global_maxpool(p, out_dims, x):
    return x.reshape(x.shape[0], -1, x.shape[-1]).max(axis=1)


# --- attention -----------------------------------------------------------------------------------


def _head(w, h, d):
    return w[:, h * d : (h + 1) * d]


@reference("attention")
def attention(p, out_dims, x, heads, head_dim, out_dim, causal, kv, bias, mask):
    source = x if kv is None else kv
    d = p["wq"].shape[1] // heads
    out = np.zeros(x.shape[:2] + (heads * d,))
    for b in range(x.shape[0]):
        for h in range(heads):
            q = x[b] @ _head(p["wq"], h, d)
            k = source[b] @ _head(p["wk"], h, d)
            v = source[b] @ _head(p["wv"], h, d)
            for i in range(x.shape[1]):
                keys = range(i + 1) if causal else range(source.shape[1])
                if mask is not None:  # the keys the mask keeps; none left: the output stays 0
                    row = mask[b] if mask.ndim == 2 else mask[b, i]
                    keys = [j for j in keys if row[j]]
                    if not keys:
                        continue
                weights = _softmax(np.array([q[i] @ k[j] / math.sqrt(d) for j in keys]))
                out[b, i, h * d : (h + 1) * d] = sum(
                    a * v[j] for a, j in zip(weights, keys, strict=True)
                )
    y = out @ p["wo"]
    return y + p["bo"] if bias else y


def unsigned_triple_product(a, b, c):
    """<a, b, c> = || (a.b) c - (a.c) b + (b.c) a || (the defining formula, not the expansion)."""
    return np.linalg.norm((a @ b) * c - (a @ c) * b + (b @ c) * a)


def _paper_virtual_entities(p, x, heads, d):
    """virtual_mode=paper, one example: f_z + [attention over the standard entities (+) f_z Wu] Wvo,
    the attention written out per virtual entity z and head."""
    f = p["virtual"]
    parts = []
    for h in range(heads):
        q = f @ _head(p["vq"], h, d)
        k = x @ _head(p["vk"], h, d)
        v = x @ _head(p["vv"], h, d)
        rows = []
        for z in range(len(f)):
            weights = _softmax(np.array([q[z] @ k[j] / math.sqrt(d) for j in range(len(x))]))
            rows.append(sum(a * v[j] for j, a in enumerate(weights)))
        parts.append(np.array(rows))
    return f + np.concatenate(parts + [f @ p["wu"]], axis=-1) @ p["vo"]


@reference("simplicial_attention")
def simplicial_attention(
    p, out_dims, x, heads, head_dim, out_dim, virtual, variant, window, window2, virtual_mode,
    implementation,  # every implementation computes these maths
    logit_scale,
):
    batch, n = x.shape[:2]
    d = p["wp"].shape[1] // heads
    out = np.zeros((batch, n, heads * d))
    for b in range(batch):
        entities = x[b]
        if virtual:
            paper = virtual_mode == "paper"
            entities = _paper_virtual_entities(p, x[b], heads, d) if paper else p["virtual"]
        for h in range(heads):
            q = x[b] @ _head(p["wp"], h, d)
            l1 = entities @ _head(p["wl1"], h, d)
            l2 = entities @ _head(p["wl2"], h, d)
            u = entities @ _head(p["wu"], h, d)
            u2 = entities @ _head(p["wu2"], h, d) if variant == "trilinear" else None
            for i in range(n):
                if window:  # j over the last `window` positions, k over the last `window2`
                    first = range(max(0, i - window + 1), i + 1)
                    second = range(max(0, i - (window2 or window) + 1), i + 1)
                else:
                    first = second = range(len(entities))
                pairs = [(j, k) for j in first for k in second]
                if variant == "triple":
                    logits = [unsigned_triple_product(q[i], l1[j], l2[k]) for j, k in pairs]
                    values = [np.einsum("abc,b,c->a", p["B"][h], u[j], u[k]) for j, k in pairs]
                else:
                    logits = [np.sum(q[i] * l1[j] * l2[k]) for j, k in pairs]
                    values = [u[j] * u2[k] for j, k in pairs]
                divisor = d if logit_scale == "inv_d" else math.sqrt(d)
                weights = _softmax(np.array(logits) / divisor)
                out[b, i, h * d : (h + 1) * d] = sum(
                    a * v for a, v in zip(weights, values, strict=True)
                )
    return out @ p["wo"]


# --- recurrent -----------------------------------------------------------------------------------


def _rnn_step(p, x_t, state, act):
    h = ACT[act](x_t @ p["wx"] + state @ p["wh"] + p["b"])
    return h, h


def _lstm_step(p, x_t, state, act):
    hidden = state.shape[-1] // 2
    h, c = state[:, :hidden], state[:, hidden:]
    z = x_t @ p["wx"] + h @ p["wh"] + p["b"]
    i, f, g, o = (z[:, k * hidden : (k + 1) * hidden] for k in range(4))
    c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
    h = _sigmoid(o) * np.tanh(c)
    return h, np.concatenate([h, c], axis=-1)


def _gru_step(p, x_t, state, act):
    hidden = state.shape[-1]
    zx = x_t @ p["wx"]
    zh = state @ p["wh"] + p["b"]
    gate = [
        (zx[:, k * hidden : (k + 1) * hidden], zh[:, k * hidden : (k + 1) * hidden])
        for k in range(3)
    ]
    r = _sigmoid(gate[0][0] + gate[0][1])
    z = _sigmoid(gate[1][0] + gate[1][1])
    n = np.tanh(gate[2][0] + r * gate[2][1])
    h = (1 - z) * n + z * state
    return h, h


def _recurrent(
    step, state_size, p, x, hidden, mode, steps, initial, return_state, reverse, lengths, act="tanh"
):
    if lengths is not None:  # each example alone, over its first `length` positions only
        outs = [_recurrent(step, state_size, p, x[b : b + 1, :n], hidden, mode, steps,
                           None if initial is None else initial[b : b + 1], return_state, reverse,
                           None, act) for b, n in enumerate(lengths)]  # fmt: skip
        return _padded(outs, x.shape[1], hidden, state_size, initial, mode, return_state)
    batch = x.shape[0]
    if mode == "one_to_many":
        inputs = [x] * steps
    else:
        inputs = [x[:, t] for t in range(x.shape[1])]
    state = np.zeros((batch, state_size)) if initial is None else initial
    order = range(len(inputs) - 1, -1, -1) if reverse else range(len(inputs))
    outputs = [None] * len(inputs)
    for t in order:
        outputs[t], state = step(p, inputs[t], state, act)
    if not inputs:  # length 0: no step ran, the output is the (zero) state's h
        out = state[:, :hidden] if mode == "many_to_one" else np.zeros((batch, 0, hidden))
    else:
        out = outputs[order[-1]] if mode == "many_to_one" else np.stack(outputs, axis=1)
    return (out, state) if return_state else out


def _padded(outs, size, hidden, state_size, initial, mode, return_state):
    """Per-example results of unpadded sequences, as one padded batch (zero outputs past each
    length)."""
    outs = [o if return_state else (o,) for o in outs]
    first = [o[0] for o in outs]
    if mode != "many_to_one":
        first = [np.concatenate([o, np.zeros((1, size - o.shape[1], hidden))], axis=1) for o in first]
    out = np.concatenate(first)
    return (out, np.concatenate([o[1] for o in outs])) if return_state else out


@reference("rnn")
def rnn(p, out_dims, x, hidden, mode, steps, initial, return_state, act, reverse, lengths):
    return _recurrent(
        _rnn_step, hidden, p, x, hidden, mode, steps, initial, return_state, reverse, lengths, act
    )


@reference("lstm")
def lstm(p, out_dims, x, hidden, mode, steps, initial, return_state, reverse, lengths):
    return _recurrent(
        _lstm_step, 2 * hidden, p, x, hidden, mode, steps, initial, return_state, reverse, lengths
    )


@reference("gru")
def gru(p, out_dims, x, hidden, mode, steps, initial, return_state, reverse, lengths):
    return _recurrent(_gru_step, hidden, p, x, hidden, mode, steps, initial, return_state, reverse,
                      lengths)  # fmt: skip


@reference("sequence_mask")
def sequence_mask(p, out_dims, lengths, size):
    return np.array([[t < n for t in range(size)] for n in lengths])


# --- mechanisms ----------------------------------------------------------------------------------


@reference("wormhole_gate")
def wormhole_gate(
    p,
    out_dims,
    x,
    units,
    target_shape,
    gate,
    gate_bias,
    tol,
    rtol,
    max_iter,
    solver,
    backward_tol,
    backward_max_iter,
    anderson_m,
):
    y = x @ p["w"]
    if gate != "none":
        g = {"sigmoid": _sigmoid, "tanh": np.tanh}[gate](x @ p["gate_w"] + p["gate_b"])
        y = g * y
    return y.reshape((x.shape[0],) + tuple(out_dims[0]))


@reference("masked_dense")
def masked_dense(p, out_dims, x, adj, copies, mask, act, bias):
    n = adj.shape[-1]
    c_in = x.shape[-1] // n
    block = np.ones((c_in, copies))
    w = p["w"]
    if mask == "cluster":  # the stored diagonal blocks, placed in the dense (c_in n, c_out n) W
        w = np.zeros((n * c_in, n * copies))
        for i, b in enumerate(p["w"]):
            w[i * c_in : (i + 1) * c_in, i * copies : (i + 1) * copies] = b
    out = []
    for example, a in zip(x, adj, strict=True):
        m = np.kron(a.T, block) if mask == "adjacency" else np.kron(np.eye(n), block)
        out.append(example @ (w * m))
    y = np.stack(out)
    if bias:
        y = y + p["b"]
    return ACT[act](y)
