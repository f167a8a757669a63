"""The Pallas kernel of trilinear sliding-window 2-simplicial attention (simplicial_pallas.py),
run in Pallas interpret mode on the CPU: against the streamed JAX lowering (pair_softmax) and
the float64 NumPy reference, gradients too, and how `implementation=` picks it.

Sizes are tiny (interpret mode traces the kernel into a scan over its grid), but large enough
that the queries span several blocks of 16 and the windows reach past the block's first row and
before position 0. float32 comparisons state atol and rtol; the float64 runs compare the kernel's
gradients with the JAX lowering's, which test_pair_softmax.py checks against central differences.
"""

from __future__ import annotations

import jax
import jax.extend.core
import jax.numpy as jnp
import numpy as np
import op_reference
import pytest
from op_cases import build, case, run

import seqnet
from seqnet.backends.jax.ops import simplicial_pallas as sp
from seqnet.backends.jax.ops.pair_softmax import PairStream, pair_softmax
from seqnet.backends.jax.ops.simplicial import elementwise_values, trilinear_logits
from seqnet.compiler.ops.simplicial import pair_blocks

# (batch, N, heads, d, w1, w2): 3 query blocks with windows inside one block, windows wider
# than a block (w1 > 16, the j span 2 tiles wide), and N not a multiple of the block
SIZES = [(2, 37, 2, 3, 5, 3), (1, 40, 1, 4, 20, 7)]


def _inputs(b, n, h, d, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return [jnp.asarray(rng.normal(size=(b, n, h, d)), dtype) for _ in range(5)]  # q l1 u l2 u2


def _streamed(w1, w2):
    def f(q, l1, u, l2, u2):
        n, heads = q.shape[1], q.shape[2]
        chunk, block = pair_blocks(n, w1, w2, heads)
        stream = PairStream(trilinear_logits, elementwise_values, chunk=chunk, block=block,
                            first_keys=w1, window=w1, window2=w2)  # fmt: skip
        return pair_softmax(stream, q, (l1, u), (l2, u2))

    return f


def _kernel(w1, w2):
    return lambda *xs: sp.trilinear_window(*xs, w1, w2, interpret=True)


def _value_and_grads(f, xs):
    """f's output and the gradients of sum(sin(f)) (non-linear, so every output row matters),
    in one compiled program."""

    def both(*a):
        out, vjp = jax.vjp(f, *a)
        return out, vjp(jnp.cos(out))

    out, grads = jax.jit(both)(*xs)
    return np.asarray(out), [np.asarray(g) for g in grads]


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"n{s[1]}-w{s[4]}x{s[5]}")
def test_kernel_matches_the_streamed_lowering_with_gradients(size):
    b, n, h, d, w1, w2 = size
    xs = _inputs(b, n, h, d, jnp.float32)
    out, grads = _value_and_grads(_kernel(w1, w2), xs)
    want, want_grads = _value_and_grads(_streamed(w1, w2), xs)
    assert out.shape == (b, h, n, d) and out.dtype == np.float32
    np.testing.assert_allclose(out, want, atol=2e-5, rtol=1e-4)
    for got, ref in zip(grads, want_grads, strict=True):
        np.testing.assert_allclose(got, ref, atol=5e-5, rtol=1e-4)


def test_kernel_in_float64_has_the_streamed_gradients_to_rounding():
    b, n, h, d, w1, w2 = SIZES[0]
    with jax.enable_x64(True):
        xs = _inputs(b, n, h, d, jnp.float64, seed=1)
        out, grads = _value_and_grads(_kernel(w1, w2), xs)
        want, want_grads = _value_and_grads(_streamed(w1, w2), xs)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, want, atol=1e-12, rtol=1e-10)
    for got, ref in zip(grads, want_grads, strict=True):
        np.testing.assert_allclose(got, ref, atol=1e-11, rtol=1e-9)


@pytest.mark.parametrize("logit_scale", ["inv_sqrt_d", "inv_d"])
def test_the_op_with_implementation_pallas_matches_the_float64_reference(logit_scale):
    built = build(case("simplicial_attention", x=(18, 4), heads=2, variant="trilinear",
                       window=4, window2=6, implementation="pallas", logit_scale=logit_scale))  # fmt: skip
    out = np.asarray(run(built))
    ref = op_reference.REFERENCE["simplicial_attention"](
        built.params, [t.dims for t in built.out_types], **built.inputs, **built.attrs
    )
    np.testing.assert_allclose(out, ref, atol=1e-5, rtol=1e-4)


def _lowered_primitives(implementation: str) -> set[str]:
    built = build(case("simplicial_attention", x=(18, 4), heads=1, variant="trilinear", window=3,
                       implementation=implementation))  # fmt: skip
    rule = built.op.lowerings["jax"]
    params = {k: jnp.asarray(v, jnp.float32) for k, v in built.params.items()}
    x = jnp.asarray(built.inputs["x"], jnp.float32)
    jaxpr = jax.make_jaxpr(lambda x: rule(built.ctx(params, jnp.float32), x=x, **built.attrs))(x)
    return {str(e.primitive) for e in _eqns(jaxpr.jaxpr)}


def _eqns(jaxpr):
    for e in jaxpr.eqns:
        yield e
        for sub in jax.extend.core.jaxprs_in_params(e.params):
            yield from _eqns(sub)


def test_auto_takes_the_jax_lowering_and_pallas_forces_the_kernel():
    assert jax.default_backend() == "cpu"
    assert "pallas_call" in _lowered_primitives("pallas")
    assert "pallas_call" not in _lowered_primitives("auto")
    assert "pallas_call" not in _lowered_primitives("jax")


def test_auto_does_not_pick_the_unmeasured_kernel_on_a_gpu(monkeypatch):
    """No GPU benchmark of the kernel is recorded yet, so auto takes the JAX lowering there too
    (the backend is only named as a GPU: tracing the JAX lowering runs nothing on it)."""
    monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
    assert "pallas_call" not in _lowered_primitives("auto")


@pytest.mark.parametrize("attrs", ["variant=triple, window=4", "variant=trilinear"])
def test_pallas_outside_the_trilinear_window_form_is_a_located_error(attrs):
    text = ("dim N = 8\ninput x : float32[N, 4]\n"
            f"output y = simplicial_attention(x, {attrs}, implementation=pallas)\n")  # fmt: skip
    with pytest.raises(seqnet.SpecError) as e:
        seqnet.loads(text, name="k.seqnet")
    rendered = e.value.render()
    assert "k.seqnet:3:" in rendered and "error[SQN0108]" in rendered
    assert "trilinear sliding-window form only" in rendered and "implementation=auto" in rendered


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"n{s[1]}-w{s[4]}x{s[5]}")
def test_both_kernels_lower_to_triton_for_a_gpu(size):
    """No GPU is needed to run Pallas's Triton lowering: jax.export for CUDA lowers the forward
    and the backward kernel to Triton IR here (what the 'power of two' tile rules and the
    primitives the kernels use are checked against); only compiling that IR needs the GPU."""
    from jax import export

    b, n, h, d, w1, w2 = size
    shapes = [jax.ShapeDtypeStruct((b, n, h, d), jnp.float32)] * 5
    kernel = lambda *xs: sp.trilinear_window(*xs, w1, w2, interpret=False)  # noqa: E731
    grad = jax.grad(lambda *xs: jnp.sum(kernel(*xs) ** 2), argnums=range(5))
    triton = [export.DisabledSafetyCheck.custom_call("__gpu$xla.gpu.triton")]
    for fn, calls in ((kernel, 1), (grad, 2)):
        module = export.export(jax.jit(fn), platforms=["cuda"], disabled_checks=triton)(*shapes)
        text = module.mlir_module()
        assert text.count("@__gpu$xla.gpu.triton") == calls
        assert "simplicial_window_forward" in text
