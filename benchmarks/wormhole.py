"""Wormhole solvers: Anderson acceleration against plain iteration, and the implicit backward's
memory against backpropagation through the iterations.

    PYTHONPATH=. python benchmarks/wormhole.py [--quick] [--json]

1. Iterations to the same tol. The shipped specs (specs/wormhole_sine.seqnet, T = 32, and
   specs/wormhole_digits.seqnet) at their initial parameters, with the gate bias set to -4 (the
   shipped default: nearly closed), 0, 1, 2 and 3 (ever more open, so ever slower loops), on 64
   random inputs, tol = 1e-5, max_iter = 1000. Per solver: mean and max iterations per example,
   the fraction converged, the solve's time (median of 5, jitted, after warm-up); then the ratios
   anderson / plain and the largest output difference between the two fixed points.
2. Gradient memory. The digits spec's loss gradient compiled with solver=fixed_point (implicit
   backward), anderson (same backward) and unrolled (backprop through the loop) at
   max_iter = 10, 50, 200 with a tol no example reaches (so every solve runs max_iter
   iterations); XLA's `memory_analysis().temp_size_in_bytes` of each compiled gradient, and each
   one's ratio to its own max_iter = 10 figure (flat = 1.00).

Figures go into the README by hand, with the machine and the date.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

GATE = "wormhole_h3_to_h1"  # both shipped specs close h3 -> h1


def _with(graph, **attrs):
    """The graph with every wormhole's settings replaced by `attrs`."""
    g = graph.copy()
    for _, d in g.nodes(data=True):
        if d["op"] == "wormhole_gate":
            d["attrs"] = {**d["attrs"], **attrs}
    return g


def _inputs(model, batch, key):
    import jax

    shape = (batch,) + tuple(getattr(d, "value", d) for d in model.inputs["x"].shape)
    return {"x": jax.random.normal(key, shape)}


def iterations(spec: str, biases, batch: int, tol: float, max_iter: int) -> list[dict]:
    import jax
    import jax.numpy as jnp
    import numpy as np

    import seqnet
    from seqnet.backends.jax.lower import lower

    model = seqnet.load(ROOT / "specs" / f"{spec}.seqnet")
    params = model.init(jax.random.key(0))
    x = _inputs(model, batch, jax.random.key(1))
    fns = {s: jax.jit(lower(_with(model.graph, solver=s, tol=tol, max_iter=max_iter)).apply_with_stats)
           for s in ("fixed_point", "anderson")}  # fmt: skip
    rows = []
    for bias in biases:
        p = {**params, GATE: {**params[GATE], "gate_b": jnp.full_like(params[GATE]["gate_b"], bias)}}
        row = {"spec": spec, "gate_bias": bias}
        outs = {}
        for solver, fn in fns.items():
            jax.block_until_ready(fn(p, x))  # compile and warm up
            times = []
            for _ in range(5):
                t0 = time.perf_counter()
                out, stats = jax.block_until_ready(fn(p, x))
                times.append(time.perf_counter() - t0)
            it = np.asarray(stats[f"wormhole/{GATE}/iterations"])
            row[solver] = {"iterations_mean": float(it.mean()), "iterations_max": int(it.max()),
                           "converged": float(np.asarray(stats[f"wormhole/{GATE}/converged"]).mean()),
                           "ms": 1e3 * statistics.median(times)}  # fmt: skip
            outs[solver] = np.asarray(out["y"])
        plain, anderson = row["fixed_point"], row["anderson"]
        row["iterations_ratio"] = anderson["iterations_mean"] / plain["iterations_mean"]
        row["time_ratio"] = anderson["ms"] / plain["ms"]
        row["max_output_diff"] = float(np.abs(outs["anderson"] - outs["fixed_point"]).max())
        rows.append(row)
    return rows


def gradient_memory(iteration_counts, batch: int) -> dict:
    import jax
    import jax.numpy as jnp

    import seqnet
    from seqnet.backends.jax.lower import lower

    model = seqnet.load(ROOT / "specs" / "wormhole_digits.seqnet")
    params = jax.eval_shape(model.init, jax.random.key(0))
    x = jax.ShapeDtypeStruct((batch, 64), jnp.float32)
    out = {}
    for solver in ("fixed_point", "anderson", "unrolled"):
        out[solver] = {}
        for n in iteration_counts:
            low = lower(_with(model.graph, solver=solver, tol=1e-30, max_iter=n))

            def loss(p, x, low=low):
                return jnp.sum(low.apply(p, {"x": x})["y"] ** 2)

            compiled = jax.jit(jax.grad(loss)).lower(params, x).compile()
            out[solver][n] = compiled.memory_analysis().temp_size_in_bytes
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer gate biases and iteration counts")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = ap.parse_args(argv)
    biases = (-4.0, 1.0) if args.quick else (-4.0, 0.0, 1.0, 2.0, 3.0)
    counts = (10, 50) if args.quick else (10, 50, 200)
    rows = []
    for spec in ("wormhole_sine", "wormhole_digits"):
        rows += iterations(spec, biases, batch=64, tol=1e-5, max_iter=1000)
    print("iterations to tol 1e-5 (64 examples, initial parameters, max_iter 1000)")
    print(f"{'spec':16} {'gate_bias':>9} {'plain it':>9} {'conv':>5} {'anderson it':>11} {'conv':>5} "
          f"{'it ratio':>8} {'time ratio':>10} {'max |dy|':>9}")  # fmt: skip
    for r in rows:
        p, a = r["fixed_point"], r["anderson"]
        print(f"{r['spec']:16} {r['gate_bias']:>9.1f} {p['iterations_mean']:>9.1f} {p['converged']:>5.2f} "
              f"{a['iterations_mean']:>11.1f} {a['converged']:>5.2f} {r['iterations_ratio']:>8.2f} "
              f"{r['time_ratio']:>10.2f} {r['max_output_diff']:>9.2g}")  # fmt: skip
    memory = gradient_memory(counts, batch=64)
    print("\ngradient temp memory (XLA memory_analysis), digits spec, batch 64, every solve at max_iter")
    print(f"{'solver':12} " + " ".join(f"{f'{n} it':>12}" for n in counts) + f" {'ratio':>7}")
    for solver, by_n in memory.items():
        ratio = by_n[counts[-1]] / max(by_n[counts[0]], 1)
        print(f"{solver:12} " + " ".join(f"{by_n[n] / 1e6:>9.3f} MB" for n in counts) + f" {ratio:>7.2f}")
    if args.json:
        print(json.dumps({"iterations": rows, "gradient_temp_bytes": memory}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
