"""Front-end scaling: parse -> validated graph for generated specs of 100, 1,000 and 10,000 nodes.

    PYTHONPATH=. python benchmarks/frontend.py [--profile N] [--junk-mb MB]

Prints the median of 5 runs (after one warm-up), time per node and the growth ratio per 10x.
--junk-mb times instead how long `seqnet check` takes to reject MB of random printable text (the
hostile-input case that tests/test_cli.py checks for capped diagnostics, without timing it).
"""

from __future__ import annotations

import argparse
import random
import statistics
import string
import tempfile
import time
from pathlib import Path

from seqnet.pipeline import compile_source
from seqnet.source import SourceFile

HEADER = """\
dim W = 32

block resid(x, hidden) {
  h = dense(layernorm(x), hidden, act=relu)
  return x + dense(h, size(x))
}

input x : float32[W]
h = dense(x, W)
"""
# one unit = 3 + 5 (block) = 8 nodes: dense, layernorm, add + resid(layernorm, dense, dense, add)
UNIT = "h = h + layernorm(dense(h, W, act=tanh))\nh = resid(h, hidden=2 * W)\n"
NODES_PER_UNIT = 8


def make_spec(nodes: int) -> str:
    units = max(1, (nodes - 3) // NODES_PER_UNIT)
    return HEADER + UNIT * units + "output y : float32[W] = dense(h, W)\n"


def compile_once(text: str):
    graph, diags = compile_source(SourceFile("bench.seqnet", text))
    assert graph is not None, [d.render() for d in diags]
    return graph


def bench(nodes: int, repeats: int = 5):
    text = make_spec(nodes)
    graph = compile_once(text)  # warm-up (also the lark parser build)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        compile_once(text)
        times.append(time.perf_counter() - t)
    return graph.number_of_nodes(), text.count("\n"), statistics.median(times)


def bench_junk(megabytes: float, repeats: int = 3) -> None:
    """Median wall time of `seqnet check` (in-process, output discarded) on random text."""
    import contextlib
    import io

    from seqnet import cli

    rng = random.Random(1)
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "big.seqnet"
        big.write_text("".join(rng.choices(string.printable, k=int(megabytes * 2**20))))
        times = []
        for _ in range(repeats):
            sink = io.StringIO()
            t = time.perf_counter()
            with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
                rc = cli.main(["check", str(big)])
            times.append(time.perf_counter() - t)
            assert rc == 1, "random text should be rejected"
    print(f"check on {megabytes:g} MB of random text: median {statistics.median(times):.2f} s "
          f"over {repeats} runs (rejected, {len(sink.getvalue()):,} chars of diagnostics)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--profile", type=int, default=None, metavar="NODES", help="cProfile one size")
    ap.add_argument("--sizes", type=int, nargs="*", default=[100, 1_000, 10_000])
    ap.add_argument("--junk-mb", type=float, default=None, metavar="MB",
                    help="time rejecting MB of random text instead")
    args = ap.parse_args()
    if args.junk_mb:
        bench_junk(args.junk_mb)
        return
    if args.profile:
        import cProfile
        import pstats

        text = make_spec(args.profile)
        compile_once(text)
        prof = cProfile.Profile()
        prof.enable()
        compile_once(text)
        prof.disable()
        pstats.Stats(prof).sort_stats("cumulative").print_stats(25)
        pstats.Stats(prof).sort_stats("tottime").print_stats(15)
        return
    print(f"{'target':>8} {'nodes':>7} {'lines':>6} {'median s':>9} {'us/node':>8} {'x per 10x':>9}")
    prev = None
    for size in args.sizes:
        nodes, lines, t = bench(size)
        ratio = f"{t / prev:.1f}" if prev else "-"
        print(f"{size:>8} {nodes:>7} {lines:>6} {t:>9.4f} {t / nodes * 1e6:>8.1f} {ratio:>9}")
        prev = t


if __name__ == "__main__":
    main()
