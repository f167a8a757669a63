"""User-defined recurrent cells (`scan`): the shipped user LSTM equals the built-in `lstm` on the
same weights, in every mode and direction; a float64 NumPy reference and check_grads; the cell's
parameters are one set shared by every step, its cost counted once per step."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

import seqnet
from seqnet.backends.jax.context import RunState
from seqnet.backends.jax.lower import lower
from seqnet.compiler.summary import summarize

SPEC = (Path(__file__).resolve().parents[3] / "specs" / "custom_lstm_cell.seqnet").read_text()
USER_LINE = "h = scan(lstm_cell(hidden=H), embed(x, 16), state=[2 * H], mode=many_to_one)"
N, H, E = 12, 32, 16


def _spec(mode: str, reverse: bool, builtin: bool) -> str:
    flag = ", reverse=true" if reverse else ""
    if builtin:
        line = f"h = lstm(embed(x, 16), H, mode={mode}{flag})"
    else:
        line = f"h = scan(lstm_cell(hidden=H), embed(x, 16), state=[2 * H], mode={mode}{flag})"
    out = "output y : float32[2] = dense(h, 2)" if mode == "many_to_one" else \
        "output y : float32[N, 2] = dense(h, 2)"  # fmt: skip
    text = SPEC.replace(USER_LINE, line).replace("output y : float32[2] = dense(h, 2)", out)
    return text.split("train {")[0]


def _user_params(builtin_params: dict) -> dict:
    """The built-in lstm's weights, copied into the user cell's dense layers."""
    lstm = builtin_params["h"]
    return {**builtin_params, "h": {"cell": {"dense": {"w": lstm["wx"]},
                                             "dense_1": {"w": lstm["wh"], "b": lstm["b"]}}}}  # fmt: skip


def _ids(seed: int = 0, batch: int = 5) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 2, (batch, N)).astype(np.int32)


@pytest.mark.parametrize("mode", ["many_to_one", "many_to_many"])
@pytest.mark.parametrize("reverse", [False, True])
def test_user_lstm_cell_equals_builtin_lstm(mode, reverse):
    builtin = seqnet.loads(_spec(mode, reverse, True), name="builtin.seqnet")
    user = seqnet.loads(_spec(mode, reverse, False), name="user.seqnet")
    params = builtin.init(jax.random.key(3))
    params["h"]["b"] = jax.random.normal(jax.random.key(4), params["h"]["b"].shape) * 0.5
    mine = _user_params(params)
    assert jax.tree.map(jnp.shape, mine) == jax.tree.map(jnp.shape, user.init(jax.random.key(0)))
    x = _ids()
    want = np.asarray(builtin.apply(params, x=x)["y"])
    got = np.asarray(user.apply(mine, x=x)["y"])
    np.testing.assert_allclose(got, want, atol=1e-6, rtol=1e-6)
    assert not np.allclose(want[:, ..., 0], want[:, ..., 1])  # the outputs say something


def _numpy_lstm(xs: np.ndarray, wx, wh, b, reverse: bool) -> np.ndarray:
    """float64 reference: every step's h, (batch, T, H)."""
    sig = lambda a: 1.0 / (1.0 + np.exp(-a))  # noqa: E731
    batch, steps, _ = xs.shape
    h = np.zeros((batch, H))
    c = np.zeros((batch, H))
    out = np.zeros((batch, steps, H))
    order = range(steps - 1, -1, -1) if reverse else range(steps)
    for t in order:
        z = xs[:, t] @ wx + h @ wh + b
        i, f, g, o = np.split(z, 4, axis=-1)
        c = sig(f) * c + sig(i) * np.tanh(g)
        h = sig(o) * np.tanh(c)
        out[:, t] = h
    return out


@pytest.fixture
def x64():
    with jax.enable_x64(True):
        yield


def _cell_graph(reverse: bool):
    text = _spec("many_to_many", reverse, False).replace(
        "input x : int32[N] vocab 2", "input x : float32[N, 16]").replace("embed(x, 16)", "x")
    return seqnet.loads(text, name="cell.seqnet")


@pytest.mark.parametrize("reverse", [False, True])
def test_scan_against_float64_numpy_and_check_grads(x64, reverse):
    model = _cell_graph(reverse)
    graph = model.graph
    program = lower(graph, compute_dtype="float64").program
    params = jax.tree.map(lambda a: a.astype(jnp.float64), model.init(jax.random.key(1)))
    cell = params["h"]["cell"]
    cell["dense_1"]["b"] = jnp.linspace(-1.0, 1.0, 4 * H, dtype=jnp.float64)
    xs = np.random.default_rng(2).normal(size=(3, N, E))
    scan_ref = tuple(next(r for a, r in graph.nodes["y"]["args"] if a == "x"))

    def hidden(cell_params, xs):
        p = {**params, "h": {"cell": cell_params}}
        env = program.run(p, {"x": xs}, RunState(train=False, rng=None))
        return env[scan_ref]

    want = _numpy_lstm(xs, np.asarray(cell["dense"]["w"]), np.asarray(cell["dense_1"]["w"]),
                       np.asarray(cell["dense_1"]["b"]), reverse)  # fmt: skip
    np.testing.assert_allclose(np.asarray(hidden(cell, jnp.asarray(xs))), want, atol=1e-12, rtol=1e-12)
    check_grads(hidden, (cell, jnp.asarray(xs)), order=1, modes=("rev",), eps=1e-6, atol=1e-6, rtol=1e-6)


def test_cell_parameters_are_one_set_and_its_cost_counts_every_step():
    user = seqnet.loads(_spec("many_to_one", False, False), name="user.seqnet")
    builtin = seqnet.loads(_spec("many_to_one", False, True), name="builtin.seqnet")
    s_user, s_builtin = summarize(user.graph), summarize(builtin.graph)
    lstm_params = E * 4 * H + H * 4 * H + 4 * H
    assert s_user["total_params"] == s_builtin["total_params"] == 2 * E + lstm_params + H * 2 + 2
    row = next(r for r in s_user["nodes"] if r["op"] == "scan")
    region = user.graph.nodes["h"]["regions"]["cell"]
    per_step = sum(region.nodes[n]["flops"] for n in region.nodes)
    assert per_step > 2 * (E + H) * 4 * H  # at least the two matmuls of a step
    assert row["flops"] == N * per_step


def test_initial_state_matches_builtin_lstm_initial():
    def spec(builtin: bool) -> str:
        text = _spec("many_to_one", False, builtin).replace(
            "input x : int32[N] vocab 2", "input x : int32[N] vocab 2\ninput h0 : float32[2 * H]")
        return text.replace("mode=many_to_one)", "mode=many_to_one, initial=h0)")

    builtin = seqnet.loads(spec(True), name="builtin.seqnet")
    user = seqnet.loads(spec(False), name="user.seqnet")
    params = builtin.init(jax.random.key(5))
    h0 = np.random.default_rng(1).normal(size=(5, 2 * H)).astype(np.float32)
    want = np.asarray(builtin.apply(params, x=_ids(1), h0=h0)["y"])
    got = np.asarray(user.apply(_user_params(params), x=_ids(1), h0=h0)["y"])
    np.testing.assert_allclose(got, want, atol=1e-6, rtol=1e-6)
    zero = np.asarray(user.apply(_user_params(params), x=_ids(1), h0=np.zeros_like(h0))["y"])
    assert not np.allclose(got, zero, atol=1e-4, rtol=1e-4)  # the initial state is read


DROPOUT_CELL = """
dim T = 6
input x : float32[T, 16]
block cell(x, state) {
  return dropout(x, 0.5), state
}
output y : float32[T, 16] = scan(cell, x, state=[4])
"""


def test_dropout_inside_a_cell_differs_per_step_in_training_only():
    model = seqnet.loads(DROPOUT_CELL, name="dropout_cell.seqnet")
    params = model.init(jax.random.key(0))
    x = np.ones((2, 6, 16), np.float32)
    np.testing.assert_allclose(np.asarray(model.apply(params, x=x)["y"]), x, atol=0, rtol=0)
    y = np.asarray(model.apply(params, x=x, train=True, rng=jax.random.key(1))["y"])
    kept = y != 0
    assert 0 < kept.mean() < 1
    # the same input at every step, dropped by a different mask at each step
    assert len({kept[0, t].tobytes() for t in range(6)}) > 1


LENGTHS = np.array([0, 3, 7, N, 1], np.int32)


def _with_lengths(text: str) -> str:
    text = text.replace("input x : int32[N] vocab 2", "input x : int32[N] vocab 2\ninput n : int32[]")
    return text.replace("mode=", "lengths=n, mode=")


@pytest.mark.parametrize("mode", ["many_to_one", "many_to_many"])
@pytest.mark.parametrize("reverse", [False, True])
def test_user_cell_with_lengths_equals_builtin_lstm_with_lengths(mode, reverse):
    """Past its length an example's state is held (and its output zero): the user cell's scan
    gives the built-in lstm's numbers there too (the built-in is checked against float64 NumPy
    in test_ops.py)."""
    builtin = seqnet.loads(_with_lengths(_spec(mode, reverse, True)), name="builtin.seqnet")
    user = seqnet.loads(_with_lengths(_spec(mode, reverse, False)), name="user.seqnet")
    params = builtin.init(jax.random.key(6))
    x = _ids(2)
    want = np.asarray(builtin.apply(params, x=x, n=LENGTHS)["y"])
    got = np.asarray(user.apply(_user_params(params), x=x, n=LENGTHS)["y"])
    np.testing.assert_allclose(got, want, atol=1e-6, rtol=1e-6)
    unpadded = np.asarray(user.apply(_user_params(params), x=x, n=np.full(5, N, np.int32))["y"])
    assert not np.allclose(got, unpadded, atol=1e-4, rtol=1e-4)  # the lengths are read


def test_scan_with_lengths_against_float64_numpy_and_check_grads(x64):
    model = _cell_graph(False)
    graph = seqnet.loads(_with_lengths(_spec("many_to_many", False, False)).replace(
        "input x : int32[N] vocab 2", "input x : float32[N, 16]").replace("embed(x, 16)", "x"),
        name="cell.seqnet").graph  # fmt: skip
    program = lower(graph, compute_dtype="float64").program
    params = jax.tree.map(lambda a: a.astype(jnp.float64), model.init(jax.random.key(1)))
    cell = params["h"]["cell"]
    xs = np.random.default_rng(3).normal(size=(5, N, E))
    scan_ref = tuple(next(r for a, r in graph.nodes["y"]["args"] if a == "x"))

    def hidden(cell_params, xs):
        env = program.run({**params, "h": {"cell": cell_params}}, {"x": xs, "n": LENGTHS},
                          RunState(train=False, rng=None))  # fmt: skip
        return env[scan_ref]

    w = [np.asarray(a) for a in (cell["dense"]["w"], cell["dense_1"]["w"], cell["dense_1"]["b"])]
    want = np.zeros((5, N, H))
    for b, n in enumerate(LENGTHS):  # each example alone, over its real positions
        want[b, :n] = _numpy_lstm(xs[b : b + 1, :n], *w, reverse=False)[0]
    np.testing.assert_allclose(np.asarray(hidden(cell, jnp.asarray(xs))), want, atol=1e-12, rtol=1e-12)
    check_grads(hidden, (cell, jnp.asarray(xs)), order=1, modes=("rev",), eps=1e-6, atol=1e-6, rtol=1e-6)
