"""The streamed 2-simplicial lowering (pair_softmax: query chunks, blocks of first keys, online
softmax, a backward that recomputes blocks) against the float64 NumPy reference and JAX's
numerical gradients, with blocks small enough that every case runs several chunks and blocks
(the op cases in test_ops.py fit one block), and the programs it builds hold no N x S x S tensor.

Numerics as in test_ops.py: float32 rule vs float64 reference, norm-wise relative error < 1e-5;
gradients in float64 against central differences with JAX's float64 tolerance 1e-5.
"""

from __future__ import annotations

import math

import jax
import jax.extend.core
import jax.numpy as jnp
import numpy as np
import op_reference
import pytest
from jax.test_util import check_grads
from op_cases import as_tuple, build, case, run
from test_ops import relative_error

from seqnet.compiler.ops import simplicial as plan
from seqnet.compiler.ops.simplicial import pair_blocks

CASES = {
    "triple": dict(x=(7, 4), heads=2),
    "trilinear": dict(x=(7, 4), heads=2, variant="trilinear"),
    "triple-window": dict(x=(9, 4), heads=1, window=4),
    "trilinear-windows": dict(x=(9, 4), heads=2, variant="trilinear", window=5, window2=3),
    "triple-windows": dict(x=(8, 4), heads=1, window=2, window2=6),
    "triple-virtual": dict(x=(7, 4), heads=2, virtual=5),
    "trilinear-virtual": dict(x=(7, 4), heads=1, variant="trilinear", virtual=4),
    "triple-virtual-fixed": dict(x=(7, 4), heads=1, virtual=4, virtual_mode="fixed"),
}


@pytest.fixture
def small_blocks(monkeypatch):
    """12 pair elements a block: one query at a time, first keys in blocks of 2 to 6."""
    monkeypatch.setattr(plan, "BLOCK_ELEMENTS", 12)


def _keys(attrs) -> tuple[int, int]:
    n = attrs["x"][0]
    if attrs.get("virtual"):
        return attrs["virtual"], attrs["virtual"]
    if attrs.get("window"):
        return min(attrs["window"], n), min(attrs.get("window2") or attrs["window"], n)
    return n, n


def test_most_cases_split_the_first_keys_too(small_blocks):
    split = [n for n, a in CASES.items() if pair_blocks(a["x"][0], *_keys(a), a["heads"])[1] < _keys(a)[0]]
    assert len(split) >= 6, split


def test_the_plan_covers_every_pair_in_blocks_of_at_most_the_budget():
    for n, s1, s2, heads in [(7, 7, 7, 2), (256, 256, 256, 2), (1024, 1024, 1024, 4), (5, 3, 3, 1),
                             (4096, 512, 32, 4), (300, 16, 16, 8)]:  # fmt: skip
        q, j = pair_blocks(n, s1, s2, heads)
        assert 1 <= q <= n and 1 <= j <= s1
        assert heads * q * j * s2 <= max(plan.BLOCK_ELEMENTS, heads * s2)
        assert -(-n // q) * q - n < q and -(-s1 // j) * j - s1 < j  # padding below one block


@pytest.mark.parametrize("name", sorted(CASES))
def test_streamed_in_many_blocks_matches_the_reference(name, small_blocks):
    attrs = CASES[name]
    s1, s2 = _keys(attrs)
    heads = attrs["heads"]
    q, j = pair_blocks(attrs["x"][0], s1, s2, heads)
    assert q < attrs["x"][0], "one chunk: not streamed"
    built = build(case("simplicial_attention", **attrs))
    out = as_tuple(run(built))[0]
    ref = op_reference.REFERENCE["simplicial_attention"](
        built.params, [t.dims for t in built.out_types], **built.inputs, **built.attrs
    )
    assert relative_error(out, ref) < 1e-5


@pytest.mark.parametrize("name", sorted(CASES))
def test_streamed_gradients_in_many_blocks(name, small_blocks):
    built = build(case("simplicial_attention", **CASES[name]))
    rule = built.op.lowerings["jax"]
    with jax.enable_x64(True):

        def f(x, params):
            return rule(built.ctx(params, jnp.float64), x=x, **built.attrs)

        x = jnp.asarray(built.inputs["x"], jnp.float64)
        params = {k: jnp.asarray(v, jnp.float64) for k, v in built.params.items()}
        check_grads(jax.jit(f), (x, params), order=1, modes=["rev"], atol=1e-5, rtol=1e-5)


def _all_shapes(jaxpr) -> list[tuple[int, ...]]:
    """Every intermediate's shape, in nested jaxprs (scans, custom_vjp, pjit) too."""
    shapes = []
    for eqn in jaxpr.eqns:
        shapes += [tuple(v.aval.shape) for v in eqn.outvars if hasattr(v.aval, "shape")]
        for sub in jax.extend.core.jaxprs_in_params(eqn.params):
            shapes += _all_shapes(sub)
    return shapes


@pytest.mark.parametrize("name", ["triple", "trilinear", "triple-window"])
def test_the_gradient_program_holds_no_pair_tensor_of_all_queries(name, small_blocks):
    """N = 24, heads 2: (batch, heads, N, N, N) is 55,296 elements; the largest intermediate of
    the loss's gradient stays at the scale of one block or the N x N key-key dots."""
    attrs = dict(CASES[name], x=(24, 4))
    built = build(case("simplicial_attention", **attrs))
    rule = built.op.lowerings["jax"]
    params = {k: jnp.asarray(v, jnp.float32) for k, v in built.params.items()}
    x = jnp.asarray(built.inputs["x"], jnp.float32)

    def loss(params):
        return jnp.sum(rule(built.ctx(params, jnp.float32), x=x, **built.attrs) ** 2)

    jaxpr = jax.make_jaxpr(jax.grad(loss))(params).jaxpr
    biggest = max(math.prod(s) for s in _all_shapes(jaxpr))
    batch, heads, n = 2, attrs["heads"], 24
    assert biggest <= batch * heads * n * n * 2  # dots (n x n) or a block; never n^3
    assert biggest < batch * heads * n**3 // 8


def test_virtual_entities_are_updated_per_example():
    """virtual_mode=paper: the pair values come from virtual entities updated by attention over
    each example's entities, so changing another entity changes entity 0's output; fixed: they
    are the same learned vectors for every example and entity 0 reads nothing else."""
    for mode, moves in (("paper", True), ("fixed", False)):
        built = build(case("simplicial_attention", x=(5, 4), heads=1, virtual=3, virtual_mode=mode))
        before = np.asarray(run(built))
        built.inputs["x"] = built.inputs["x"].copy()
        built.inputs["x"][:, 3] += 1.0
        after = np.asarray(run(built))
        changed = not np.allclose(after[:, 0], before[:, 0], rtol=1e-5, atol=1e-6)
        assert changed == moves, mode


def test_paper_virtual_entities_do_not_leak_between_examples():
    """Each example's virtual entities read only that example: editing example 1 leaves
    example 0's output as it was."""
    built = build(case("simplicial_attention", x=(5, 4), heads=2, virtual=3))
    before = np.asarray(run(built))
    built.inputs["x"] = built.inputs["x"].copy()
    built.inputs["x"][1] += 1.0
    after = np.asarray(run(built))
    np.testing.assert_allclose(after[0], before[0], rtol=1e-6, atol=1e-7)
    assert not np.allclose(after[1], before[1], rtol=1e-5, atol=1e-6)
