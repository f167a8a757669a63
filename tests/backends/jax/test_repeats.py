"""Repeat stacks lowered with lax.scan compute what the unrolled copies compute."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import seqnet
from seqnet.backends.jax.lower import lower

HEAD = """
input x : float32[6, 8]
block layer(h, ctx) {
  return layernorm(h + dense(h, 8, act=tanh) * 0.5 + ctx)
}
"""

SPECS = {
    "unshared": HEAD + "c = mean(x)\nh = x\nh = repeat 4 { layer(h, c) }\noutput y : float32[6, 8] = h\n",
    "shared": HEAD + "c = mean(x)\nh = x\nh = repeat 3 shared { layer(h, c) }\noutput y : float32[6, 8] = h\n",
    "two_carries": HEAD + (
        "a = x\nb = x * 2\n"
        "a, b = repeat 3 {\n  a2 = dense(a, 8, act=relu) + b\n  return a2, layernorm(b + a2)\n}\n"
        "output y : float32[6, 8] = a + b\n"
    ),
    "nested": HEAD + (
        "c = mean(x)\nh = x\n"
        "h = repeat 2 {\n  h = repeat 2 { layer(h, c) }\n  h\n}\n"
        "output y : float32[6, 8] = h\n"
    ),
}


def _pair(text):
    graph = seqnet.loads(text).graph
    return lower(graph, scan_repeats=2), lower(graph, scan_repeats=0)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_scan_equals_unrolled(name):
    scanned, unrolled = _pair(SPECS[name])
    assert scanned.program.scan_groups, "the repeat should be scanned"
    params = scanned.init(jax.random.key(0))
    assert jax.tree.structure(params) == jax.tree.structure(unrolled.init(jax.random.key(0)))
    x = jnp.asarray(np.random.default_rng(0).normal(size=(3, 6, 8)), jnp.float32)

    def loss(lowered):
        return lambda p: jnp.sum(lowered.apply(p, {"x": x})["y"] ** 2)

    va, ga = jax.value_and_grad(loss(scanned))(params)
    vb, gb = jax.value_and_grad(loss(unrolled))(params)
    np.testing.assert_allclose(va, vb, rtol=1e-5, atol=1e-5)  # float32 sum of squares (~1e2), summation order differs
    for a, b in zip(jax.tree.leaves(ga), jax.tree.leaves(gb)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_scan_appears_in_the_program():
    scanned, _ = _pair(SPECS["unshared"])
    params = scanned.init(jax.random.key(0))
    jaxpr = jax.make_jaxpr(lambda p, x: scanned.apply(p, {"x": x}))(params, jnp.zeros((2, 6, 8)))
    assert "scan" in str(jaxpr)


def test_shared_stack_has_one_parameter_set():
    scanned, _ = _pair(SPECS["shared"])
    params = scanned.init(jax.random.key(0))
    group = next(iter(scanned.program.scan_groups.values()))
    assert group.shared and len(group.copies) == 3
    assert set(params["h"]) == {"0"}  # copies 1 and 2 read copy 0's parameters


@pytest.mark.parametrize("rng", ["typed", "raw"])
def test_dropout_stack_scans_with_the_unrolled_masks(rng):
    """Each copy's dropout key comes from its own node name, inside the scan as outside it."""
    text = HEAD + "c = mean(x)\nh = x\nh = repeat 3 { dropout(layer(h, c), 0.3) }\n" \
        "output y : float32[6, 8] = h\n"
    scanned, unrolled = _pair(text)
    group = next(iter(scanned.program.scan_groups.values()))
    assert len(group.random) == 1
    params = scanned.init(jax.random.key(0))
    key = jax.random.key(7) if rng == "typed" else jax.random.PRNGKey(7)
    x = jnp.asarray(np.random.default_rng(1).normal(size=(2, 6, 8)), jnp.float32)

    def loss(lowered):
        return lambda p: jnp.sum(lowered.apply(p, {"x": x}, rng=key, train=True)["y"] ** 2)

    ya = scanned.apply(params, {"x": x}, rng=key, train=True)["y"]
    yb = unrolled.apply(params, {"x": x}, rng=key, train=True)["y"]
    np.testing.assert_allclose(ya, yb, rtol=1e-5, atol=1e-6)
    # The masks differ between copies and from evaluation (no dropout).
    y_eval = scanned.apply(params, {"x": x})["y"]
    assert not np.allclose(ya, y_eval, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(y_eval, unrolled.apply(params, {"x": x})["y"], rtol=1e-5, atol=1e-6)
    ga, gb = jax.grad(loss(scanned))(params), jax.grad(loss(unrolled))(params)
    for a, b in zip(jax.tree.leaves(ga), jax.tree.leaves(gb)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_dropout_stack_without_a_key_in_training_is_refused():
    text = HEAD + "c = mean(x)\nh = x\nh = repeat 3 { dropout(layer(h, c), 0.3) }\n" \
        "output y : float32[6, 8] = h\n"
    scanned, _ = _pair(text)
    params = scanned.init(jax.random.key(0))
    with pytest.raises(ValueError, match="needs a PRNG key"):
        scanned.apply(params, {"x": jnp.ones((1, 6, 8))}, train=True)


def test_wormhole_inside_a_repeat_stays_unrolled():
    text = """
input x : float32[8]
block loop(h) {
  a = dense(h, 8, act=tanh)
  b = dense(a, 8, act=tanh)
  wormhole b -> a tol=1e-4 max_iter=50
  return b
}
h = x
h = repeat 2 { loop(h) }
output y : float32[8] = h
"""
    scanned, unrolled = _pair(text)
    assert not scanned.program.scan_groups
    params = scanned.init(jax.random.key(0))
    x = jnp.ones((2, 8))
    np.testing.assert_allclose(scanned.apply(params, {"x": x})["y"], unrolled.apply(params, {"x": x})["y"],
                               rtol=1e-5, atol=1e-6)  # fmt: skip


def test_default_scans_only_long_stacks():
    short = seqnet.loads(SPECS["unshared"]).graph  # 4 copies
    assert not lower(short).program.scan_groups
    long = seqnet.loads(SPECS["unshared"].replace("repeat 4", "repeat 8")).graph
    assert lower(long).program.scan_groups
