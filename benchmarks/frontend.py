"""Front-end scaling: parse -> validated graph for generated specs of 100, 1,000 and 10,000 nodes.

    PYTHONPATH=. python benchmarks/frontend.py [--profile N] [--junk-mb MB] [--process RUNS]

Prints the median of 5 runs (after one warm-up), time per node, the ratio against the same
compile with Python's cyclic collector running (as it did before the pipeline paused it;
interleaved in the same run) and the growth ratio per 10x;
then text -> AST of the largest size (and the tree -> AST walk against the previous walk, in the
same run), the whole-process `seqnet check` of a small spec (median CPU and wall time against `python -c
pass` in the same run) with Lark's tables rebuilt (no cache) and read from the cache, and with
the process run as before (Python's collector on, the interpreter's teardown), and of one without a train section against the same run
with the train modules imported eagerly (the previous behaviour), and specs misspelt in every statement (each error searches the scope for a
'did you mean'), 1,000 against 4,000 statements. --quick skips the last two.
--junk-mb times instead how long `seqnet check` takes to reject MB of random printable text (the
hostile-input case that tests/test_cli.py checks for capped diagnostics, without timing it).
"""

from __future__ import annotations

import argparse
import contextlib
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
    """Median wall time of parse -> validated graph, and the same with Python's cyclic collector
    left running through it (the previous behaviour, before pipeline.collector_paused),
    interleaved in the same run."""
    from seqnet import pipeline

    text = make_spec(nodes)
    graph = compile_once(text)  # warm-up (also the lark parser build)
    paused = pipeline.collector_paused
    times, running = [], []
    try:
        for _ in range(repeats):
            for out, pause in ((times, paused), (running, contextlib.nullcontext)):
                pipeline.collector_paused = pause
                t = time.perf_counter()
                compile_once(text)
                out.append(time.perf_counter() - t)
    finally:
        pipeline.collector_paused = paused
    return graph.number_of_nodes(), text.count("\n"), statistics.median(times), statistics.median(running)


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


NO_TRAIN = """dim H = 128
input x : float32[64]
h = dense(x, H, act=relu)
h = dense(h, H, act=relu)
output y : float32[10] = dense(h, 10)
"""
# The previous behaviours, for ratios in the same run. EAGER: the train section's modules
# (pydantic) imported whether or not the spec has a train section. IN_PROCESS: main() given its
# arguments, as an in-process caller does, so the process runs as every check did before a check
# run as the program became a one-check process (seqnet/collector.py): Python's collector on
# through the imports, the rescan when the pipeline turns it back on, the interpreter's teardown,
# pydantic's plugin search.
EAGER = "import sys, seqnet.compiler.train; from seqnet.cli import main; sys.exit(main(sys.argv[1:]))"
IN_PROCESS = "import sys; from seqnet.cli import main; sys.exit(main(sys.argv[1:]))"


def bench_check_process(repeats: int = 15) -> None:
    """Median (and best) CPU and wall time of `python -m seqnet check` as a whole process, the
    rows interleaved run by run, against `python -c pass` in the same run (the interpreter's own
    start): on specs/mlp_digits.seqnet (it has a train section) with the parser cache off and on
    and run as before it was a one-check process, and on the same network without a train section
    against the train modules imported eagerly (as before they were imported lazily).
    Bytecode goes to a temporary PYTHONPYCACHEPREFIX, written by the warm-up run, so imports
    read .pyc files as an installed package does (PYTHONDONTWRITEBYTECODE would recompile every
    seqnet module in every run)."""
    import os
    import resource
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    check = [sys.executable, "-m", "seqnet", "check"]
    with tempfile.TemporaryDirectory() as tmp:
        cache, pycache = Path(tmp, "tables"), Path(tmp, "pycache")
        plain = Path(tmp, "no_train.seqnet")
        plain.write_text(NO_TRAIN)
        mlp = str(root / "specs" / "mlp_digits.seqnet")
        runs = (
            ("python -c pass", [sys.executable, "-c", "pass"], ""),
            ("check, no cache", [*check, mlp], ""),
            ("check", [*check, mlp], str(cache)),
            ("check, as before", [sys.executable, "-c", IN_PROCESS, "check", mlp], str(cache)),
            ("no train, eager", [sys.executable, "-c", EAGER, "check", str(plain)], str(cache)),
            ("no train", [*check, str(plain)], str(cache)),
        )
        envs = {}
        for label, cmd, env_cache in runs:
            env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
            env.update(PYTHONPATH=str(root), SEQNET_CACHE_DIR=env_cache, PYTHONPYCACHEPREFIX=str(pycache))
            envs[label] = env
            subprocess.run(cmd, env=env, capture_output=True, check=True)  # warm the OS and caches
        walls = {label: [] for label, _, _ in runs}
        cpus = {label: [] for label, _, _ in runs}
        for _ in range(repeats):
            for label, cmd, _ in runs:
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                t = time.perf_counter()
                subprocess.run(cmd, env=envs[label], capture_output=True, check=True)
                walls[label].append(time.perf_counter() - t)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpus[label].append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    med = {k: (statistics.median(walls[k]), statistics.median(cpus[k])) for k in walls}
    w0, c0 = med["python -c pass"]
    print(f"whole-process `seqnet check`, median of {repeats} interleaved runs (best in brackets):")
    for label in walls:
        w, c = med[label]
        net = "" if label == "python -c pass" else f"; over python -c pass: cpu +{c - c0:.3f} s, wall +{w - w0:.3f} s"
        print(f"{label:>17}: cpu {c:.3f} s ({min(cpus[label]):.3f}), wall {w:.3f} s ({min(walls[label]):.3f}){net}")
    for label, slow, fast in (("cache", "check, no cache", "check"), ("one-check process", "check, as before", "check"),
                              ("lazy train", "no train, eager", "no train")):  # fmt: skip
        (w0, c0), (w1, c1) = med[slow], med[fast]
        print(f"{label:>17}: x{c1 / c0:.2f} cpu, x{w1 / w0:.2f} wall")


def bench_parse(nodes: int, repeats: int = 5) -> None:
    """Text -> AST of a generated spec (parse()), and the parse tree -> AST walk alone against
    the same walk with Lark's own callback lookup (the walk before it cached its callbacks),
    interleaved in one run."""
    from lark import Transformer

    from seqnet.grammar.parser import parse, parse_tree
    from seqnet.grammar.to_ast import ToAst

    class StockLookup(ToAst):  # the previous walk: Lark looks each callback up per node
        _call_userfunc = Transformer._call_userfunc
        _call_userfunc_token = Transformer._call_userfunc_token

    source = SourceFile("bench.seqnet", make_spec(nodes))
    tree = parse_tree(source).tree
    times = {"parse": [], "walk": [], "stock": []}
    for _ in range(repeats):
        for key, run in (("parse", lambda: parse(source)), ("walk", lambda: ToAst(source).transform(tree)),
                         ("stock", lambda: StockLookup(source).transform(tree))):  # fmt: skip
            t = time.perf_counter()
            run()
            times[key].append(time.perf_counter() - t)
    best = {k: min(v) for k, v in times.items()}
    size = len(source.text)
    print(f"parse -> AST, {nodes:,} nodes ({size:,} bytes): {best['parse']:.3f} s, "
          f"{best['parse'] / size * 1e6:.1f} us/byte; tree -> AST walk {best['walk']:.3f} s, "
          f"x{best['walk'] / best['stock']:.2f} of the walk with Lark's lookup ({best['stock']:.3f} s)")


def misspelt_spec(n: int) -> str:
    lines = ["input x : float32[4]", "h0 = dense(x, 4)"]
    lines += [f"h{i} = dense(hh{i - 1}, 4)" for i in range(1, n)]
    return "\n".join([*lines, f"output y : float32[4] = dense(h{n - 1}, 4)"]) + "\n"


def bench_misspelt(sizes=(1_000, 4_000)) -> None:
    """Specs with an unknown (misspelt) name in every statement: one 'did you mean' each."""
    prev = None
    for n in sizes:
        t = time.perf_counter()
        graph, diags = compile_source(SourceFile("misspelt.seqnet", misspelt_spec(n)))
        t = time.perf_counter() - t
        assert graph is None and len(diags) == n - 1
        ratio = f", x{t / prev[1] * prev[0] / n:.2f} per statement vs {prev[0]:,}" if prev else ""
        print(f"{n:>6,} misspelt statements: {t:.2f} s, {t / n * 1e3:.2f} ms each{ratio}")
        prev = (n, t)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--profile", type=int, default=None, metavar="NODES", help="cProfile one size")
    ap.add_argument("--sizes", type=int, nargs="*", default=[100, 1_000, 10_000])
    ap.add_argument("--quick", action="store_true", help="the node scaling only")
    ap.add_argument("--junk-mb", type=float, default=None, metavar="MB",
                    help="time rejecting MB of random text instead")
    ap.add_argument("--process", type=int, default=None, metavar="RUNS",
                    help="only the whole-process `seqnet check` rows, RUNS runs each")
    args = ap.parse_args()
    if args.process:
        bench_check_process(args.process)
        return
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
    print(f"{'target':>8} {'nodes':>7} {'lines':>6} {'median s':>9} {'us/node':>8} {'vs gc on':>8} "
          f"{'x per 10x':>9}")  # fmt: skip
    prev = None
    for size in args.sizes:
        nodes, lines, t, t_gc = bench(size)
        ratio = f"{t / prev:.1f}" if prev else "-"
        print(f"{size:>8} {nodes:>7} {lines:>6} {t:>9.4f} {t / nodes * 1e6:>8.1f} {t / t_gc:>7.2f}x "
              f"{ratio:>9}")  # fmt: skip
        prev = t
    if not args.quick:
        print()
        bench_parse(max(args.sizes))
        print()
        bench_check_process()
        print()
        bench_misspelt()


if __name__ == "__main__":
    main()
