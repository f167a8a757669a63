"""`seqnet train` with malloc's transparent huge pages against without (seqnet/hugepages.py).

    PYTHONPATH=. python benchmarks/hugepages.py [--repeats R] [--case NAME]... [--quick]

Each case is a whole `python -m seqnet train` process, run with `GLIBC_TUNABLES=
glibc.malloc.hugetlb=0` (4 KiB pages, glibc's default: the baseline) and with `=1` (what the
CLI chooses by itself where the kernel's THP mode is `madvise`), alternating, R times each. Per
side: median wall time, median CPU (user + system) and system time, minor page faults and peak
resident memory, from the child's own rusage (os.wait4); the ratios are huge pages / baseline. The
processes share one persistent compilation cache folder, and each case runs once unmeasured
first, so both sides read the same compiled programs back.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from seqnet.hugepages import c_library, thp_mode

ROOT = Path(__file__).resolve().parents[1]
CASES = {  # name: (spec, --set overrides)
    "fen_parity local N=256": ("specs/fen_parity.seqnet", ["N=256", "batch=64", "steps=25"]),
    "gpt_char": ("specs/gpt_char.seqnet", ["steps=150"]),
    "transformer_encoder": ("specs/transformer_encoder.seqnet", ["steps=150"]),
    "mlp_digits": ("specs/mlp_digits.seqnet", ["steps=300"]),
}
QUICK = {"mlp_digits": ("specs/mlp_digits.seqnet", ["steps=20"])}


def run(spec: str, sets: list[str], hugetlb: int, cache: str, out: str) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SEQNET_JAX_CACHE": cache,
           "GLIBC_TUNABLES": f"glibc.malloc.hugetlb={hugetlb}"}  # fmt: skip
    argv = [sys.executable, "-m", "seqnet", "train", spec, "--out", out, "--overwrite", "--no-progress"]
    for s in sets:
        argv += ["--set", s]
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f"`{' '.join(argv)}` failed ({proc.returncode}):\n{err.decode(errors='replace')}")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "sys": usage.ru_stime,
            "faults": usage.ru_minflt, "rss_mb": usage.ru_maxrss / 1024}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--case", action="append", choices=sorted(CASES), help="only these (repeatable)")
    ap.add_argument("--quick", action="store_true", help="one small case, one repeat")
    args = ap.parse_args()
    cases, repeats = (QUICK, 1) if args.quick else (CASES, args.repeats)
    if args.case:
        cases = {name: CASES[name] for name in args.case}
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"{' '.join(c_library()) or 'no glibc'}, THP mode: {thp_mode() or 'unknown'}")  # fmt: skip
    print(f"{'case':<24} {'side':<8} {'wall s':>7} {'CPU s':>7} {'sys s':>6} {'faults':>9} {'RSS MB':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        cache, out = f"{tmp}/cache", f"{tmp}/run"
        for name, (spec, sets) in cases.items():
            run(spec, sets, 1, cache, out)  # fills the compilation cache for both sides
            sides: dict[int, list[dict[str, float]]] = {0: [], 1: []}
            for _ in range(repeats):
                for hugetlb in (0, 1):
                    sides[hugetlb].append(run(spec, sets, hugetlb, cache, out))
            med = {h: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for h, rs in sides.items()}
            for h, label in ((0, "4 KiB"), (1, "huge")):
                m = med[h]
                print(f"{name:<24} {label:<8} {m['wall']:7.2f} {m['cpu']:7.2f} {m['sys']:6.2f} "
                      f"{m['faults']:9.0f} {m['rss_mb']:7.0f}")  # fmt: skip
            ratio = {k: med[1][k] / med[0][k] if med[0][k] else float("nan") for k in med[0]}
            print(f"{name:<24} {'ratio':<8} {ratio['wall']:7.2f} {ratio['cpu']:7.2f} {ratio['sys']:6.2f} "
                  f"{ratio['faults']:9.3f} {ratio['rss_mb']:7.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
