"""Wormhole solvers that say how they went: stats from `Model.apply`, the unrolled solver that
stops at convergence, gate=none without gate parameters, and Anderson acceleration."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

import seqnet
from seqnet.backends.jax import fixed_point as fp
from seqnet.backends.jax.lower import lower

SPEC = """
input x : float32[4]
h1 = dense(x, 6, act=tanh)
h2 = dense(h1, 6, act=tanh)
wormhole h2 -> h1 gate={gate} gate_bias=0.0 tol=1e-6 max_iter=200 solver={solver}
output y : float32[2] = dense(h2, 2)
"""
GATE = "wormhole_h2_to_h1"


def test_apply_with_stats_gives_each_examples_solve_and_where_it_is():
    m = seqnet.loads(SPEC.format(gate="sigmoid", solver="fixed_point"), name="loop.seqnet")
    params = m.init(jax.random.key(0))
    x = jnp.asarray(np.random.default_rng(0).normal(size=(3, 4)), jnp.float32)
    plain = m.apply(params, x=x)
    out, stats = m.apply(params, x=x, with_stats=True)
    np.testing.assert_allclose(out["y"], plain["y"], rtol=0, atol=0)
    assert stats[f"wormhole/{GATE}/iterations"].shape == (3,)
    assert stats[f"wormhole/{GATE}/converged"].dtype == jnp.bool_
    assert bool(stats[f"wormhole/{GATE}/converged"].all())
    assert float(stats[f"wormhole/{GATE}/residual"].max()) <= 1e-6
    where = m.wormholes[GATE]
    assert where["where"] == "loop.seqnet:5:1" and where["name"] == "wormhole h2 -> h1"
    jitted = jax.jit(lambda p, x: m.apply(p, x=x, with_stats=True))(params, x)  # arrays only
    np.testing.assert_array_equal(jitted[1][f"wormhole/{GATE}/iterations"],
                                  stats[f"wormhole/{GATE}/iterations"])  # fmt: skip


def test_gate_none_has_no_gate_parameters():
    m = seqnet.loads(SPEC.format(gate="none", solver="fixed_point"))
    params = m.init(jax.random.key(0))
    assert set(params[GATE]) == {"w"}
    row = next(r for r in m.summary(as_json=True)["nodes"] if r["name"] == GATE)
    assert row["params"] == 6 * 6  # W only
    assert row["flops"] == 2 * 6 * 6  # W h_b: 6 x 6 multiply-adds, no gate matmul
    gated = seqnet.loads(SPEC.format(gate="sigmoid", solver="fixed_point"))
    gated_row = next(r for r in gated.summary(as_json=True)["nodes"] if r["name"] == GATE)
    assert gated_row["flops"] == 2 * (2 * 6 * 6)  # W h_b and W_g h_b
    out = m.apply(params, x=jnp.ones((2, 4)))
    assert np.isfinite(np.asarray(out["y"])).all()


def _contraction(calls):
    """z = 0.5 z + b, settling in ~20 iterations at tol 1e-6; counts evaluations on the host."""

    def f(theta, z):
        jax.debug.callback(lambda: calls.append(1))
        return {"z": 0.5 * z["z"] + theta["b"]}

    theta = {"b": jnp.ones((2, 3), jnp.float32)}
    shapes = {"z": jax.ShapeDtypeStruct((2, 3), jnp.float32)}
    return f, theta, shapes


def test_unrolled_solver_stops_at_convergence():
    calls = []
    f, theta, shapes = _contraction(calls)
    z, stats = jax.jit(lambda th: fp.fixed_point(f, th, shapes, tol=1e-6, max_iter=500,
                                                 solver="unrolled"))(theta)  # fmt: skip
    jax.block_until_ready(z)
    settled = int(stats.iterations.max())
    assert bool(stats.converged.all()) and settled < 40
    assert len(calls) == settled + 1  # z_0 and one f per iteration; none of the other ~470 steps
    ref, ref_stats = fp.fixed_point(f, theta, shapes, tol=1e-6, max_iter=500)
    np.testing.assert_allclose(z["z"], ref["z"], rtol=0, atol=0)
    np.testing.assert_array_equal(stats.iterations, ref_stats.iterations)
    # the gradient is that of stopping there: d z*/d b = 1 / (1 - 0.5) = 2 (to tol)
    g = jax.grad(lambda th: fp.fixed_point(f, th, shapes, tol=1e-6, max_iter=500,
                                           solver="unrolled")[0]["z"].sum())(theta)  # fmt: skip
    np.testing.assert_allclose(g["b"], 2.0, rtol=1e-5, atol=1e-5)


# --- Anderson acceleration ------------------------------------------------------------------------


def _with(graph, **attrs):
    g = graph.copy()
    for _, d in g.nodes(data=True):
        if d["op"] == "wormhole_gate":
            d["attrs"] = {**d["attrs"], **attrs}
    return g


@pytest.mark.parametrize("spec", ["wormhole_sine", "wormhole_digits"])
def test_anderson_reaches_the_plain_fixed_point_in_fewer_iterations(spec):
    m = seqnet.load(f"specs/{spec}.seqnet", **({"T": 8} if spec == "wormhole_sine" else {}))
    params = m.init(jax.random.key(0))
    # a half-open gate (sigmoid(1) = 0.73): a slow but contractive loop that plain iteration solves
    params[GATE_OF[spec]]["gate_b"] = jnp.full_like(params[GATE_OF[spec]]["gate_b"], 1.0)
    shape = (8,) + tuple(getattr(d, "value", d) for d in m.inputs["x"].shape)
    x = jax.random.normal(jax.random.key(1), shape)
    tol = 1e-5
    results = {}
    for solver in ("fixed_point", "anderson"):
        low = lower(_with(m.graph, solver=solver, tol=tol, max_iter=1000))
        out, stats = jax.jit(low.apply_with_stats)(params, {"x": x})
        assert bool(stats[f"wormhole/{GATE_OF[spec]}/converged"].all()), solver
        results[solver] = out["y"], np.asarray(stats[f"wormhole/{GATE_OF[spec]}/iterations"])
    (y_plain, it_plain), (y_and, it_and) = results["fixed_point"], results["anderson"]
    assert it_and.mean() < it_plain.mean(), (it_and.mean(), it_plain.mean())
    # both stop within tol of the same fixed point; the readout's gain bounds the output gap
    np.testing.assert_allclose(y_and, y_plain, rtol=1e-3, atol=1e-3)


GATE_OF = {"wormhole_sine": "wormhole_h3_to_h1", "wormhole_digits": "wormhole_h3_to_h1"}


def test_anderson_gradients_are_implicit_and_check():
    with jax.enable_x64(True):
        text = SPEC.replace("float32", "float64").format(gate="sigmoid", solver="{solver}")
        text = text.replace("tol=1e-6", "tol=1e-11 backward_tol=1e-11")
        lows = {s: lower(seqnet.loads(text.format(solver=s)).graph, compute_dtype="float64")
                for s in ("anderson", "fixed_point")}  # fmt: skip
        params = jax.tree.map(lambda a: a.astype(jnp.float64), lows["anderson"].init(jax.random.key(2)))
        x = jnp.asarray(np.random.default_rng(1).normal(size=(3, 4)))

        def loss(solver):
            return lambda p: jnp.sum(lows[solver].apply(p, {"x": x})["y"] ** 2)

        check_grads(loss("anderson"), (params,), order=1, modes=("rev",), atol=1e-5, rtol=1e-5)
        ga, gp = jax.grad(loss("anderson"))(params), jax.grad(loss("fixed_point"))(params)
        for a, b in zip(jax.tree.leaves(ga), jax.tree.leaves(gp), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-9)


def test_anderson_window_is_checked():
    with pytest.raises(seqnet.SpecError) as e:
        seqnet.loads(SPEC.format(gate="sigmoid", solver="anderson").replace("max_iter=200", "anderson_m=0"))
    assert "anderson_m must be at least 1" in str(e.value)
