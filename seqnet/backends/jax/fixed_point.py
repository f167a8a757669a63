"""Fixed-point solving for wormhole cycles (mechanisms.md section 2).

`fixed_point(f, theta, z_shapes, ...)` finds z* = f(theta, z*) by iteration, starting from the
feed-forward pass z_0 = f(theta, 0). Every example (leading axis of every state leaf) converges on
its own: once its max-abs change is <= tol it is frozen, so a batch gives the same values as its
examples one at a time, and the iteration count per example is meaningful.

Two solvers:
* "fixed_point": forward `lax.while_loop`; reverse by Pearlmutter's reverse transform of fix
  (implicit function theorem) in a `jax.custom_vjp`: solve w = zbar + (df/dz)^T w at z* by
  iteration, then thetabar = (df/dtheta)^T w. Nothing from the forward iterations is stored, so
  memory does not grow with their number.
* "anderson": Anderson acceleration (type II, window m) of the same iteration, with the same
  implicit backward as "fixed_point". Each iteration is one evaluation of f; the next iterate
  mixes the last m values of f by the least-squares combination of their residuals f(x) - x.
  An example converges by the same test as plain iteration (max-abs f(x) - x <= tol) and
  returns f(x), so both solvers stop at points of the same quality.
* "unrolled": `lax.scan` over max_iter steps, differentiated by plain backprop through the
  loop: the comparison baseline. It stops at convergence: a settled example is frozen (its
  state and gradient are those of stopping there) and once every example has settled the
  remaining steps skip f entirely (`lax.cond`).
* "forward": the same forward loop with forward-mode AD (the paper's eq. 7, Tz = fix(J->F(Tx))) in
  a `jax.custom_jvp`: the tangent solves t = (df/dz) t + (df/dtheta) t_theta by iteration at z*.
  For `jax.jvp`, `jax.jacfwd` and Hessian-vector products; reverse mode through it is refused by
  JAX (the tangent loop is a while loop), so train with "fixed_point".

`f` must be a pure function of (theta, z) whose Python closure holds no traced values; everything
array-valued (parameters, upstream activations, PRNG key data) travels in `theta`. Integer leaves
of theta get float0 cotangents.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

SOLVERS = ("fixed_point", "anderson", "unrolled", "forward")
ANDERSON_M = 5  # the default window: the last 5 iterates (a common choice; 3-10 all work)
# The adjoint probe: a (4,) float32 zeros array handed to `fixed_point(probe=...)`; its gradient
# is [adjoint iterations, adjoint residual, solves, unconverged solves], summed over the uses of
# the solve (the backward pass has no other way to report how its solve went).
PROBE_SIZE = 4


class FixedPointStats(NamedTuple):
    iterations: jax.Array  # (batch,) int32: updates after the feed-forward pass until settled
    converged: jax.Array  # (batch,) bool: change <= tol reached within max_iter
    residual: jax.Array  # (batch,) float32: the last max-abs change


def per_example_change(new, old) -> jax.Array:
    """Max-abs difference per example (leading axis) over every leaf of a state pytree."""
    def change(a, b):
        wide = jnp.promote_types(a.dtype, jnp.float32)  # bf16 states compare in float32, f64 in f64
        return jnp.abs(a.astype(wide) - b.astype(wide)).reshape(a.shape[0], -1).max(axis=1)

    leaves = [change(a, b) for a, b in zip(jax.tree_util.tree_leaves(new),
                                             jax.tree_util.tree_leaves(old), strict=True)]  # fmt: skip
    wide = jnp.result_type(*leaves)
    return jnp.stack([x.astype(wide) for x in leaves]).max(axis=0)


def _change_dtype(z):
    """The dtype per_example_change returns for a state like z."""
    return jnp.result_type(jnp.float32, *[jnp.promote_types(x.dtype, jnp.float32)
                                          for x in jax.tree_util.tree_leaves(z)])  # fmt: skip


def _select(done: jax.Array, old, new):
    """Per example: keep `old` where done, else take `new`."""

    def pick(a, b):
        mask = done.reshape(done.shape + (1,) * (a.ndim - 1))
        return jnp.where(mask, a, b)

    return jax.tree_util.tree_map(pick, old, new)


def _zeros(z_shapes):
    return jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype), z_shapes)


def _step(f, theta, tol, rtol=0.0):
    """One masked update: (t, z, done, iters, resid) -> the next."""

    def body(carry):
        t, z, done, iters, resid = carry
        z_new = f(theta, z)
        change = per_example_change(z_new, z)
        iters = jnp.where(done, iters, t + 1)
        resid = jnp.where(done, resid, change)
        z_new = _select(done, z, z_new)
        bound = tol
        if rtol:  # relative: the change is also measured against the state's own size
            bound = tol + rtol * per_example_change(z_new, jax.tree_util.tree_map(jnp.zeros_like, z_new))
        done = done | (change <= bound)
        return t + 1, z_new, done, iters, resid

    return body


def _initial(f, theta, z_shapes):
    z0 = f(theta, _zeros(z_shapes))
    batch = jax.tree_util.tree_leaves(z0)[0].shape[0]
    return (
        jnp.zeros((), jnp.int32),
        z0,
        jnp.zeros((batch,), bool),
        jnp.zeros((batch,), jnp.int32),
        jnp.full((batch,), jnp.inf, _change_dtype(z0)),
    )


def _solve_while(f, theta, z_shapes, tol, max_iter, rtol=0.0):
    body = _step(f, theta, tol, rtol)

    def cond(carry):
        t, _, done, _, _ = carry
        return (t < max_iter) & ~jnp.all(done)

    _, z, done, iters, resid = lax.while_loop(cond, body, _initial(f, theta, z_shapes))
    return z, FixedPointStats(iters, done, resid)


def _solve_unrolled(f, theta, z_shapes, tol, max_iter, rtol=0.0):
    body = _step(f, theta, tol, rtol)

    def scan_body(carry, _):
        # once every example has settled, skip f: the remaining steps cost nothing
        settled = lambda c: (c[0] + 1,) + tuple(c[1:])  # noqa: E731
        return lax.cond(jnp.all(carry[2]), settled, body, carry), None

    carry, _ = lax.scan(scan_body, _initial(f, theta, z_shapes), None, length=max_iter)
    _, z, done, iters, resid = carry
    return z, FixedPointStats(iters, done, resid)


# --- Anderson acceleration -----------------------------------------------------------------------


def _flatten(z):
    """A state pytree as one (batch, n) vector per example (in the change dtype), and back."""
    leaves, tree = jax.tree_util.tree_flatten(z)
    wide = _change_dtype(z)
    batch = leaves[0].shape[0]
    flat = jnp.concatenate([x.astype(wide).reshape(batch, -1) for x in leaves], axis=1)

    def unflatten(v):
        out, start = [], 0
        for x in leaves:
            size = x[0].size
            out.append(v[:, start:start + size].reshape(x.shape).astype(x.dtype))
            start += size
        return jax.tree_util.tree_unflatten(tree, out)

    return flat, unflatten


def _anderson_mix(gram, fs, filled, lam=1e-4):
    """The next iterate per example: sum_i alpha_i f(x_i), alpha = argmin |sum_i alpha_i g_i|
    with sum_i alpha_i = 1, g_i = f(x_i) - x_i, over the filled slots of the window.

    gram: (batch, m, m) the g_i . g_j; fs: (batch, m, n); filled: (m,) bool. The normal
    equations (G G^T + lam I) a = 1 are regularised relative to their own scale, so a window of
    near-equal residuals stays solvable."""
    m = fs.shape[1]
    both = filled[:, None] & filled[None, :]
    eye = jnp.eye(m, dtype=gram.dtype)
    scale = jnp.sum(jnp.where(filled, jnp.diagonal(gram, axis1=1, axis2=2), 0), axis=1)
    scale = scale / jnp.maximum(jnp.sum(filled), 1)
    reg = lam * scale[:, None, None] + jnp.finfo(gram.dtype).tiny
    h = jnp.where(both, gram, 0) + eye * jnp.where(filled, reg, 1.0)  # unfilled slots: a_i = 0
    rhs = jnp.broadcast_to(jnp.where(filled, 1.0, 0.0).astype(h.dtype), h.shape[:2])
    a = jnp.linalg.solve(h, rhs[..., None])[..., 0]
    alpha = a / jnp.sum(a, axis=1, keepdims=True)
    return jnp.einsum("bi,bin->bn", alpha, fs)


def _solve_anderson(f, theta, z_shapes, tol, max_iter, rtol=0.0, m=ANDERSON_M):
    """Anderson-accelerated iteration from the same z_0 as plain iteration, per example frozen
    once settled; z is f(x) at the settling iterate x (as plain iteration returns f(z_k)).

    The window holds f(x_i) and g_i = f(x_i) - x_i; the Gram matrix of the g_i is updated by
    one row per iteration (m dot products, not m^2)."""
    z0 = f(theta, _zeros(z_shapes))
    x0, unflatten = _flatten(z0)
    batch, n = x0.shape
    dtype = x0.dtype
    window = jnp.zeros((batch, m, n), dtype)

    def cond(carry):
        t, done = carry[0], carry[5]
        return (t < max_iter) & ~jnp.all(done)

    def body(carry):
        t, x, z, fs, gs, done, iters, resid, gram = carry
        fz = f(theta, unflatten(x))
        fx, _ = _flatten(fz)
        g = fx - x
        change = jnp.abs(g).max(axis=1)
        bound = tol + (rtol * jnp.abs(fx).max(axis=1) if rtol else 0.0)
        slot = t % m
        fs = fs.at[:, slot].set(fx)
        gs = gs.at[:, slot].set(g)
        row = jnp.einsum("bn,bjn->bj", g, gs)
        gram = gram.at[:, slot, :].set(row).at[:, :, slot].set(row)
        x_next = _anderson_mix(gram, fs, jnp.arange(m) <= t)
        iters = jnp.where(done, iters, t + 1)
        resid = jnp.where(done, resid, change.astype(resid.dtype))
        z = _select(done, z, fz)
        x = jnp.where(done[:, None], x, x_next)
        done = done | (change <= bound)
        return t + 1, x, z, fs, gs, done, iters, resid, gram

    init = (jnp.zeros((), jnp.int32), x0, z0, window, window, jnp.zeros((batch,), bool),
            jnp.zeros((batch,), jnp.int32), jnp.full((batch,), jnp.inf, dtype),
            jnp.zeros((batch, m, m), dtype))  # fmt: skip
    out = lax.while_loop(cond, body, init)
    z, done, iters, resid = out[2], out[5], out[6], out[7]
    return z, FixedPointStats(iters, done, resid)


# --- the implicit backward -----------------------------------------------------------------------


class AdjointStats(NamedTuple):
    iterations: jax.Array  # () int32: iterations of the adjoint solve
    residual: jax.Array  # () float32: its last max-abs change (NaN or Inf: it diverged)
    converged: jax.Array  # () bool: change <= tol within max_iter


def _solve_adjoint(f, theta, z_star, zbar, tol, max_iter):
    """w = zbar + (df/dz)^T w by iteration at z*, then ((df/dtheta)^T w, the solve's stats).

    A diverging solve stops at its first non-finite change (NaN compares false), so its stats
    show a non-finite residual after few iterations rather than max_iter of NaN."""
    _, vjp_z = jax.vjp(lambda z: f(theta, z), z_star)

    def cond(carry):
        t, _, change = carry
        return (t < max_iter) & (change > tol)

    def body(carry):
        t, w, _ = carry
        w_new = jax.tree_util.tree_map(jnp.add, zbar, vjp_z(w)[0])
        leaves = [jnp.max(jnp.abs(a - b)) for a, b in zip(jax.tree_util.tree_leaves(w_new),
                                                           jax.tree_util.tree_leaves(w), strict=True)]  # fmt: skip
        return t + 1, w_new, jnp.max(jnp.stack(leaves)).astype(jnp.float32)

    t, w, change = lax.while_loop(cond, body, (jnp.zeros((), jnp.int32), zbar, jnp.float32(jnp.inf)))
    _, vjp_theta = jax.vjp(lambda th: f(th, z_star), theta)
    return vjp_theta(w)[0], AdjointStats(t, change, change <= tol)


def probe_cotangent(stats: AdjointStats) -> jax.Array:
    """What the adjoint probe's gradient holds for one solve (see PROBE_SIZE)."""
    return jnp.stack([stats.iterations.astype(jnp.float32), stats.residual.astype(jnp.float32),
                      jnp.float32(1.0), (~stats.converged).astype(jnp.float32)])  # fmt: skip


def fixed_point(
    f: Callable[[Any, Any], Any],
    theta: Any,
    z_shapes: Any,
    *,
    tol: float,
    max_iter: int,
    solver: str = "fixed_point",
    backward_tol: float = 1e-5,
    backward_max_iter: int = 300,
    rtol: float = 0.0,
    anderson_m: int = ANDERSON_M,
    probe: jax.Array | None = None,
) -> tuple[Any, FixedPointStats]:
    """Solve z = f(theta, z) from z_0 = f(theta, 0); returns (z*, per-example stats).

    z_shapes: a pytree of `jax.ShapeDtypeStruct` giving the state's structure (batch axis first).
    An example has converged when its max-abs change is <= tol + rtol * its max-abs state.
    probe: an optional (PROBE_SIZE,) float32 array (zeros) that the solve ignores; differentiate
    with respect to it to read how the implicit backward's adjoint solve went (`probe_cotangent`).
    Only the implicit solvers ("fixed_point", "anderson") fill it; the others give it zeros.
    """
    if solver not in SOLVERS:
        raise ValueError(f"unknown fixed-point solver {solver!r}; choose one of {SOLVERS}")
    if solver == "unrolled":
        return _solve_unrolled(f, theta, z_shapes, tol, max_iter, rtol)
    if solver == "forward":
        return _forward_mode(f, theta, z_shapes, tol, max_iter, backward_tol, backward_max_iter, rtol)
    if solver == "anderson":
        forward = lambda th: _solve_anderson(f, th, z_shapes, tol, max_iter, rtol, anderson_m)  # noqa: E731
    else:
        forward = lambda th: _solve_while(f, th, z_shapes, tol, max_iter, rtol)  # noqa: E731
    if probe is None:
        probe = jnp.zeros((PROBE_SIZE,), jnp.float32)

    @jax.custom_vjp
    def solve(theta, probe):
        return forward(theta)

    def solve_fwd(theta, probe):
        z, stats = forward(theta)
        return (z, stats), (theta, z)

    def solve_bwd(residuals, cotangents):
        theta, z_star = residuals
        zbar = cotangents[0]  # the stats are not differentiable
        zbar = jax.tree_util.tree_map(
            lambda ct, z: jnp.zeros_like(z) if ct.dtype == jax.dtypes.float0 else ct, zbar, z_star
        )
        theta_bar, adjoint = _solve_adjoint(f, theta, z_star, zbar, backward_tol, backward_max_iter)
        return theta_bar, probe_cotangent(adjoint)

    solve.defvjp(solve_fwd, solve_bwd)
    return solve(theta, probe)


def _solve_tangent(f, theta, z_star, b, tol, max_iter):
    """t = b + (df/dz) t at z*, by iteration (the forward-mode counterpart of _solve_adjoint)."""

    def lin(t):
        return jax.jvp(lambda z: f(theta, z), (z_star,), (t,))[1]

    def cond(carry):
        k, _, change = carry
        return (k < max_iter) & (change > tol)

    def body(carry):
        k, t, _ = carry
        t_new = jax.tree_util.tree_map(jnp.add, b, lin(t))
        leaves = [jnp.max(jnp.abs(a - c)) for a, c in zip(jax.tree_util.tree_leaves(t_new),
                                                           jax.tree_util.tree_leaves(t), strict=True)]  # fmt: skip
        return k + 1, t_new, jnp.max(jnp.stack(leaves)).astype(jnp.float32)

    _, t, _ = lax.while_loop(cond, body, (jnp.zeros((), jnp.int32), b, jnp.float32(jnp.inf)))
    return t


def _no_tangent(x):
    import numpy as np

    if jnp.issubdtype(x.dtype, jnp.inexact):
        return jnp.zeros_like(x)
    return np.zeros(x.shape, dtype=jax.dtypes.float0)


def _forward_mode(f, theta, z_shapes, tol, max_iter, tangent_tol, tangent_max_iter, rtol=0.0):
    @jax.custom_jvp
    def solve(theta):
        return _solve_while(f, theta, z_shapes, tol, max_iter, rtol)

    @solve.defjvp
    def solve_jvp(primals, tangents):
        (theta,), (t_theta,) = primals, tangents
        z_star, stats = _solve_while(f, theta, z_shapes, tol, max_iter, rtol)
        _, b = jax.jvp(lambda th: f(th, z_star), (theta,), (t_theta,))
        t = _solve_tangent(f, theta, z_star, b, tangent_tol, tangent_max_iter)
        return (z_star, stats), (t, jax.tree_util.tree_map(_no_tangent, stats))

    return solve(theta)
