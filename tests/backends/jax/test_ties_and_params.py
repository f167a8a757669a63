"""Tied weights and learned tensors through the whole lowering: one leaf in the parameter tree,
counted once, the gradient of a tied weight the sum of its uses' gradients; `param` broadcast
over the batch, its gradient summed over it; subscripts against NumPy indexing."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

import seqnet
from seqnet.backends.jax.context import RunState
from seqnet.backends.jax.lower import lower
from seqnet.compiler.summary import summarize

TIED = """
dim T = 5
dim E = 4
input x : int32[T] vocab 7
emb = embed(x, E)
h = dense(emb, E, act=tanh)
output y = dense(h, 7, tie=emb{bias})
"""

# the same network with the output projection's weight its own
UNTIED = TIED.replace("tie=emb", "act=none")


def run64(graph, params, inputs) -> dict:
    """Every output in float64 (`apply` would cast them back to the declared float32)."""
    program = lower(graph, compute_dtype="float64").program
    env = program.run(params, {k: jnp.asarray(v) for k, v in inputs.items()}, RunState(train=False, rng=None))
    return {name: env[tuple(ref)] for name, ref in graph.graph["outputs"].items()}


@pytest.fixture
def x64():
    with jax.enable_x64(True):
        yield


def _ids(seed=0):
    return np.random.default_rng(seed).integers(0, 7, (3, 5)).astype(np.int32)


def test_tied_weight_is_one_leaf_counted_once():
    model = seqnet.loads(TIED.format(bias=", bias=false"), name="tied.seqnet")
    params = model.init(jax.random.key(0))
    assert jax.tree.map(jnp.shape, params) == {"emb": {"table": (7, 4)}, "h": {"b": (4,), "w": (4, 4)}}
    assert summarize(model.graph)["total_params"] == 7 * 4 + 4 * 4 + 4
    with_bias = seqnet.loads(TIED.format(bias=""), name="tied.seqnet")
    assert jax.tree.map(jnp.shape, with_bias.init(jax.random.key(0)))["y"] == {"b": (7,)}


def test_tied_output_is_the_transposed_table(x64):
    model = seqnet.loads(TIED.format(bias=""), name="tied.seqnet")
    params = jax.tree.map(lambda a: a.astype(jnp.float64), model.init(jax.random.key(1)))
    params["y"]["b"] = jnp.arange(7, dtype=jnp.float64)
    x = _ids()
    out = run64(model.graph, params, {"x": x})["y"]
    table = np.asarray(params["emb"]["table"])
    h = np.tanh(table[x] @ np.asarray(params["h"]["w"]) + np.asarray(params["h"]["b"]))
    np.testing.assert_allclose(out, h @ table.T + np.arange(7), rtol=1e-12, atol=1e-12)


def test_tied_gradient_is_the_sum_of_both_uses(x64):
    tied = seqnet.loads(TIED.format(bias=", bias=false"), name="t.seqnet").graph
    untied = seqnet.loads(UNTIED.format(bias=", bias=false"), name="u.seqnet").graph
    p = jax.tree.map(lambda a: a.astype(jnp.float64), lower(tied).init(jax.random.key(2)))
    x = _ids(3)

    def loss(graph, params):
        return jnp.sum(jnp.sin(run64(graph, params, {"x": x})["y"]))

    g_tied = jax.grad(lambda q: loss(tied, q))(p)
    separate = {**p, "y": {"w": p["emb"]["table"].T}}  # equal values, separate leaves
    g_sep = jax.grad(lambda q: loss(untied, q))(separate)
    want = g_sep["emb"]["table"] + g_sep["y"]["w"].T
    np.testing.assert_allclose(g_tied["emb"]["table"], want, rtol=1e-10, atol=1e-12)
    assert abs(float(jnp.sum(g_sep["y"]["w"]))) > 1e-6  # both uses contribute
    check_grads(lambda q: loss(tied, q), (p,), order=1, modes=["rev"], atol=1e-5, rtol=1e-5)


def test_tie_without_transpose_and_through_a_chain(x64):
    spec = """
input x : float32[6]
a = dense(x, 6)
b = dense(a, 6, tie=a)
output y = dense(b, 6, tie=b)
"""
    model = seqnet.loads(spec, name="chain.seqnet")
    g = model.graph
    assert g.nodes["y"]["ties"] == {"w": ("a", "w", False)}
    params = jax.tree.map(lambda v: v.astype(jnp.float64), model.init(jax.random.key(0)))
    assert set(params) == {"a", "b", "y"} and set(params["b"]) == {"b"}
    xv = np.random.default_rng(0).normal(size=(2, 6))
    w = np.asarray(params["a"]["w"])
    want = xv
    for n in ("a", "b", "y"):
        want = want @ w + np.asarray(params[n]["b"])
    out = run64(model.graph, params, {"x": xv})["y"]
    np.testing.assert_allclose(out, want, rtol=1e-12, atol=1e-12)


PARAM = """
dim E = 3
input x : float32[4, E]
cls = param([1, E], init="normal", scale=0.02)
h = concat(cls, x, axis=0)
output first = h[0]
output rest = h[1:, ::2]
output prev = shift(x, 1, fill=-1)
"""


def test_param_is_broadcast_and_its_gradient_summed_over_the_batch(x64):
    graph = seqnet.loads(PARAM, name="param.seqnet").graph
    params = jax.tree.map(lambda a: a.astype(jnp.float64), lower(graph).init(jax.random.key(0)))
    assert jax.tree.map(jnp.shape, params) == {"cls": {"value": (1, 3)}}
    assert float(jnp.std(params["cls"]["value"])) < 0.1  # scale=0.02
    x = np.random.default_rng(1).normal(size=(5, 4, 3))
    out = run64(graph, params, {"x": x})
    np.testing.assert_array_equal(out["first"], np.broadcast_to(params["cls"]["value"][0], (5, 3)))
    np.testing.assert_array_equal(out["rest"], x[:, :, ::2])
    want_prev = np.concatenate([np.full((5, 1, 3), -1.0), x[:, :-1]], axis=1)
    np.testing.assert_array_equal(out["prev"], want_prev)
    grad = jax.grad(lambda p: jnp.sum(run64(graph, p, {"x": x})["first"] * 2.0))(params)
    np.testing.assert_allclose(grad["cls"]["value"], np.full((1, 3), 2.0 * 5), rtol=1e-12, atol=0)


def test_param_inside_a_scanned_repeat_stack():
    """Nine copies lower to one lax.scan (scan_repeats=8): each copy's param is its own leaf."""
    spec = """
input x : float32[2, 4]
h = x
h = repeat 9 { h + param([2, 4], init="ones") }
output y = h
"""
    lowered = seqnet.loads(spec, name="rep.seqnet").jax_lowering()
    assert lowered.program.scan_groups
    params = lowered.init(jax.random.key(0))
    x = np.zeros((3, 2, 4), np.float32)
    np.testing.assert_allclose(lowered.apply(params, {"x": x})["y"], np.full((3, 2, 4), 9.0),
                               rtol=1e-6, atol=1e-6)  # fmt: skip
