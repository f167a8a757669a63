"""seqnet's main job, end to end: compile a shipped spec, train it on built-in data, evaluate it,
and draw its diagram. Run with `make demo` (or `python examples/demo.py [SPEC] [--steps N]`)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("spec", nargs="?", default=str(ROOT / "specs" / "mlp_digits.seqnet"))
    parser.add_argument("--steps", type=int, default=None, help="override the spec's train steps")
    parser.add_argument("--out", default=None, help="output folder (default runs/<spec name>)")
    args = parser.parse_args()

    import seqnet
    from seqnet.backends.graphviz import DotMissing
    from seqnet.backends.jax.train import evaluate

    spec = Path(args.spec)
    overrides = {"steps": args.steps} if args.steps else {}
    t0 = time.perf_counter()
    try:
        model = seqnet.load(spec, **overrides)
    except seqnet.SpecError as e:
        print(e.render(), file=sys.stderr)
        return 1
    print(f"compiled {spec.name} in {time.perf_counter() - t0:.2f} s\n")
    print(model.summary(), "\n")

    out = Path(args.out or ROOT / "runs" / spec.stem)
    result = model.train(out=out, overwrite=True)  # the demo replaces its own earlier run
    metrics = evaluate(model, out)
    print("\nevaluation:", ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()))

    diagrams = []
    for suffix in (".svg", ".png"):
        try:
            diagrams.append(model.render(out / f"{spec.stem}{suffix}"))
        except DotMissing as e:
            print(f"note: {e}")
            diagrams.append(out / f"{spec.stem}.dot")
            break
    print("\nwrote:")
    for path in [*diagrams, result.plot_path, result.metrics_path, result.checkpoint]:
        print(f"  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
