"""The multi-head attention lowering's two paths and its shape as good JAX.

float32 (and lower) goes through `jax.nn.dot_product_attention`, whose softmax is float32;
float64 writes the same maths out in einsums, so the float64 gradient checks in test_ops.py
exercise only that path. Here the float32 path's gradients are compared with the float64 ones
(float32 rounding over a few dozen operations: rtol 1e-4, atol 1e-5), and the lowering's jaxpr
shows the projections as 2-D matmuls, fused where q, k and v read the same input.
"""

from __future__ import annotations

import jax
import jax.extend
import jax.numpy as jnp
import numpy as np
import pytest
from op_cases import as_jax, build, case

CASES = {
    "self": case("attention", "grad-self", x=(5, 8), heads=2),
    "causal": case("attention", "grad-causal", x=(5, 8), heads=2, causal=True),
    "cross": case("attention", "grad-cross", x=(4, 6), kv=(5, 3), heads=2),
    "causal-cross": case(
        "attention", "grad-causal-cross", x=(4, 6), kv=(4, 2), heads=3, head_dim=2
    ),
    # a key mask with causal: the first example's keys all masked (its rows give zeros)
    "causal-key-mask": case("attention", "grad-causal-mask", x=(5, 8), heads=2, causal=True,
                            mask=("mask", (5,))),
}


def _loss(built, dtype):
    rule = built.op.lowerings["jax"]
    kv = built.inputs["kv"]
    mask = as_jax(built.inputs["mask"], dtype)

    def f(x, kv, params):
        ctx = built.ctx(params, dtype)
        return jnp.sum(jnp.sin(rule(ctx, x=x, kv=kv, mask=mask, **built.attrs)))

    args = (as_jax(built.inputs["x"], dtype), as_jax(kv, dtype),
            {k: jnp.asarray(v, dtype) for k, v in built.params.items()})  # fmt: skip
    return f, args


def _grads(built, dtype):
    f, args = _loss(built, dtype)
    return jax.jit(jax.grad(f, argnums=(0, 1, 2)))(*args)


@pytest.mark.parametrize("name", sorted(CASES))
def test_float32_gradients_match_float64(name):
    built = build(CASES[name])
    g32 = _grads(built, jnp.float32)
    with jax.enable_x64(True):
        g64 = _grads(built, jnp.float64)
        leaves64 = [np.asarray(g) for g in jax.tree.leaves(g64)]
    leaves32 = [np.asarray(g) for g in jax.tree.leaves(g32)]
    assert len(leaves32) == len(leaves64) > 0
    for a, b in zip(leaves32, leaves64, strict=True):
        assert a.dtype == np.float32 and b.dtype == np.float64
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_float32_goes_through_dot_product_attention(monkeypatch):
    calls = []
    real = jax.nn.dot_product_attention

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(jax.nn, "dot_product_attention", spy)
    built = build(CASES["causal"])
    f, args = _loss(built, jnp.float32)
    jax.make_jaxpr(f)(*args)
    assert calls == [{"is_causal": True, "implementation": None}]


def _dots(built):
    """The dot_generals of the forward pass: (lhs rank, rhs rank) of each."""
    f, args = _loss(built, jnp.float32)
    jaxpr = jax.make_jaxpr(f)(*args)
    found = []

    def walk(jp):
        for eqn in jp.eqns:
            if eqn.primitive.name == "dot_general":
                found.append(tuple(v.aval.ndim for v in eqn.invars))
            for sub in jax.extend.core.jaxprs_in_params(eqn.params):
                walk(sub)

    walk(jaxpr.jaxpr)
    return found


def test_self_attention_projects_in_one_fused_2d_matmul():
    dots = _dots(build(CASES["self"]))
    matmuls = [d for d in dots if d == (2, 2)]
    assert len(matmuls) == 2  # [wq | wk | wv] and wo
    assert len(dots) == 4  # plus q k^T and weights @ v


def test_cross_attention_projects_q_and_fused_kv_in_2d():
    dots = _dots(build(CASES["cross"]))
    assert len([d for d in dots if d == (2, 2)]) == 3  # wq, [wk | wv], wo
    assert len(dots) == 5
