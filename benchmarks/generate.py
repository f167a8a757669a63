"""Generation speed: tokens per second with the cache (one incremental step of every layer per
token: recurrent state, KV cache) and without it (the whole window re-run per token), same run.

Two autoregressive specs with random weights: the character GRU (specs/gru_text.seqnet) and a
pre-norm causal transformer. Each way generates the same tokens (checked); both are compiled
before timing, and the rounds alternate so that load on the machine hits both alike. Usage:
python benchmarks/generate.py [--window 256] [--tokens 200] [--rounds 3] [--quick].
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import jax

import seqnet
from seqnet.backends.jax.generate import generate_ids

ROOT = Path(__file__).resolve().parent.parent

TRANSFORMER = """\
dim T = {window}
dim V = 97
dim E = {width}
input x : int32[T] vocab V
h = positional(embed(x, E), kind="learned")
h = repeat {layers} {{
  h = h + attention(layernorm(h), heads=4, causal=true)
  h + dense(gelu(dense(layernorm(h), 4 * E)), E)
}}
output y : float32[T, V] = dense(layernorm(h), V)
"""


def models(window: int, quick: bool):
    width, layers, hidden = (32, 2, 32) if quick else (128, 4, 256)
    yield f"gru H={hidden}", seqnet.load(ROOT / "specs" / "gru_text.seqnet", T=window, H=hidden)
    spec = TRANSFORMER.format(window=window, width=width, layers=layers)
    yield f"transformer {layers}x{width}", seqnet.loads(spec)


def tokens_per_second(model, params, tokens: int, cache: bool) -> tuple[float, list[int]]:
    t0 = time.perf_counter()
    out = generate_ids(model, params, [1], tokens, seed=0, cache=cache)
    return tokens / (time.perf_counter() - t0), out.new


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--window", type=int, default=256, help="T, the context window")
    p.add_argument("--tokens", type=int, default=200, help="tokens per timed run (< window)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--quick", action="store_true", help="tiny sizes (a smoke test)")
    args = p.parse_args()
    window = 32 if args.quick else args.window
    tokens = min(args.tokens, window - 1)
    rounds = 1 if args.quick else args.rounds
    print(f"{jax.devices()[0].platform}; window {window}, {tokens} tokens per run, "
          f"{rounds} rounds (median)")  # fmt: skip
    for name, model in models(window, args.quick):
        params = model.init(jax.random.key(0))
        for cache in (True, False):  # compile both before timing
            generate_ids(model, params, [1], 2, cache=cache)
        rates: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(rounds):
            for cache in (True, False):
                rate, new = tokens_per_second(model, params, tokens, cache)
                rates[cache].append(rate)
                if cache:
                    reference = new
                elif new != reference:
                    raise SystemExit(f"{name}: cached and uncached generation differ")
        cached, uncached = (statistics.median(rates[c]) for c in (True, False))
        print(f"{name}: cached {cached:.0f} tok/s, uncached {uncached:.0f} tok/s, "
              f"ratio cached/uncached {cached / uncached:.1f}x")  # fmt: skip


if __name__ == "__main__":
    main()
