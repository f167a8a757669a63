"""Reproduce the measurements of docs/results.md and print them as tables.

    PYTHONPATH=. python examples/paper_results.py            # the full runs (about 15 min, 2 cores)
    PYTHONPATH=. python examples/paper_results.py --quick    # a short version (about 3 min)
    PYTHONPATH=. python examples/paper_results.py --only fen wormhole --json out.json

Sections:
  classics  every shipped spec with a train section, trained by its own settings: the final eval
            metric, steps/s (compilation excluded) and the time to the first finished step
            (data, init and the train-step compile; a fresh JAX compilation cache is used).
  fen       specs/fen_parity.seqnet at N = 4, 8, 16 and 64 (and N = 8 at lr 3e-3), mode = local vs
            mode = standard for the same steps; checks that the final network's output equals
            y_(1,N) of local_outputs.
  wormhole  wormhole_sine / wormhole_digits: forward iteration counts per example (mean / max),
            the fraction converged within max_iter, the test metric with and without the wormhole
            (--set WORMHOLE=false: the spec's enabled= setting; same steps), and the gradient time of the implicit (fixed_point) solver against
            the unrolled one.

Seeds: every run uses its spec's seed (the train section's default, 0) for data and parameters.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "specs"
sys.path.insert(0, str(ROOT))

CLASSICS = [
    "mlp_digits", "cnn_digits", "residual_mlp", "ensemble_mask", "lstm_parity", "lstm_sort",
    "gru_text", "transformer_encoder", "simplicial_block", "wormhole_sine", "wormhole_digits",
    "fen_parity",
]  # fmt: skip
WORMHOLE_LINE = re.compile(r"^wormhole .*$\n", re.M)


def _metric_name(model) -> str:
    return model.train_config.metrics[0].name if model.train_config.metrics else "loss"


def run_training(model, out: Path, steps: int, **overrides) -> dict:
    """Train; the final eval metric, steps/s and the seconds until the first step finished."""
    from seqnet.backends.jax.train import train

    t0 = time.perf_counter()
    first: dict[str, float] = {}

    def callback(step, logs):
        if "t" not in first:  # train() blocks on the first step before calling back
            first["t"] = time.perf_counter() - t0

    r = train(model, out=out, steps=steps, progress=False, callback=callback, overwrite=True,
              **overrides)
    name = _metric_name(model)
    return {
        "steps": r.step,
        "metric": name,
        "value": r.metrics.get(name, r.metrics.get("loss")),
        "loss": r.metrics.get("loss"),
        "steps_per_s": r.steps_per_s,
        "first_step_s": first.get("t", float("nan")),
        "wall_s": time.perf_counter() - t0,
        "params": r.params,
    }


def classics(quick: bool, tmp: Path) -> list[dict]:
    from seqnet.model import load

    rows = []
    for name in CLASSICS:
        model = load(SPECS / f"{name}.seqnet")
        steps = min(30, model.train_config.steps) if quick else model.train_config.steps
        try:
            res = run_training(model, tmp / name, steps)
            res.pop("params")
            rows.append({"spec": name, "ok": True, **res})
        except Exception as e:  # report, keep going
            rows.append({"spec": name, "ok": False, "error": f"{type(e).__name__}: {e}"})
        _print_row(rows[-1])
    return rows


def fen(quick: bool, tmp: Path) -> list[dict]:
    import jax
    import numpy as np

    from seqnet.model import load

    rows = []
    # The spec's own lr (adam 1e-3) at every N, plus N = 8 at lr 3e-3: local training collapses
    # to a constant predictor at that lr where standard backprop does not (docs/results.md 2).
    runs = [(4, 2000, None), (8, 2000, None), (8, 2000, 3e-3), (16, 2000, None), (64, 300, None)]
    for n, full_steps, lr in runs:
        steps = 40 if quick else full_steps
        for mode in ("local", "standard"):
            model = load(SPECS / "fen_parity.seqnet", N=n)
            extra = {} if lr is None else {"lr": lr}
            res = run_training(model, tmp / f"fen_{n}_{mode}_{lr}", steps, mode=mode, **extra)
            # The final network's prediction must equal y_(1,N) of the local outputs.
            low = model._jax()
            x = np.random.default_rng(0).integers(0, 2, size=(32, n)).astype(np.int32)
            outs = jax.jit(lambda p, x, low=low: low.local_outputs(p, {"x": x}, train=False)[1])(res["params"], x)
            final = jax.jit(lambda p, x, low=low: low.apply(p, {"x": x}))(res["params"], x)["y"]
            segs = next(iter(low.program.node_programs.values())).structure.segments
            k = list(segs).index((1, n))
            diff = float(np.max(np.abs(np.asarray(outs["y"][k]) - np.asarray(final))))
            res.pop("params")
            used_lr = lr if lr is not None else model.train_config.optimizer.args.get("lr")
            rows.append({"spec": f"fen_parity N={n}", "mode": mode, "lr": used_lr,
                         "segments": len(segs), "final_vs_y1N_maxdiff": diff, **res})  # fmt: skip
            _print_row(rows[-1])
    return rows


def _wormhole_stats(model, params) -> dict:
    import jax
    import numpy as np

    from seqnet.data import get_source

    c = model.train_config
    arrays = get_source(c.data.name).load("eval", None, c.seed, **c.data.args)
    inputs = {k: np.asarray(arrays[k]).astype(t.dtype) for k, t in model.inputs.items()}
    low = model._jax()
    fn = jax.jit(lambda p, x: low.apply_with_stats(p, x)[1])
    iters, conv = [], []
    n = len(next(iter(inputs.values())))
    for s in range(0, n, 256):
        stats = jax.device_get(fn(params, {k: v[s:s + 256] for k, v in inputs.items()}))
        iters.append(next(v for k, v in stats.items() if k.endswith("/iterations")))
        conv.append(next(v for k, v in stats.items() if k.endswith("/converged")))
    iters, conv = np.concatenate(iters), np.concatenate(conv)
    return {"iter_mean": float(iters.mean()), "iter_max": int(iters.max()),
            "converged": float(conv.mean()), "eval_examples": int(n)}  # fmt: skip


def _grad_time(model, params, repeats: int) -> float:
    """Median seconds of one jitted value_and_grad of the training loss on one batch."""
    import jax
    import numpy as np

    from seqnet.backends.jax import losses
    from seqnet.data import get_source

    c = model.train_config
    arrays = get_source(c.data.name).load("train", None, c.seed, **c.data.args)
    batch = {k: np.asarray(v[: c.batch]) for k, v in arrays.items()}
    inputs = {k: batch[k].astype(t.dtype) for k, t in model.inputs.items()}
    low = model._jax()
    loss_fn = losses.get_loss(c.loss.name)

    def loss(p):
        return loss_fn(low.apply(p, inputs)[c.loss.output], batch[c.loss.target]).mean()

    g = jax.jit(jax.value_and_grad(loss))
    jax.block_until_ready(g(params))
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(g(params))
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def wormhole(quick: bool, tmp: Path) -> list[dict]:
    from seqnet.model import load

    rows = []
    for name in ("wormhole_sine", "wormhole_digits"):
        text = (SPECS / f"{name}.seqnet").read_text()
        variants = {  # "no wormhole" is the spec's own setting: enabled=WORMHOLE, off
            "wormhole": (text, {}),
            "no wormhole": (text, {"WORMHOLE": "false"}),
            "wormhole, unrolled": (WORMHOLE_LINE.sub(lambda m: m.group(0).rstrip("\n") + " solver=unrolled\n", text), {}),
        }
        trained = None
        for label, (src, settings) in variants.items():
            path = tmp / f"{name}_{label.replace(' ', '_').replace(',', '')}.seqnet"
            path.write_text(src)
            model = load(path, **settings)
            steps = 30 if quick else model.train_config.steps
            row = {"spec": name, "variant": label}
            if label != "wormhole, unrolled":
                res = run_training(model, tmp / path.stem, steps)
                params = res.pop("params")
                row.update(res)
                if label == "wormhole":
                    trained = params
                    row.update(_wormhole_stats(model, params))
            # Gradient timing at the trained wormhole parameters (the same tree for both solvers).
            if label != "no wormhole":
                row["grad_ms"] = 1e3 * _grad_time(model, trained, 3 if quick or "unrolled" in label else 20)
            else:
                row["grad_ms"] = 1e3 * _grad_time(model, params, 3 if quick else 20)
            rows.append(row)
            _print_row(row)
    return rows


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _print_row(row: dict) -> None:
    print("  " + ", ".join(f"{k}={_fmt(v)}" for k, v in row.items()), flush=True)


def table(rows: list[dict], cols: list[str]) -> str:
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        lines.append("| " + " | ".join(_fmt(r.get(c, "")) for c in cols) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="a few steps per run (a smoke check)")
    ap.add_argument("--only", nargs="+", choices=["classics", "fen", "wormhole"],
                    default=["classics", "fen", "wormhole"])  # fmt: skip
    ap.add_argument("--json", default=None, help="also write every row as JSON here")
    ap.add_argument("--keep-cache", action="store_true",
                    help="use the usual JAX compilation cache (compile times then read as cached)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="seqnet_results_") as d:
        tmp = Path(d)
        if not args.keep_cache:
            os.environ["SEQNET_JAX_CACHE"] = str(tmp / "jax_cache")
        import jax

        print(f"JAX {jax.__version__} on {jax.devices()[0].platform}, {os.cpu_count()} CPUs", flush=True)
        results = {}
        if "classics" in args.only:
            print("== classics", flush=True)
            results["classics"] = classics(args.quick, tmp)
        if "fen" in args.only:
            print("== FEN: local vs standard", flush=True)
            results["fen"] = fen(args.quick, tmp)
        if "wormhole" in args.only:
            print("== wormholes", flush=True)
            results["wormhole"] = wormhole(args.quick, tmp)
    print()
    if "classics" in results:
        print(table(results["classics"], ["spec", "ok", "steps", "metric", "value", "loss",
                                          "steps_per_s", "first_step_s"]))  # fmt: skip
        print()
    if "fen" in results:
        print(table(results["fen"], ["spec", "mode", "lr", "segments", "steps", "value", "loss",
                                     "steps_per_s", "first_step_s", "final_vs_y1N_maxdiff"]))  # fmt: skip
        print()
    if "wormhole" in results:
        print(table(results["wormhole"], ["spec", "variant", "steps", "metric", "value",
                                          "steps_per_s", "iter_mean", "iter_max", "converged",
                                          "grad_ms"]))  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
