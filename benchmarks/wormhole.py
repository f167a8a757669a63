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

3. Gradient time at trained parameters (`--grad`; docs/results.md section 3). Each shipped spec
   trained with its own settings (sine 800 steps, digits 600; seed 0), then the gradient of
   sum(y^2) over one eval batch of 64, jitted, for solver = fixed_point (implicit backward),
   anderson and unrolled (backprop through the loop, which stops once every example has
   settled) at the spec's tol 1e-3 and max_iter 300, and for the spec with the wormhole off
   (`WORMHOLE=false`, the same parameters but the gate's): ms per gradient (the best of 7
   interleaved rounds of the median of 5 calls), the iterations of that batch, and each time's
   ratio to the implicit one.

Figures go into the README (and docs/results.md) by hand, with the machine and the date.
"""

from __future__ import annotations

import argparse
import functools
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


def _interleaved_ms(fns: dict, *args, rounds: int = 7, calls: int = 5) -> dict[str, float]:
    """Per function: the best over `rounds` rounds of the median of `calls` calls (ms). Each
    round times every function in turn, so load that comes and goes on a shared machine falls on
    all of them alike, and the best round is the least disturbed one."""
    import jax

    for fn in fns.values():
        jax.block_until_ready(fn(*args))  # compile and warm up
    best = {name: float("inf") for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            times = []
            for _ in range(calls):
                t0 = time.perf_counter()
                jax.block_until_ready(fn(*args))
                times.append(time.perf_counter() - t0)
            best[name] = min(best[name], 1e3 * statistics.median(times))
    return best


def gradient_times(spec: str, batch: int, out_dir: Path) -> dict:
    """Part 3 of the module text, for one spec."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    import seqnet
    from seqnet.backends.jax.lower import lower
    from seqnet.backends.jax.train import train
    from seqnet.data import get_source

    model = seqnet.load(ROOT / "specs" / f"{spec}.seqnet")
    c = model.train_config
    params = train(model, out=out_dir / spec, progress=False).params
    arrays = get_source(c.data.name).load("eval", batch, c.seed, **c.data.args)
    x = {k: jnp.asarray(np.asarray(arrays[k])[:batch]) for k in model.inputs}
    row = {"spec": spec, "steps": int(c.steps)}
    variants = [(s, lower(_with(model.graph, solver=s)), params) for s in ("fixed_point", "anderson", "unrolled")]
    off = seqnet.load(ROOT / "specs" / f"{spec}.seqnet", WORMHOLE=False)
    variants.append(("no wormhole", lower(off.graph), {k: v for k, v in params.items() if k != GATE}))
    grads = {}
    for name, low, p in variants:

        def loss(p, x, low=low):
            return jnp.sum(low.apply(p, x)["y"] ** 2)

        grads[name] = functools.partial(jax.jit(jax.grad(loss)), p)
        row[name] = {}
        if name != "no wormhole":
            _, stats = jax.jit(low.apply_with_stats)(p, x)
            it = np.asarray(stats[f"wormhole/{GATE}/iterations"])
            row[name].update(iterations_mean=float(it.mean()), iterations_max=int(it.max()))
    for name, ms in _interleaved_ms(grads, x).items():
        row[name]["ms"] = ms
    for name in ("anderson", "unrolled", "no wormhole"):
        row[name]["ratio"] = row[name]["ms"] / row["fixed_point"]["ms"]
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer gate biases and iteration counts")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON too")
    ap.add_argument("--grad", action="store_true",
                    help="only part 3: gradient time per solver at trained parameters (trains both specs)")  # fmt: skip
    args = ap.parse_args(argv)
    if args.grad:
        import tempfile

        with tempfile.TemporaryDirectory(prefix="seqnet_wormhole_bench_") as d:
            grads = [gradient_times(spec, 64, Path(d)) for spec in ("wormhole_sine", "wormhole_digits")]
        print("gradient of sum(y^2), one eval batch of 64, trained parameters (seed 0), tol 1e-3, max_iter 300")
        print(f"{'spec':16} {'solver':12} {'iterations mean (max)':>22} {'ms':>9} {'/ implicit':>10}")
        for r in grads:
            for name in ("fixed_point", "anderson", "unrolled", "no wormhole"):
                v = r[name]
                its = f"{v['iterations_mean']:.1f} ({v['iterations_max']})" if "iterations_mean" in v else "-"
                print(f"{r['spec']:16} {name:12} {its:>22} {v['ms']:>9.3f} {v.get('ratio', 1.0):>10.2f}")
        if args.json:
            print(json.dumps(grads, indent=1))
        return 0
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
