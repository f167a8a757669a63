"""Every JAX lowering against the float64 NumPy reference, plus shapes, dtypes and gradients.

Numerics: the rule runs in float32 on inputs and parameters that are exactly representable in
float32; the reference runs in float64 on the same values. The error is norm-wise relative,
||out - ref|| / ||ref||, and must stay below 1e-5 (float32 rounding over a few dozen operations is
~1e-7 per element; 1e-5 leaves room without hiding a wrong formula, which errs by O(1)). The
triple-product logits, whose squared expansion cancels in float32 before the square root, also
stay near 1e-7 at these sizes, so no case needs a looser tolerance.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import op_reference
import pytest
from jax.test_util import check_grads
from op_cases import CASES, Built, as_jax, as_tuple, build, case, run

from seqnet.backends.jax.context import ProgramRule
from seqnet.backends.jax.ops import common
from seqnet.backends.jax.ops.simplicial import triple_product
from seqnet.compiler.ops.catalog import load_ops, missing_lowerings
from seqnet.compiler.ops.registry import ACTIVATIONS, OPS

RTOL = 1e-5
# Gradient checks run in float64 against JAX's central differences (step 1e-4); the tolerances
# are JAX's own per-dtype defaults, stated: 1e-5 for float64, and 2e-3 for an output that is
# float32 by definition (`cast` to float32), whose rounding then dominates the differences.
# check_grads scales both by the compared array's size.
GRAD_TOL = {np.dtype(np.float64): 1e-5, np.dtype(np.float32): 2e-3}


def relative_error(out, ref) -> float:
    out, ref = np.asarray(out, np.float64), np.asarray(ref, np.float64)
    scale = np.linalg.norm(ref)
    return float(np.linalg.norm(out - ref) / (scale if scale > 0 else 1.0))


def test_every_op_is_lowered():
    assert missing_lowerings("jax") == []


def test_every_lowered_op_has_a_case_and_a_reference():
    """Every op lowered by a function rule; a ProgramRule's op (segments) has tests of its own
    (test_lower.py, test_fen_local.py)."""
    lowered = {name for name, d in load_ops().items()
               if not isinstance(d.lowerings["jax"], ProgramRule)}  # fmt: skip
    assert {c.op for c in CASES} == lowered
    assert set(op_reference.REFERENCE) == lowered


def test_activation_table_matches_the_registry():
    assert set(common.ACTIVATIONS) == set(ACTIVATIONS)
    assert set(op_reference.ACT) == set(ACTIVATIONS)


@pytest.mark.parametrize("c", CASES, ids=lambda c: c.id)
def test_matches_reference(c):
    built = build(c)
    outs = as_tuple(run(built))
    ref = as_tuple(
        op_reference.REFERENCE[c.op](
            built.params, [t.dims for t in built.out_types], **built.inputs, **built.attrs
        )
    )
    assert len(outs) == len(built.out_types) == len(ref)
    for out, ref_out, out_type in zip(outs, ref, built.out_types, strict=True):
        assert out.shape == (2,) + out_type.dims, "shape differs from the registry's infer"
        assert out.dtype == jnp.dtype(out_type.dtype), "dtype differs from the registry's infer"
        assert relative_error(out, ref_out) < RTOL


def _differentiable(built: Built) -> bool:
    has_float_out = all(jnp.dtype(t.dtype).kind == "f" for t in built.out_types)
    return has_float_out and bool(built.float_inputs() or built.params)


# Gradient checks cost a few compilations each, so they run on the first case of every op plus
# the cases whose gradient takes a different path (masks, windows, virtual entities, recurrent
# modes, padding, dilation, the logit scale); the other cases differ only in shapes or attribute values.
GRAD_VARIANTS = {
    "attention-causal-cross",
    "attention-causal-key-mask",
    "attention-cross-query-key-mask",
    "simplicial_attention-triple-virtual",
    "simplicial_attention-triple-window",
    "simplicial_attention-trilinear",
    "simplicial_attention-trilinear-window",
    "simplicial_attention-trilinear-virtual",
    "simplicial_attention-triple-virtual-fixed",
    "simplicial_attention-trilinear-windows",
    "simplicial_attention-triple-windows",
    "simplicial_attention-triple-inv-d",  # logit_scale: the queries scaled before the custom vjp
    "conv1d-same-stride-dilated",
    "conv2d-valid-stride",
    "maxpool1d-same-stride",
    "avgpool1d-same-stride",
    "masked_dense-cluster",
    *(
        f"{cell}-{mode}"
        for cell in ("rnn", "lstm", "gru")
        for mode in ("reverse-many_to_one-state", "reverse-one_to_many", "lengths",
                     "lengths-many_to_one-state", "lengths-reverse-many_to_one")
    ),
}


def _grad_cases():
    seen, out = set(), []
    for c in CASES:
        if (c.op not in seen or c.id in GRAD_VARIANTS) and _differentiable(build(c)):
            out.append(c)
            seen.add(c.op)
    return out


GRAD_CASES = _grad_cases()


@pytest.fixture
def x64():
    with jax.enable_x64(True):
        yield


@pytest.mark.parametrize("c", GRAD_CASES, ids=lambda c: c.id)
def test_gradients(c, x64):
    built = build(c)
    rule = built.op.lowerings["jax"]
    static = {k: as_jax(v, jnp.float64) for k, v in built.static_inputs().items()}

    def f(float_inputs, params):
        ctx = built.ctx(params, jnp.float64)
        return rule(ctx, **float_inputs, **static, **built.attrs)

    float_inputs = {k: as_jax(v, jnp.float64) for k, v in built.float_inputs().items()}
    params = {k: jnp.asarray(v, jnp.float64) for k, v in built.params.items()}
    check_grads(jax.jit(f), (float_inputs, params), order=1, modes=["rev"], atol=GRAD_TOL, rtol=GRAD_TOL)


# --- dropout and the dtype policy ----------------------------------------------------------------


def test_dropout_in_training():
    built = build(case("dropout", x=(50, 40), rate=0.25))
    built.inputs["x"] = np.ones_like(built.inputs["x"])
    key = jax.random.key(0)
    out = np.asarray(run(built, train=True, rng=key))
    kept = out != 0
    assert abs(kept.mean() - 0.75) < 0.03
    np.testing.assert_allclose(out[kept], 1 / 0.75, rtol=1e-6, atol=1e-6)  # inverted dropout
    np.testing.assert_array_equal(out, np.asarray(run(built, train=True, rng=key)))
    np.testing.assert_array_equal(np.asarray(run(built, train=False)), built.inputs["x"])
    with pytest.raises(ValueError, match="PRNG"):
        run(built, train=True, rng=None, jit=False)


def test_dropout_gradient_in_training(x64):
    built = build(case("dropout", x=(3, 4), rate=0.5))
    rule = built.op.lowerings["jax"]
    key = jax.random.key(1)

    def f(x):
        return rule(built.ctx({}, jnp.float64, train=True, rng=key), x=x, rate=0.5)

    check_grads(f, (jnp.asarray(built.inputs["x"]),), order=1, modes=["rev"], atol=GRAD_TOL, rtol=GRAD_TOL)


def test_bfloat16_policy_casts_inputs_and_params():
    built = build(case("dense", x=(3, 8), units=4))
    out = run(built, jnp.bfloat16)
    assert out.dtype == jnp.bfloat16
    assert relative_error(out, run(built)) < 2e-2  # bfloat16 keeps 8 bits of mantissa


# --- 2-simplicial attention ----------------------------------------------------------------------


def test_triple_product_vanishes_for_pairwise_orthogonal_vectors():
    a, b, c = jnp.array([2.0, 0, 0, 0]), jnp.array([0, -0.5, 0, 0]), jnp.array([0, 0, 0, 3.0])
    assert float(triple_product(a, b, c)) == 0.0
    grads = jax.grad(lambda a, b, c: triple_product(a, b, c), argnums=(0, 1, 2))(a, b, c)
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in grads)  # the safe square root


def test_triple_product_of_dependent_vectors_is_the_product_of_norms():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 5))
    for c in (3.0 * a, -0.7 * a + 1.3 * b, a + b):
        expected = np.linalg.norm(a) * np.linalg.norm(b) * np.linalg.norm(c)
        assert float(triple_product(jnp.array(a), jnp.array(b), jnp.array(c))) == pytest.approx(
            expected, rel=1e-5, abs=1e-6
        )


def test_triple_product_matches_its_definition():
    rng = np.random.default_rng(1)
    for a, b, c in rng.normal(size=(20, 3, 4)):
        ref = op_reference.unsigned_triple_product(a, b, c)
        # float32, and the expansion of the square cancels: 1e-4 rather than 1e-5
        assert float(triple_product(*map(jnp.array, (a, b, c)))) == pytest.approx(ref, rel=1e-4, abs=1e-5)
        assert ref <= np.linalg.norm(a) * np.linalg.norm(b) * np.linalg.norm(c) + 1e-9


def _simplicial(variant, **attrs):
    return build(case("simplicial_attention", x=(5, 4), heads=2, variant=variant, **attrs))


@pytest.mark.parametrize("variant", ["triple", "trilinear"])
def test_virtual_entities_are_an_unordered_set(variant):
    """The pair sum runs over all M^2 ordered pairs, so relabelling the virtual entities (one
    permutation applied to both j and k) leaves every output unchanged."""
    built = _simplicial(variant, virtual=4)
    before = np.asarray(run(built))
    built.params["virtual"] = built.params["virtual"][[2, 0, 3, 1]]
    np.testing.assert_allclose(np.asarray(run(built)), before, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("variant", ["triple", "trilinear"])
def test_with_virtual_entities_each_output_reads_only_its_own_entity(variant):
    """Keys and values are the virtual entities only, so permuting the standard entities permutes
    the outputs the same way (and entity i's output depends on x_i alone)."""
    built = _simplicial(variant, virtual=3)
    before = np.asarray(run(built))
    perm = [4, 2, 0, 1, 3]
    built.inputs["x"] = built.inputs["x"][:, perm]
    np.testing.assert_allclose(np.asarray(run(built)), before[:, perm], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("variant", ["triple", "trilinear"])
def test_sliding_window_reads_only_the_last_w_positions(variant):
    window, i = 2, 3
    built = _simplicial(variant, window=window)
    x = built.inputs["x"]
    before = np.asarray(run(built))
    for m in range(5):
        built.inputs["x"] = x.copy()
        built.inputs["x"][:, m] += 1.0
        moved = not np.allclose(np.asarray(run(built))[:, i], before[:, i], rtol=0, atol=1e-6)
        assert moved == (i - window < m <= i), f"position {m} for query {i}"


@pytest.mark.parametrize("variant", ["triple", "trilinear"])
def test_window_covering_the_sequence_matches_all_pairs_at_the_last_position(variant):
    full = np.asarray(run(_simplicial(variant)))
    windowed = np.asarray(run(_simplicial(variant, window=5)))
    np.testing.assert_allclose(windowed[:, -1], full[:, -1], rtol=1e-5, atol=1e-6)
    assert not np.allclose(windowed[:, 0], full[:, 0], rtol=1e-5, atol=1e-6)  # earlier positions are causal
    longer = np.asarray(run(_simplicial(variant, window=9)))  # longer than the sequence
    np.testing.assert_allclose(longer, windowed, rtol=1e-6, atol=1e-7)


def test_triple_value_contraction_has_no_pair_by_d_squared_intermediate():
    """The value path C_ij = sum_k A u_k, D_i = sum_j u_j (x) C_ij, out = B : D never builds an
    (N, S, S, d, d) tensor: check the largest intermediate in the jaxpr."""
    built = _simplicial("triple")
    params = {k: jnp.asarray(v, jnp.float32) for k, v in built.params.items()}
    x = jnp.asarray(built.inputs["x"], jnp.float32)
    rule = OPS["simplicial_attention"].lowerings["jax"]
    jaxpr = jax.make_jaxpr(lambda x: rule(built.ctx(params, jnp.float32), x=x, **built.attrs))(x)
    batch, n, heads, d = 2, 5, 2, 2
    biggest = max(math.prod(v.aval.shape) for eq in jaxpr.eqns for v in eq.outvars)
    assert biggest <= batch * heads * n**3 * d  # the logits are (batch, heads, N, N, N)
