"""The sweep runner's overhead per point against plain `seqnet train` runs of the same points.

    PYTHONPATH=. python benchmarks/sweep.py [--points P] [--steps S] [--spec FILE]

Every point (lr = 0.01, 0.009, ...) is first trained once and thrown away, so the persistent
compilation cache holds its programs for both measured sides. Then, in the same process:
  plain: `seqnet train SPEC --set lr=V --out ...` for each point, one after another;
  sweep: `seqnet sweep SPEC --set lr=V1,V2,... --jobs 1 --out ...` (the same runs in one call).
Both are timed as whole processes. Reported: the ratio sweep / sum(plain) for the whole call;
the runs inside the sweep (each run's wall time as results.jsonl records it, start to exit of its
`seqnet train` process) against the plain runs, which is the cost per point; and the rest, the
sweep's fixed cost (its own start, the up-front check of every point, results.md and
curves.png), which does not grow with the runs. On a shared machine the run-to-run spread of
one process is several percent.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(argv: list[str]) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "seqnet", *argv], cwd=ROOT, env=env,
                          capture_output=True, text=True)  # fmt: skip
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        sys.exit(f"`seqnet {' '.join(argv)}` failed:\n{done.stdout}{done.stderr}")
    return wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=2)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--spec", default="specs/mlp_digits.seqnet")
    args = ap.parse_args()
    lrs = [f"{0.01 - 0.001 * i:.3f}" for i in range(args.points)]
    common = ["--set", "H=16", "--set", f"steps={args.steps}", "--set", f"eval_every={args.steps}"]
    with tempfile.TemporaryDirectory() as tmp:
        for i, lr in enumerate(lrs):  # fill the persistent compilation cache
            timed(["train", args.spec, *common, "--set", f"lr={lr}", "--no-progress", "--out", f"{tmp}/warm{i}"])
        plain = [timed(["train", args.spec, *common, "--set", f"lr={lr}", "--no-progress",
                        "--out", f"{tmp}/plain{i}"]) for i, lr in enumerate(lrs)]  # fmt: skip
        sweep = timed(["sweep", args.spec, *common, "--set", "lr=" + ",".join(lrs), "--jobs", "1",
                       "--out", f"{tmp}/sweep"])  # fmt: skip
        lines = Path(tmp, "sweep", "results.jsonl").read_text().splitlines()
        inside = [json.loads(line)["wall_s"] for line in lines]
    total, runs = sum(plain), sum(inside)
    print(f"{args.spec}, {args.points} points x {args.steps} steps, warm persistent cache, "
          f"{os.cpu_count()} cores")  # fmt: skip
    print(f"plain seqnet train, per point: {', '.join(f'{w:.2f}' for w in plain)} s (sum {total:.2f} s)")
    print(f"seqnet sweep --jobs 1, all points: {sweep:.2f} s; ratio sweep/plain: {sweep / total:.3f}")
    print(f"runs inside the sweep: {', '.join(f'{w:.2f}' for w in inside)} s; per point "
          f"{(runs - total) / args.points:+.2f} s, ratio {runs / total:.3f}")  # fmt: skip
    print(f"the sweep's fixed cost (start, checks, results.md, curves.png): {sweep - runs:.2f} s")


if __name__ == "__main__":
    main()
