"""Graph-level JAX lowering: params layout, numerics vs NumPy float64, wormholes, segments."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads
from spec_texts import SEGMENTS

import seqnet
from seqnet.backends.jax.lower import lower, tree_get

MLP = """
input x : {dt}[6]
block mlp(x, out, hidden=8) {{
  h = dense(x, hidden, act=tanh)
  return dense(h, out)
}}
h = dense(x, 8, act=relu)
h = repeat 2 shared {{ mlp(h, 8) + h }}
output y : {dt}[3] = dense(h, 3)
"""


def _np(tree):
    return jax.tree_util.tree_map(lambda a: np.asarray(a, np.float64), tree)


def _dense(p, x, act=None):
    y = x @ p["w"] + p["b"]
    return {"tanh": np.tanh, "relu": lambda v: np.maximum(v, 0), None: lambda v: v}[act](y)


def _owners(g):
    return [n for n in g.nodes if g.nodes[n].get("params") and g.nodes[n]["param_owner"] == n]


def _mlp_reference(g, params, x):
    p = _np(params)
    dense_nodes = [n for n in g.nodes if g.nodes[n]["op"] == "dense"]
    first = next(n for n in dense_nodes if g.nodes[n]["args"][0][1][0] == "x")
    out = g.graph["outputs"]["y"][0]
    inner = [n for n in dense_nodes if g.nodes[n]["repeats"] and n.split("/")[1] == "0"]
    hidden = next(n for n in inner if g.nodes[n]["attrs"]["act"] == "tanh")
    last = next(n for n in inner if n != hidden)
    h = _dense(tree_get(p, tuple(first.split("/"))), x, "relu")
    for _ in range(2):  # one shared block, applied twice
        m = _dense(tree_get(p, tuple(hidden.split("/"))), h, "tanh")
        h = _dense(tree_get(p, tuple(last.split("/"))), m) + h
    return _dense(tree_get(p, tuple(out.split("/"))), h)


@pytest.fixture(scope="module")
def mlp():
    m = seqnet.loads(MLP.format(dt="float32"))
    low = lower(m.graph)
    return m.graph, low, low.init(jax.random.key(0))


def test_mlp_matches_numpy_float64(mlp):
    g, low, params = mlp
    x = np.random.default_rng(0).normal(size=(5, 6)).astype(np.float32)
    got = np.asarray(low.apply(params, {"x": x})["y"], np.float64)
    want = _mlp_reference(g, params, x.astype(np.float64))
    assert got.shape == (5, 3)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_params_tree_follows_node_names(mlp):
    g, low, params = mlp
    paths = {tuple(str(k.key) for k in path[:-1]) for path, _ in
             jax.tree_util.tree_leaves_with_path(params)}  # fmt: skip
    assert paths == {tuple(n.split("/")) for n in _owners(g)}
    for n in g.nodes:
        d = g.nodes[n]
        if d.get("params"):
            assert set(tree_get(params, tuple(d["param_owner"].split("/")))) == set(d["params"])
    shared = [n for n in g.nodes if g.nodes[n].get("params") and g.nodes[n]["param_owner"] != n]
    assert shared, "the shared repeat's second copy reads the first copy's params"
    for n in shared:
        assert tuple(n.split("/")) not in paths


def test_init_is_deterministic(mlp):
    _, low, params = mlp
    again = low.init(jax.random.key(0))
    jax.tree_util.tree_map(np.testing.assert_array_equal, params, again)
    other = low.init(jax.random.key(1))
    assert not np.allclose(params["y"]["w"], other["y"]["w"], rtol=1e-5, atol=1e-6)


# Eager, jitted and vmapped runs of one float32 network are different XLA programs: fusion, FMA
# and the order of the dot products' sums differ (and differ between CPUs). Outputs are O(1)
# (|y| <= ~1.5) after four dense layers of width <= 8, so each output carries a rounding error of
# a few float32 ulps: up to ~1e-6 absolute seen here (2-core AMD EPYC, 1,200 comparisons), and a
# relative error without bound on outputs near zero (1.4e-4 at |y| ~ 1e-3 on another machine),
# which is why a pure rtol fails. atol = rtol = 1e-5 is ~10x the rounding seen; a wrong lowering
# (a wrong weight, activation or batch row) errs by O(0.1).
JIT_ATOL = JIT_RTOL = 1e-5


def test_jit_and_vmap(mlp):
    _, low, params = mlp
    x = np.random.default_rng(1).normal(size=(2, 4, 6)).astype(np.float32)
    eager = low.apply(params, {"x": x[0]})["y"]
    jitted = jax.jit(low.apply)(params, {"x": x[0]})["y"]
    np.testing.assert_allclose(eager, jitted, rtol=JIT_RTOL, atol=JIT_ATOL)
    mapped = jax.vmap(lambda xi: low.apply(params, {"x": xi})["y"])(x)
    for i in range(2):
        want = low.apply(params, {"x": x[i]})["y"]
        np.testing.assert_allclose(mapped[i], want, rtol=JIT_RTOL, atol=JIT_ATOL)


def test_grads_float64():
    with jax.enable_x64(True):
        m = seqnet.loads(MLP.format(dt="float64"))
        low = lower(m.graph, compute_dtype="float64")
        params = jax.tree_util.tree_map(
            lambda a: a.astype(jnp.float64), low.init(jax.random.key(0))
        )
        x = np.random.default_rng(2).normal(size=(3, 6))
        # float64 with JAX's finite-difference step 1e-4: JAX's float64 tolerances, stated
        check_grads(lambda p: low.apply(p, {"x": x})["y"], (params,), order=1, modes=["rev"],
                    atol=1e-5, rtol=1e-5)  # fmt: skip


def test_bfloat16_compute(mlp):
    g, _, params = mlp
    low = lower(g, compute_dtype="bfloat16")
    x = np.random.default_rng(3).normal(size=(4, 6)).astype(np.float32)
    y = low.apply(params, {"x": x})["y"]
    assert y.dtype == jnp.float32
    np.testing.assert_allclose(
        y, _mlp_reference(g, params, x.astype(np.float64)), atol=0.1, rtol=0.1
    )


def test_bad_inputs_name_the_input(mlp):
    _, low, params = mlp
    with pytest.raises(ValueError, match=r"input 'x'.*shape"):
        low.apply(params, {"x": np.zeros((2, 5), np.float32)})
    with pytest.raises(ValueError, match=r"input 'x'.*dtype"):
        low.apply(params, {"x": np.zeros((2, 6), np.int32)})
    with pytest.raises(ValueError, match="missing input 'x'"):
        low.apply(params, {})
    with pytest.raises(ValueError, match="unknown input"):
        low.apply(params, {"x": np.zeros((2, 6), np.float32), "z": np.zeros(1)})


# --- wormholes -----------------------------------------------------------------------------------

WORMHOLE = """
input x : float32[4]
h1 = dense(x, 6, act=tanh)
h2 = dense(h1, 6, act=tanh)
wormhole h2 -> h1 gate=sigmoid gate_bias=0.0 tol=1e-6 max_iter={max_iter} solver={solver}
output y : float32[2] = dense(h2, 2)
"""
GATE = "wormhole_h2_to_h1"


def _wormhole(solver="fixed_point", max_iter=200):
    m = seqnet.loads(WORMHOLE.format(solver=solver, max_iter=max_iter))
    low = lower(m.graph)
    params = low.init(jax.random.key(3))
    # A clearly open gate (0.5) and a strong back-connection: many iterations, still contractive.
    params[GATE]["w"] = params[GATE]["w"] * 1.5
    params[GATE]["gate_w"] = 0.3 * jax.random.normal(
        jax.random.key(4), params[GATE]["gate_w"].shape
    )
    return m.graph, low, params


def _wormhole_reference(params, x):
    p = _np(params)
    g = p[GATE]
    h1 = np.tanh(x @ p["h1"]["w"] + p["h1"]["b"])
    for _ in range(2000):
        h2 = np.tanh(h1 @ p["h2"]["w"] + p["h2"]["b"])
        gate = 1 / (1 + np.exp(-(h2 @ g["gate_w"] + g["gate_b"])))
        new = np.tanh(x @ p["h1"]["w"] + p["h1"]["b"] + gate * (h2 @ g["w"]))
        if np.abs(new - h1).max() < 1e-13:
            break
        h1 = new
    h2 = np.tanh(h1 @ p["h2"]["w"] + p["h2"]["b"])
    return h2 @ p["y"]["w"] + p["y"]["b"]


def test_wormhole_reaches_the_fixed_point():
    _, low, params = _wormhole()
    x = np.random.default_rng(4).normal(size=(5, 4)).astype(np.float32)
    out, stats = jax.jit(low.apply_with_stats)(params, {"x": x})
    np.testing.assert_allclose(
        out["y"], _wormhole_reference(params, x.astype(np.float64)), atol=1e-4, rtol=1e-4
    )  # float32 fixed point, stopped at tol=1e-6 on a contractive but slow (open-gate) map
    iters = stats[f"wormhole/{GATE}/iterations"]
    assert iters.shape == (5,) and iters.dtype == jnp.int32
    assert np.all(iters > 1) and np.all(iters < 200)
    assert np.all(stats[f"wormhole/{GATE}/converged"])
    assert np.all(stats[f"wormhole/{GATE}/residual"] <= 1e-6)


def test_wormhole_closed_gate_settles_fast():
    m = seqnet.loads(
        WORMHOLE.format(solver="fixed_point", max_iter=50).replace(
            "gate_bias=0.0", "gate_bias=-30.0"
        )
    )
    low = lower(m.graph)
    params = low.init(jax.random.key(0))
    _, stats = low.apply_with_stats(params, {"x": np.ones((2, 4), np.float32)})
    assert np.all(stats[f"wormhole/{GATE}/iterations"] == 1)


def test_wormhole_not_converging_is_reported():
    _, low, params = _wormhole(max_iter=2)
    _, stats = low.apply_with_stats(params, {"x": np.ones((2, 4), np.float32)})
    assert not np.any(stats[f"wormhole/{GATE}/converged"])
    assert np.all(stats[f"wormhole/{GATE}/iterations"] == 2)


def test_wormhole_implicit_grads_match_unrolled():
    _, implicit, params = _wormhole("fixed_point", 200)
    _, unrolled, _ = _wormhole("unrolled", 200)
    x = np.random.default_rng(5).normal(size=(3, 4)).astype(np.float32)

    def loss(low):
        return lambda p, x: jnp.sum(low.apply(p, {"x": x})["y"] ** 2)

    g_imp = jax.jit(jax.grad(loss(implicit), argnums=(0, 1)))(params, x)
    g_unr = jax.jit(jax.grad(loss(unrolled), argnums=(0, 1)))(params, x)
    for a, b in zip(
        jax.tree_util.tree_leaves(g_imp), jax.tree_util.tree_leaves(g_unr), strict=True
    ):
        np.testing.assert_allclose(a, b, atol=1e-4, rtol=1e-3)
    assert float(jnp.abs(g_imp[0][GATE]["w"]).sum()) > 0


def test_wormhole_vmaps():
    _, low, params = _wormhole()
    x = np.random.default_rng(6).normal(size=(2, 3, 4)).astype(np.float32)
    mapped = jax.vmap(lambda xi: low.apply(params, {"x": xi})["y"])(x)
    # vmap runs the solver's loop until both batches converge (tol=1e-6), so batch 1 may take
    # extra iterations: its outputs move by up to ~tol, plus float32 rounding.
    np.testing.assert_allclose(mapped[1], low.apply(params, {"x": x[1]})["y"], atol=1e-5, rtol=1e-5)


# --- segment structures --------------------------------------------------------------------------



@functools.cache
def _segments(n, share):
    m = seqnet.loads(SEGMENTS.format(n=n, share=share))
    low = lower(m.graph)
    (node,) = [v for v in m.graph.nodes if m.graph.nodes[v]["op"] == "segments"]
    return low, node, m.graph.nodes[node]["attrs"]["structure"], low.init(jax.random.key(7))


def _region_mlp(p, copy, x):
    """The role's block (concat inputs -> dense tanh -> dense) with parameter copy `copy`."""
    p = _np(jax.tree_util.tree_map(lambda a: a[copy], p))
    (block,) = p.values()  # {"token"|"fusion"|"decoder": {"h": ..., "dense": ...}}
    return _dense(block["dense"], _dense(block["h"], x, "tanh"))


def _copy(structure, share, role, seg):
    if share == "all":
        return 0
    if share == "per_level":
        return 0 if role == "token" else structure.level(seg) - (role == "fusion")
    if role == "token":
        return seg[0] - 1
    if role == "fusion":
        return structure.segments[structure.n :].index(seg)
    return structure.segments.index(seg)


def _eps(structure, share, p, x, seg):
    i, j = seg
    if i == j:
        return _region_mlp(p["token"], _copy(structure, share, "token", seg), x[:, i - 1])
    s = structure.splits[seg]
    left = _eps(structure, share, p, x, (i, s))
    right = _eps(structure, share, p, x, (s + 1, j))
    return _region_mlp(p["fusion"], _copy(structure, share, "fusion", seg),
                       np.concatenate([left, right], -1))  # fmt: skip


@pytest.mark.parametrize("n, share", [(4, "none"), (5, "none"), (5, "per_level"), (4, "all")])
def test_segments_final_network_matches_recursion(n, share):
    low, node, structure, params = _segments(n, share)
    x = np.random.default_rng(n).normal(size=(3, n, 2)).astype(np.float32)
    got = jax.jit(low.apply)(params, {"x": x})["y"]
    p = params[node]
    root = _eps(structure, share, p, x.astype(np.float64), (1, n))
    zero = np.zeros_like(root)
    want = _region_mlp(p["decoder"], _copy(structure, share, "decoder", (1, n)),
                       np.concatenate([zero, root, zero], -1))  # fmt: skip
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert got.shape == (3, 2)


def test_segments_params_have_a_copies_axis():
    low, node, structure, params = _segments(5, "none")
    copies = {role: {a.shape[0] for a in jax.tree_util.tree_leaves(params[node][role])}
              for role in ("token", "fusion", "decoder")}  # fmt: skip
    assert copies == {"token": {5}, "fusion": {len(structure.splits)},
                      "decoder": {5 + len(structure.splits)}}  # fmt: skip


def test_segments_init_under_jit_matches_eager_init():
    """Under jit the copies are initialised by one vmap, eagerly by a loop: the same values."""
    low, node, _, params = _segments(5, "none")
    jitted = jax.jit(low.init)(jax.random.key(7))
    pairs = zip(jax.tree_util.tree_leaves(params), jax.tree_util.tree_leaves(jitted), strict=True)
    for eager, traced in pairs:
        np.testing.assert_allclose(traced, eager, rtol=1e-6, atol=1e-7)


def _local_setup(n=5):
    low, node, structure, params = _segments(n, "none")
    x = np.random.default_rng(9).normal(size=(4, n, 2)).astype(np.float32)
    targets = np.random.default_rng(10).normal(size=(4, 2)).astype(np.float32)
    loss = lambda out, t: jnp.mean((out["y"] - t) ** 2)  # noqa: E731
    return low, node, structure, params, x, targets, loss


def test_local_outputs_match_decoders_and_final_segment():
    low, node, structure, params, x, targets, loss = _local_setup()
    segs = structure.segments
    outs = jax.jit(lambda p, x: low.local_outputs(p, {"x": x})[1])(params, x)
    assert segs == structure.segments and outs["y"].shape == (len(segs), 4, 2)
    k = segs.index((1, structure.n))
    final = jax.jit(low.apply)(params, {"x": x})["y"]
    np.testing.assert_allclose(outs["y"][k], final, rtol=1e-5, atol=1e-6)
    # One middle segment, by hand: omega((1,i-1), eps(i,j), (j+1,N)).
    p, xs = params[node], x.astype(np.float64)
    i, j = next(s for s in segs if s[0] > 1 and s[1] < structure.n and s[0] < s[1])
    parts = [_eps(structure, "none", p, xs, s) for s in ((1, i - 1), (i, j), (j + 1, structure.n))]
    want = _region_mlp(p["decoder"], segs.index((i, j)), np.concatenate(parts, -1))
    np.testing.assert_allclose(outs["y"][segs.index((i, j))], want, rtol=1e-5, atol=1e-6)


def test_local_terms_gradients_stay_local():
    low, node, structure, params, x, targets, loss = _local_setup()
    segs = structure.segments
    terms_fn = jax.jit(lambda p: low.local_loss_terms(p, {"x": x}, loss, targets))
    terms = terms_fn(params)
    assert terms.shape == (len(segs),)
    total = jax.jit(lambda p: low.local_loss(p, {"x": x}, loss, targets))(params)
    np.testing.assert_allclose(total, terms.sum(), rtol=1e-5, atol=1e-6)  # float32, ~10 terms
    k = segs.index((2, structure.n))  # a fusion segment with a prefix and children
    term_grad = jax.jit(jax.grad(lambda p, k: terms_fn(p)[k]))
    grads = term_grad(params, k)[node]

    def rows_touched(tree):
        leaves = jax.tree_util.tree_leaves(tree)
        return {
            int(r)
            for a in leaves
            for r in np.nonzero(np.abs(np.asarray(a)).reshape(a.shape[0], -1).sum(1))[0]
        }

    assert rows_touched(grads["fusion"]) == {
        structure.segments[structure.n :].index((2, structure.n))
    }
    assert rows_touched(grads["decoder"]) == {k}
    assert rows_touched(grads["token"]) == set()
    # A token segment's term reaches only that token's encoder.
    t = segs.index((3, 3))
    grads = term_grad(params, t)[node]
    assert rows_touched(grads["token"]) == {2}
    assert rows_touched(grads["fusion"]) == set()


def test_wormhole_relative_tolerance_stops_earlier_on_large_states():
    """rtol: converged when change <= tol + rtol * max|z|; a loose rtol needs fewer iterations."""
    text = """
input x : float32[4]
h1 = dense(x, 6, act=none)
h2 = dense(h1, 6, act=tanh)
wormhole h2 -> h1 gate=sigmoid gate_bias=1.0 tol=1e-7 rtol={rtol} max_iter=400
output y : float32[2] = dense(h2, 2)
"""
    x = jnp.full((2, 4), 50.0)  # a large state: the relative bound dominates
    iters = {}
    for rtol in (0.0, 1e-2):
        lowered = seqnet.loads(text.format(rtol=rtol))._jax()
        params = lowered.init(jax.random.key(0))
        _, stats = lowered.apply_with_stats(params, {"x": x})
        iters[rtol] = int(stats["wormhole/wormhole_h2_to_h1/iterations"].max())
        assert bool(stats["wormhole/wormhole_h2_to_h1/converged"].all())
    assert iters[1e-2] < iters[0.0], iters
