"""XLA compile time of deep repeat stacks: one lax.scan against unrolled copies, same run.

For a pre-norm transformer encoder of L layers (`h = repeat L { encoder_block(h, E) }`), times
trace + compile of the jitted value-and-grad step with `scan_repeats=True` and `False`, and the
steady-state step time of each, and prints the ratios. Usage: python benchmarks/compile.py
[--layers 4 12 24] [--quick].
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import seqnet
from seqnet.backends.jax.lower import lower

ROOT = Path(__file__).resolve().parent.parent

SPEC = """import "lib/layers.seqnet"
dim N = 32
dim E = 64
input x : int32[N] vocab 10
h = positional(embed(x, E))
h = repeat {layers} {{ encoder_block(h, E, heads=4) }}
output y : float32[10] = dense(mean(h), 10)
"""


def measure(graph, scan: bool, x, repeats: int) -> tuple[float, float]:
    lowered = lower(graph, scan_repeats=2 if scan else 0)
    params = lowered.init(jax.random.key(0))
    step = jax.jit(jax.value_and_grad(lambda p: jnp.sum(lowered.apply(p, {"x": x})["y"] ** 2)))
    t0 = time.perf_counter()
    compiled = step.lower(params).compile()
    compile_s = time.perf_counter() - t0
    jax.block_until_ready(compiled(params))
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(compiled(params))
        times.append(time.perf_counter() - t0)
    return compile_s, statistics.median(times) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--layers", type=int, nargs="+", default=[4, 12, 24])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="2 and 4 layers, 3 repeats")
    args = parser.parse_args()
    layers = [2, 4] if args.quick else args.layers
    repeats = 3 if args.quick else args.repeats
    x = jnp.asarray(np.random.default_rng(0).integers(0, 10, (16, 32)), jnp.int32)
    print(f"jax {jax.__version__}, {jax.devices()[0].platform}; batch 16, N 32, E 64, 4 heads; "
          f"compile = trace + XLA; step = median of {repeats}")  # fmt: skip
    print(f"{'layers':>6} {'scan compile s':>15} {'unrolled s':>11} {'ratio':>6} "
          f"{'scan step ms':>13} {'unrolled ms':>12} {'ratio':>6}")  # fmt: skip
    for n in layers:
        path = ROOT / "specs" / f".compile_bench_{n}.seqnet"
        path.write_text(SPEC.format(layers=n))
        try:
            graph = seqnet.load(path).graph
        finally:
            path.unlink()
        if n == layers[0]:
            measure(graph, True, x, 1)  # warm-up: the first compile of a process pays extra
        sc, ss = measure(graph, True, x, repeats)
        uc, us = measure(graph, False, x, repeats)
        print(f"{n:>6} {sc:>15.2f} {uc:>11.2f} {sc / uc:>6.2f} {ss:>13.1f} {us:>12.1f} {ss / us:>6.2f}")
    print("ratio = scan / unrolled (below 1: scan is faster)")


if __name__ == "__main__":
    main()
