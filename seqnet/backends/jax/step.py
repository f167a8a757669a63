"""The jitted steps: one training step (loss, gradient, optimiser update) and one eval step, and
reading the training step's logs back on the host (where divergence is caught and located).

Everything random in a step derives from the run's seed: dropout at step s from
fold_in(dropout_key, s), with s carried in the (donated) state, so a resumed run is
bit-identical to an uninterrupted one."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from seqnet.backends.jax import wormhole_report
from seqnet.backends.jax.failures import TrainingError


class Term(NamedTuple):
    """A loss term or a metric as the steps compute it: its metric key, function, the output and
    target it compares, whether the output is probabilities, the lengths field when it skips
    padding, and its weight in the loss (1 for a metric)."""

    key: str
    fn: Any
    output: str
    target: str
    probs: bool
    lengths: str | None
    weight: float = 1.0

    def values(self, outs: dict, batch: dict):
        return term_values(self.fn, outs[self.output], batch, self.target, self.probs, self.lengths)


def objective(rt, params, batch, rng, train: bool, with_stats: bool = False, probes=None):
    """Each loss term's per-example values and weights ({key: (values, weights)}, see
    `term_values`), the outputs and inputs of `batch`, and the forward stats when asked."""
    inputs = {k: batch[k] for k in rt.inputs}
    outs, stats = rt.forward(params, inputs, rng, train, probes)
    parts = {t.key: t.values(outs, batch) for t in rt.loss_terms}
    if with_stats:
        return parts, outs, inputs, stats
    return parts, outs, inputs


def term_values(fn, out, batch, target: str, probs: bool, lengths: str | None):
    """(values, weights), one each per example: a loss or metric's value, and how many positions
    it averages (1 each, or the example's valid positions where it skips padding: `lengths=`), so
    that a mean over examples weighted by them is the mean over valid positions."""
    import jax.numpy as jnp

    if lengths is None:
        values = fn(out, batch[target], probs)
        return values, jnp.ones_like(values)
    values = fn(out, batch[target], probs, batch[lengths])
    return values, jnp.clip(batch[lengths], 0, out.shape[1]).astype(values.dtype)


def weighted_mean(values, weights, padded: bool):
    """The batch's mean of a term: over valid positions where it skips padding, else over examples
    (exactly as before padding existed)."""
    if not padded:
        return values.mean()
    return (values * weights).sum() / weights.sum().clip(1)


def batch_loss(rt, parts: dict):
    """The loss of a batch, the weighted sum of its terms' means, and each term's mean."""
    terms = rt.loss_terms
    means = {t.key: weighted_mean(*parts[t.key], t.lengths is not None) for t in terms}
    if all(t.lengths is None for t in terms):  # no padding: the mean of the summed terms
        loss = sum(t.weight * parts[t.key][0] for t in terms).mean()
    else:
        loss = sum(t.weight * means[t.key] for t in terms)
    if len(terms) == 1 and terms[0].weight == 1.0:
        loss, means = means[terms[0].key], {}  # one term: exactly as it was
    return loss, means


def local_objective(rt, params, batch, inputs, rng):
    """FEN local training: the sum of the per-segment losses (mechanisms.md 1), or their mean
    (`mode = local(reduction=mean)`)."""
    import jax.numpy as jnp

    lo = rt.config.loss

    def segment_loss(outs, target):
        return rt.loss_fn(outs[lo.output], target, rt.loss_probs).mean()

    terms = rt.local_terms(params, inputs, segment_loss, batch[lo.target], rng=rng, train=True)
    terms = jnp.asarray(terms, jnp.float32)
    return getattr(terms, rt.local_reduction)()  # .sum() or .mean(): the mode's checked setting


def make_train_step(rt):
    """jit(step)(state, batch) -> (state, logs); state = (params, opt_state, step), donated."""
    import jax
    import optax

    cycles = getattr(rt.lowered, "cycles", list)()  # a stand-in lowering may have none
    solvers = {c.name: c.solver for c in cycles}
    probes = rt.lowered.adjoint_probes() if cycles else {}

    def step(state, batch):
        params, opt_state, i = state
        rng = jax.random.fold_in(rt.dropout_key, i)

        def loss_of(p, probes):
            parts, outs, inputs, stats = objective(rt, p, batch, rng, True, True, probes)
            loss, parts = batch_loss(rt, parts)
            total = loss
            if rt.local_terms is not None:
                # FEN local training (mechanisms.md 1): the gradient is that of the sum
                # of the per-segment losses only; the end-to-end loss is logged, never
                # differentiated (adding it would backprop through the whole tree).
                total = local_objective(rt, p, batch, inputs, rng)
            return total, (loss, outs, parts, stats)

        # the adjoint probes' gradients say how each implicit backward's solve went
        (_, (loss, outs, parts, stats)), (grads, probe_grads) = jax.value_and_grad(
            loss_of, argnums=(0, 1), has_aux=True)(params, probes)  # fmt: skip
        gnorm = optax.tree.norm(grads) if hasattr(optax, "tree") else optax.global_norm(grads)
        updates, opt_state = rt.tx.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        logs = {"loss": loss, "grad_norm": gnorm}
        logs.update(parts)  # loss/<term>
        for m in rt.metric_specs:
            logs[m.key] = weighted_mean(*m.values(outs, batch), m.lengths is not None)
        logs.update(wormhole_report.train_logs(stats, probe_grads, solvers))
        return (params, opt_state, i + 1), logs

    return jax.jit(step, donate_argnums=(0,), in_shardings=(rt.state_shardings, rt.batch_sharding),
                   out_shardings=(rt.state_shardings, rt.replicated))  # fmt: skip


def make_eval_step(rt):
    """jit(step)(params, batch, mask) -> (masked sums of every loss term and metric, with their
    weights' sums (`weights/<key>`), and of the wormhole stats, with the count; the worst
    wormhole residuals and iterations). Runtime.evaluate divides them out."""
    import jax

    def step(params, batch, mask):
        parts, outs, _, stats = objective(rt, params, batch, None, False, True)
        sums = {"count": mask.sum()}
        for m in rt.metric_specs:
            parts[m.key] = m.values(outs, batch)
        for key, (values, weights) in parts.items():
            sums[key] = (values * weights * mask).sum()
            sums[f"weights/{key}"] = (weights * mask).sum()
        wormhole_sums, maxes = wormhole_report.masked_reductions(stats, mask)
        return {**sums, **wormhole_sums}, maxes

    return jax.jit(step, in_shardings=(rt.param_shardings, rt.batch_sharding, rt.batch_sharding),
                   out_shardings=rt.replicated)  # fmt: skip


def check_finite(pending: list, start_step: int, last_ckpt: str, lr_of) -> list[dict]:
    """Host copies of the pending per-step logs; TrainingError at the first non-finite one."""
    import jax

    host = jax.device_get(pending)
    for j, logs in enumerate(host):
        for what in ("loss", "grad_norm"):
            v = float(logs[what])
            if not math.isfinite(v):
                step = start_step + j + 1
                raise TrainingError(
                    f"training diverged at step {step}: {what.replace('_', ' ')} is {v} "
                    f"(learning rate {lr_of(step - 1):.3g}). Last good checkpoint: {last_ckpt}. "
                    "Lower the learning rate, add clip = 1.0, or check the data."
                )
    return host


def locate_nonfinite(rt, params, batch) -> str:
    """A sentence pointing at the spec line where NaN/Inf first appears (best effort)."""
    if batch is None:
        return ""
    try:
        inputs = {k: batch[k] for k in rt.inputs}
        where = rt.lowered.first_nonfinite(params, inputs)
    except Exception as e:  # a diagnosis must never hide the error it explains
        return f"(could not locate the first non-finite value: {type(e).__name__})"
    if where is None:
        return "Every parameter and node output is finite on the last batch: the loss produced it."
    return where[0].upper() + where[1:] + "."
