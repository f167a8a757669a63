"""JAX lowerings of the recurrent layers: RNN, LSTM and GRU cells iterated with `lax.scan`.

With z_x = x_t Wx (all gates at once, width g*h) and the previous hidden state h:

* rnn:  h' = act(z_x + h Wh + b)
* lstm: [i, f, g, o] = z_x + h Wh + b (PyTorch gate order); c' = sigmoid(f) c + sigmoid(i) tanh(g);
        h' = sigmoid(o) tanh(c'); the state is concat(h, c) (h first).
* gru:  [xr, xz, xn] = z_x; [hr, hz, hn] = h Wh + b (PyTorch gate order r, z, n; the single bias
        sits on the recurrent side, so b_n is inside the reset gate as in PyTorch's b_hn);
        r = sigmoid(xr + hr); z = sigmoid(xz + hz); n = tanh(xn + r * hn); h' = (1 - z) n + z h.

Every cell outputs h'. Modes: many_to_many returns every step's output, (batch, T, h);
many_to_one the output of the last step processed, (batch, h); one_to_many feeds the same input
vector at each of `steps` steps, (batch, steps, h). `initial` is the starting state (zeros when
absent). reverse=True processes the sequence from its end (lax.scan(reverse=True)): outputs stay
aligned with their input positions, so many_to_one then returns the output at position 0, and
one_to_many's outputs are written from the last position backwards. return_state=True also
returns the final state (after the last step processed). lengths= (one per example) pads: at a
position at or past its length an example keeps its state and outputs zeros, so many_to_one and
the final state are those of its last valid position (reverse: its first, the state starting
from `initial` through the padding).

`scan` (a user cell) is lowered by a `ProgramRule`: a `CellProgram` (cells.py) owns its region.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

from seqnet.backends.jax.cells import CellProgram
from seqnet.backends.jax.context import ProgramRule
from seqnet.backends.jax.ops.common import ACTIVATIONS, BACKEND, lowering, step_rule
from seqnet.backends.jax.padding import hold, valid_positions
from seqnet.compiler.ops.catalog import register_lowering


def _rnn_cell(act):
    def step(params, state, zx):
        h = ACTIVATIONS[act](zx + state @ params["wh"] + params["b"])
        return h, h

    return step


def _lstm_step(params, state, zx):
    h, c = jnp.split(state, 2, axis=-1)
    i, f, g, o = jnp.split(zx + h @ params["wh"] + params["b"], 4, axis=-1)
    c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
    h = jax.nn.sigmoid(o) * jnp.tanh(c)
    return jnp.concatenate([h, c], axis=-1), h


def _gru_step(params, state, zx):
    xr, xz, xn = jnp.split(zx, 3, axis=-1)
    hr, hz, hn = jnp.split(state @ params["wh"] + params["b"], 3, axis=-1)
    r = jax.nn.sigmoid(xr + hr)
    z = jax.nn.sigmoid(xz + hz)
    n = jnp.tanh(xn + r * hn)
    h = (1.0 - z) * n + z * state
    return h, h


def _iterate(ctx, step, state_size, x, hidden, mode, steps, initial, return_state, reverse, lengths=None):
    params = ctx.params
    batch = x.shape[0]
    zx = x @ params["wx"]  # the input projection of every step in one matmul
    if mode == "one_to_many":
        sequence = jnp.broadcast_to(zx, (steps,) + zx.shape)
    else:
        sequence = jnp.swapaxes(zx, 0, 1)  # scan runs over the leading axis: (T, batch, g*h)
    state = jnp.zeros((batch, state_size), zx.dtype) if initial is None else initial
    keep_outputs = mode != "many_to_one"

    valid = None if lengths is None else jnp.swapaxes(valid_positions(lengths, sequence.shape[0]), 0, 1)

    def body(carry, item):
        zx_t, valid_t = item
        new_state, out = step(params, carry, zx_t)
        if valid_t is not None:  # past its length an example keeps its state and outputs zeros
            new_state, out = hold(valid_t, new_state, carry), hold(valid_t, out, jnp.zeros_like(out))
        return new_state, (out if keep_outputs else None)

    final, outs = lax.scan(body, state, (sequence, valid), reverse=reverse)
    out = jnp.swapaxes(outs, 0, 1) if keep_outputs else final[:, :hidden]  # h comes first
    return (out, final) if return_state else out


@lowering("rnn")
def rnn(ctx, x, hidden, mode, steps, initial, return_state, act, reverse, lengths=None):
    return _iterate(
        ctx, _rnn_cell(act), hidden, x, hidden, mode, steps, initial, return_state, reverse, lengths
    )


@lowering("lstm")
def lstm(ctx, x, hidden, mode, steps, initial, return_state, reverse, lengths=None):
    return _iterate(
        ctx, _lstm_step, 2 * hidden, x, hidden, mode, steps, initial, return_state, reverse, lengths
    )


@lowering("gru")
def gru(ctx, x, hidden, mode, steps, initial, return_state, reverse, lengths=None):
    return _iterate(ctx, _gru_step, hidden, x, hidden, mode, steps, initial, return_state, reverse,
                    lengths)  # fmt: skip


# --- incremental rules: the state carried from one position to the next --------------------------


def _refuses(attrs: dict, out_types: list) -> str | None:
    if attrs.get("mode") != "many_to_many":
        return f"mode={attrs.get('mode')} does not give one output per position"
    if attrs.get("reverse"):
        return "reverse=true reads the sequence from its end"
    if attrs.get("return_state"):
        return "return_state=true returns the state after the whole sequence"
    if attrs.get("lengths") is not None:
        return "it takes lengths= (generation runs unpadded sequences)"
    return None


def _register_step(name: str, step, state_size) -> None:
    def init(ctx, batch, *, hidden, initial=None, **attrs):
        return jnp.zeros((batch, state_size(hidden)), ctx.compute_dtype)

    def one(ctx, state, pos, x, hidden, mode, steps, initial, return_state, reverse, lengths=None, **attrs):
        if initial is not None:  # the starting state is an input: read it at position 0
            state = jnp.where(pos == 0, initial.astype(state.dtype), state)
        new_state, out = step(ctx.params, state, x[:, 0] @ ctx.params["wx"], **attrs)
        return out[:, None], new_state

    step_rule(name, init=init, refuses=_refuses)(one)


_register_step("rnn", lambda p, s, zx, act: _rnn_cell(act)(p, s, zx), lambda h: h)
_register_step("lstm", _lstm_step, lambda h: 2 * h)
_register_step("gru", _gru_step, lambda h: h)


register_lowering("scan", BACKEND)(ProgramRule(build=CellProgram))
