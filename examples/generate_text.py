"""Text generation with a recurrent spec: train specs/gru_text.seqnet (a character-level GRU on
Python's own standard-library source), then sample one character at a time and feed it back.

    python examples/generate_text.py                 # train (the spec's steps), then sample
    python examples/generate_text.py --steps 200 --length 300 --temperature 0.8 --prompt "def "

The spec is many-to-many over a window of T characters; `model.generate` feeds the prompt, then
draws one character at a time from the output at the newest position and feeds it back, carrying
the GRU's state from step to step (the same as `seqnet generate specs/gru_text.seqnet
--checkpoint runs/gru_text --prompt "def "`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def sample(model, params, prompt: str, length: int, temperature: float, seed: int) -> str:
    """The prompt and `length` sampled characters (model.generate: cached, see docs/generate.md)."""
    return model.generate(params, prompt, length, temperature=temperature, seed=seed)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spec", default=str(ROOT / "specs" / "gru_text.seqnet"))
    parser.add_argument("--steps", type=int, default=None, help="training steps (default: the spec's)")
    parser.add_argument("--out", default=str(ROOT / "runs" / "gru_text"))
    parser.add_argument("--prompt", default="def ")
    parser.add_argument("--length", type=int, default=400)
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import seqnet

    overrides = {"steps": args.steps} if args.steps else {}
    try:
        model = seqnet.load(args.spec, **overrides)
    except seqnet.SpecError as e:
        print(e.render(), file=sys.stderr)
        return 1
    if "x" not in model.inputs or model.train_config is None or model.train_config.data.name != "text":
        print(f"{args.spec}: needs an input x trained on text(...) data", file=sys.stderr)
        return 1
    result = model.train(out=args.out, overwrite=True)  # this example replaces its own earlier run
    print(f"\ntrained {result.step} steps; eval: "
          + ", ".join(f"{k} {v:.3f}" for k, v in result.metrics.items()))  # fmt: skip
    text = sample(model, result.params, args.prompt, args.length, args.temperature, args.seed)
    print(f"\n--- {args.length} sampled characters (temperature {args.temperature}) ---\n{text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
