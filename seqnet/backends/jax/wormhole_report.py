"""Wormholes that never fail silently (mechanisms.md 2): how a fixed-point solve went, said on
the host in terms a person can act on.

The solvers (fixed_point.py) report per example, inside the jitted code, as stats keyed
"wormhole/<gate>/<what>": iterations, converged and residual of the forward solve, and (in
training, read through the adjoint probes) adjoint_iterations, adjoint_residual and
adjoint_converged of the implicit backward. Here they are reduced for eval records and predict
output, and checked after each logging window of training, *before* the NaN check, so an
expansive loop or a diverging adjoint is reported as what it is, located at its `wormhole`
statement, and never as "lower the learning rate".
"""

from __future__ import annotations

import math

import numpy as np

from seqnet.backends.jax.failures import TrainingError
from seqnet.compiler.ops.mechanisms import wormhole_gates as gates

PREFIX = "wormhole/"
FORWARD = ("iterations", "converged", "residual")
ADJOINT = ("adjoint_iterations", "adjoint_residual", "adjoint_converged")


class WormholeError(TrainingError):
    """Training cannot go on because a wormhole's fixed point or its adjoint did not converge."""


def split_key(key: str) -> tuple[str, str] | None:
    """("<gate>", "<what>") for a wormhole stats key, else None."""
    if not key.startswith(PREFIX):
        return None
    gate, _, what = key[len(PREFIX):].rpartition("/")
    return (gate, what) if gate else None


# --- eval and predict ----------------------------------------------------------------------------


def masked_reductions(stats: dict, mask) -> tuple[dict, dict]:
    """(sums, maxes) of the forward stats over the real examples of an eval batch (jitted):
    sums of iterations and converged (means once divided by the count), the worst residual and
    the most iterations of any example."""
    import jax.numpy as jnp

    sums, maxes = {}, {}
    for key, value in stats.items():
        parts = split_key(key)
        if parts is None or parts[1] not in FORWARD:
            continue
        v = value.astype(jnp.float32)
        worst = jnp.where(mask > 0, v, -jnp.inf).max()
        if parts[1] == "residual":
            maxes[key] = worst
            continue
        sums[key] = (v * mask).sum()
        if parts[1] == "iterations":
            maxes[f"{key}_max"] = worst
    return sums, maxes


def summary(stats: dict[str, np.ndarray], graph) -> dict[str, dict]:
    """Per wormhole, from per-example stats: where it is, how many examples, how many converged,
    mean and max iterations, max residual (JSON-ready)."""
    info = gates(graph)
    out = {}
    for gate, meta in info.items():
        iters = stats.get(f"{PREFIX}{gate}/iterations")
        if iters is None:
            continue
        iters = np.asarray(iters)
        conv = np.asarray(stats[f"{PREFIX}{gate}/converged"])
        resid = np.asarray(stats[f"{PREFIX}{gate}/residual"], np.float64)
        out[gate] = {"wormhole": meta["name"], "where": meta["where"], "examples": int(iters.size),
                     "converged": int(conv.sum()), "iterations_mean": float(iters.mean()) if iters.size else 0.0,
                     "iterations_max": int(iters.max()) if iters.size else 0,
                     "residual_max": float(resid.max()) if resid.size else 0.0,
                     "tol": meta.get("tol"), "max_iter": meta.get("max_iter")}  # fmt: skip
    return out


def summary_lines(summaries: dict[str, dict]) -> list[str]:
    """One line per wormhole for the CLI; unconverged examples get a warning with a hint."""
    lines = []
    for s in summaries.values():
        head = (f"{s['wormhole']} ({s['where']}): {s['converged']} of {s['examples']} examples "
                f"converged, iterations mean {s['iterations_mean']:.1f} max {s['iterations_max']}, "
                f"residual max {s['residual_max']:.3g}")  # fmt: skip
        if s["converged"] < s["examples"]:
            head = f"warning: {head}; {FORWARD_HINT}"
        lines.append(head)
    return lines


# --- training ------------------------------------------------------------------------------------

FORWARD_HINT = ("raise max_iter, loosen tol, or make the loop contractive (a nearer-closed gate: "
                "gate=sigmoid with a lower gate_bias; solver=anderson converges where plain "
                "iteration is slow)")  # fmt: skip
ADJOINT_HINT = ("the loop is not contractive at these parameters, so its implicit gradient does "
                "not exist: make it contractive (a nearer-closed gate: gate=sigmoid with a lower "
                "gate_bias, or weight decay / clip = 1.0 to keep W small), or raise "
                "backward_max_iter if it was only slow; a lower learning rate helps only by "
                "keeping the parameters where the loop contracts")  # fmt: skip


def train_logs(stats: dict, probe_grads: dict, solvers: dict[str, str]) -> dict:
    """The wormhole entries of one training step's logs (jitted): forward means and worst
    residual, and the adjoint solve read from the probes' gradients."""
    import jax.numpy as jnp

    logs = {}
    for key, value in stats.items():
        parts = split_key(key)
        if parts is None:
            continue
        v = value.astype(jnp.float32)
        logs[key] = v.max() if parts[1] == "residual" else v.mean()
    for gate, g in probe_grads.items():
        if solvers.get(gate) not in ("fixed_point", "anderson"):
            continue  # only the implicit backward fills its probe
        solves = jnp.maximum(g[2], 1.0)
        logs[f"{PREFIX}{gate}/adjoint_iterations"] = g[0] / solves
        logs[f"{PREFIX}{gate}/adjoint_residual"] = g[1] / solves
        logs[f"{PREFIX}{gate}/adjoint_converged"] = 1.0 - g[3] / solves
    return logs


def _finite(logs: dict) -> bool:
    return all(math.isfinite(float(logs[k])) for k in ("loss", "grad_norm"))


class TrainingWatch:
    """Checks each logging window's host logs: warnings once per wormhole and kind (a truncated
    adjoint, unconverged examples), and a located WormholeError at the first step whose loss or
    gradient is non-finite when a wormhole's solve failed there."""

    def __init__(self, graph, warn):
        self.info = gates(graph)
        self.warn = warn
        self.warned: set[tuple[str, str]] = set()

    def check(self, host: list[dict], start_step: int, last_good: str, lr_of) -> None:
        for j, logs in enumerate(host):
            step = start_step + j + 1
            bad = not _finite(logs)
            for gate, meta in self.info.items():
                if f"{PREFIX}{gate}/converged" not in logs:
                    continue
                self._check_gate(gate, meta, logs, step, bad, last_good, lr_of)
            if bad:
                return  # check_finite reports a NaN no wormhole explains

    def _check_gate(self, gate, meta, logs, step, bad, last_good, lr_of):
        def get(what, default=1.0):
            return float(logs.get(f"{PREFIX}{gate}/{what}", default))

        who = f"{meta['name']} ({meta['where']})"
        conv, resid = get("converged"), get("residual", 0.0)
        adj_conv, adj_resid = get("adjoint_converged"), get("adjoint_residual", 0.0)
        adj_iters = get("adjoint_iterations", 0.0)
        tail = f"(learning rate {lr_of(step - 1):.3g}). Last good checkpoint: {last_good}."
        if conv < 1.0 and (bad or not math.isfinite(resid)):
            raise WormholeError(
                f"training diverged at step {step}: the fixed point of {who} did not converge "
                f"({1 - conv:.0%} of examples; residual {resid:.3g} against tol={meta.get('tol')} "
                f"after max_iter={meta.get('max_iter')}): the loop is expansive here {tail} "
                f"Hint: {FORWARD_HINT}."
            )  # fmt: skip
        if adj_conv < 1.0 and (bad or not math.isfinite(adj_resid)):
            raise WormholeError(
                f"training diverged at step {step}: the backward (adjoint) solve of {who} "
                f"diverged (residual {adj_resid:.3g} after {adj_iters:.0f} iterations; "
                f"backward_tol={meta.get('backward_tol')}) {tail} Hint: {ADJOINT_HINT}."
            )  # fmt: skip
        if conv < 1.0 and (gate, "forward") not in self.warned:
            self.warned.add((gate, "forward"))
            self.warn(f"warning: {who}: {1 - conv:.1%} of examples did not converge within "
                      f"max_iter={meta.get('max_iter')} at step {step} (residual {resid:.3g}, "
                      f"tol={meta.get('tol')}); {FORWARD_HINT}")  # fmt: skip
        if adj_conv < 1.0 and (gate, "adjoint") not in self.warned:
            self.warned.add((gate, "adjoint"))
            self.warn(f"warning: {who}: the backward (adjoint) solve was truncated at step {step}: "
                      f"{adj_iters:.0f} iterations (backward_max_iter="
                      f"{meta.get('backward_max_iter')}) left residual {adj_resid:.3g} > "
                      f"backward_tol={meta.get('backward_tol')}, so the gradient is approximate; "
                      f"raise backward_max_iter or make the loop more contractive; the metric "
                      f"{PREFIX}{gate}/adjoint_converged records how often")  # fmt: skip
