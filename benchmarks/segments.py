"""FEN (segment structure) cost of each share policy against share=all, in one run.

    PYTHONPATH=. python benchmarks/segments.py [--n 16] [--mode local standard]
                                               [--share all per_level none] [--steps N] [--quick]

For the fusion encoder network of specs/fen_parity.seqnet (binary_tree(N), width 32, batch 128),
each share policy's train step is the runtime's own (`Runtime(model, config).train_step()`, as
`seqnet.train` runs it). For each it reports trace + lower and XLA compile seconds of the jitted
step (AOT, in this process, no persistent cache) and the steady-state ms/step: after warm-up,
rounds of a few steps of every policy in turn (interleaved, so drift hits all), median of each;
ratios are against share=all measured in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SPEC = """
dim N = {n}
dim E = 32
input x : int32[N] vocab 2

block token_encoder(x, out) {{
  return dense(x, out, act=tanh)
}}

block fusion_encoder(left, right, out) {{
  h = dense(concat(left, right), 2 * out, act=tanh)
  return dense(h, out, act=tanh)
}}

block decoder(prefix, segment, suffix, classes) {{
  h = dense(concat(prefix, segment, suffix), 64, act=relu)
  return dense(h, classes)
}}

segments tree = binary_tree(N) {{
  token = token_encoder(out=E)
  fusion = fusion_encoder(out=E)
  decoder = decoder(classes=2)
  share = {share}
}}

output y : float32[2] = tree(embed(x, E))

train {{
  data = task.parity(N)
  loss = cross_entropy(y, label)
  optimizer = adam(lr=1e-3)
  batch = 128
  steps = 10
  mode = {mode}
}}
"""


def setup(n: int, share: str, mode: str, folder: Path) -> dict:
    import jax

    import seqnet
    from seqnet.backends.jax.train import Runtime, resolve_config

    path = folder / f"fen_{share}_{mode}.seqnet"
    path.write_text(SPEC.format(n=n, share=share, mode=mode))
    model = seqnet.load(path)
    rt = Runtime(model, resolve_config(model, None, {}))
    params, opt_state = rt.init_state()
    state = (params, opt_state, jax.device_put(jax.numpy.int32(0), rt.replicated))
    batch = rt.put_batch({k: v[:128] for k, v in rt.load_split("train", 128).items()})
    step = rt.train_step()
    t0 = time.perf_counter()
    lowered = step.lower(state, batch)
    t1 = time.perf_counter()
    lowered.compile()
    t2 = time.perf_counter()
    count = sum(a.size for a in jax.tree.leaves(params))
    return {"share": share, "step": step, "state": state, "batch": batch, "trace_s": t1 - t0,
            "compile_s": t2 - t1, "params": count, "times": []}  # fmt: skip


def run_mode(n: int, mode: str, shares: list[str], steps: int, per_round: int, warmup: int) -> list[dict]:
    import jax

    with tempfile.TemporaryDirectory() as d:
        runs = [setup(n, share, mode, Path(d)) for share in shares]
    for r in runs:
        for _ in range(warmup):
            r["state"], _ = r["step"](r["state"], r["batch"])
        jax.block_until_ready(r["state"])
    while len(runs[0]["times"]) < steps:
        for r in runs:
            for _ in range(per_round):
                t = time.perf_counter()
                r["state"], logs = r["step"](r["state"], r["batch"])
                jax.block_until_ready((r["state"], logs))
                r["times"].append(time.perf_counter() - t)
    for r in runs:
        r["ms"] = statistics.median(r["times"]) * 1e3
    return runs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=16, help="sequence length N of binary_tree(N)")
    ap.add_argument("--mode", nargs="*", default=["local", "standard"], choices=["local", "standard"])
    ap.add_argument("--share", nargs="*", default=["all", "per_level"],
                    choices=["all", "per_level", "none"])  # fmt: skip
    ap.add_argument("--steps", type=int, default=None, help="timed steps per policy (default 40; quick 5)")
    ap.add_argument("--quick", action="store_true", help="N = 4, few steps (smoke test)")
    args = ap.parse_args()
    import jax

    n = 4 if args.quick else args.n
    steps = args.steps or (5 if args.quick else 40)
    shares = ["all"] + [s for s in args.share if s != "all"]  # share=all is the baseline
    print(f"jax {jax.__version__}, {jax.devices()[0].platform}; FEN binary_tree({n}), width 32, "
          f"batch 128; median of {steps} steps each, interleaved in rounds of 5")  # fmt: skip
    head = f"{'mode':<9} {'share':<10} {'params':>8} {'ms/step':>8} {'x all':>6} {'trace s':>8} {'XLA s':>7} {'x all':>6}"
    print(head)
    print("-" * len(head))
    for mode in args.mode:
        runs = run_mode(n, mode, shares, steps, 5, 2 if args.quick else 5)
        base = runs[0]
        for r in runs:
            print(f"{mode:<9} {r['share']:<10} {r['params']:>8} {r['ms']:>8.2f} {r['ms'] / base['ms']:>6.3f} "
                  f"{r['trace_s']:>8.3f} {r['compile_s']:>7.3f} {r['compile_s'] / base['compile_s']:>6.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
