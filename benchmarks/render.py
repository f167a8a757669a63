"""Diagram rendering speed: DOT and SVG for generated specs of ~100, 1,000 and 10,000 IR nodes.

    PYTHONPATH=. python benchmarks/render.py [--sizes 100,1000,10000] [--skip-full-svg-above 3000]

Each spec is a chain of `repeat 4 { blk(h) }` statements (a block of 3 ops), so the IR has about
12 nodes per statement; the diagram draws copy 0 of each repeat (a quarter of the nodes) unless
depth= collapses them. Times are wall-clock seconds; "per node" divides by the IR node count;
"x compile" is render time over the compile time of the same spec in the same run.
"""

from __future__ import annotations

import argparse
import shutil
import time

import seqnet
from seqnet.backends.graphviz import to_dot, to_svg

BLOCK = """\
block blk(x) {
  h = dense(x, 16, act=relu)
  return layernorm(h + x)
}
"""


def spec(nodes: int) -> str:
    statements = max(1, (nodes - 2) // 12)
    lines = ["dim T = 8", "input x : float32[T, 16]", BLOCK, "h = dense(x, 16)"]
    lines += ["h = repeat 4 { blk(h) }"] * statements
    lines.append("output y : float32[T, 16] = h")
    return "\n".join(lines) + "\n"


def timed(fn, *args, **kw):
    t0 = time.perf_counter()
    out = fn(*args, **kw)
    return time.perf_counter() - t0, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100,1000,10000")
    ap.add_argument(
        "--skip-full-svg-above",
        type=int,
        default=1_000_000,
        help="skip the uncollapsed SVG for IR sizes above this (dot is slow there)",
    )
    args = ap.parse_args()
    have_dot = shutil.which("dot") is not None
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        text = spec(size)
        t_compile, m = timed(seqnet.loads, text, name=f"bench{size}.sqn")
        n = m.graph.number_of_nodes()
        for depth in (None, 1, 0):
            t_dot, dot = timed(to_dot, m.graph, depth=depth)
            drawn = dot.count(" [id=")
            t_svg = None
            if have_dot and not (depth is None and n > args.skip_full_svg_above):
                t_svg, _ = timed(to_svg, m.graph, depth=depth)
            rows.append((n, "full" if depth is None else f"depth={depth}", drawn, t_compile,
                         t_dot, t_svg))  # fmt: skip
            print_row(rows[-1], header=len(rows) == 1)


def print_row(r, header=False) -> None:
    if header:
        print(f"{'IR nodes':>8} {'view':>8} {'drawn':>6} {'compile s':>9} {'dot s':>7} "
              f"{'dot us/node':>11} {'dot x compile':>13} {'svg s':>7} {'svg us/node':>11} "
              f"{'svg x compile':>13}")  # fmt: skip
    n, view, drawn, tc, td, ts = r
    svg = (f"{ts:7.2f} {ts / n * 1e6:11.1f} {ts / tc:13.2f}" if ts is not None
           else f"{'-':>7} {'-':>11} {'-':>13}")  # fmt: skip
    print(f"{n:8d} {view:>8} {drawn:6d} {tc:9.2f} {td:7.3f} {td / n * 1e6:11.1f} "
          f"{td / tc:13.3f} {svg}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
