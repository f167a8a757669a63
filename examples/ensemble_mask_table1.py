"""Ensemble Mask Networks (Luntzel): Table 1, trained by `mode = mask_merge` (Algorithm 1).

    PYTHONPATH=. python examples/ensemble_mask_table1.py                 # n = 5, 10, 20
    PYTHONPATH=. python examples/ensemble_mask_table1.py --n 5 10 20 40
    PYTHONPATH=. python examples/ensemble_mask_table1.py --quick         # n = 5, short
    PYTHONPATH=. python examples/ensemble_mask_table1.py --sweep         # the paper's full sweep
    PYTHONPATH=. python examples/ensemble_mask_table1.py --x64           # dtype = float64

A thin caller: every cell is `seqnet train specs/ensemble_mask.seqnet --set N=n --set
condition=... --set epochs=... --set meta_epochs=...` through the Python API, one run folder
each (metrics.jsonl, curves.png, checkpoints) under --out. Algorithm 1, its settings and the
test set are the spec's and the mode's (seqnet/compiler/modes/mask_merge.py): architecture (1),
|d| = round(36 n^1.3), k = 8n vectors in [0, 1]^n per matrix, minibatches of k/4, SGD lr 0.1,
test on 2000 unsymmetric continuous A at sparsity 0.5 (the eval split). (epochs, meta-epochs):
the pair Table 1 reports for the cell; --sweep runs the paper's 15 pairs and reports the minimum,
which is what Table 1 reports.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SPEC = ROOT / "specs" / "ensemble_mask.seqnet"
CONDITIONS = ("control", "shuffled", "subsampled")
# Table 1: n -> condition -> (test MSE, (epochs, meta-epochs))
PAPER = {
    5: {"control": (6.36e-14, (1, 16)), "shuffled": (5.32e-14, (3, 16)),
        "subsampled": (0.045, (1, 8))},
    10: {"control": (1.56e-13, (1, 16)), "shuffled": (1.51e-13, (3, 16)),
         "subsampled": (0.052, (2, 8))},
    20: {"control": (4.77e-13, (3, 16)), "shuffled": (1.95e-13, (3, 8)),
         "subsampled": (0.046, (2, 16))},
    40: {"control": (2.065e-12, (2, 8)), "shuffled": (1.98e-12, (1, 8)),
         "subsampled": (0.055, (2, 4))},
    100: {"control": (1.51e-11, (3, 16)), "shuffled": (1.61e-11, (3, 16)),
          "subsampled": (0.16, (2, 1))},
}  # fmt: skip
DEFAULT_PAIR = {"control": (3, 16), "shuffled": (3, 16), "subsampled": (2, 8)}
SWEEP = [(e, m) for e in (1, 2, 3) for m in (1, 2, 4, 8, 16)]


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, nargs="+", default=[5, 10, 20])
    ap.add_argument("--conditions", nargs="+", choices=CONDITIONS, default=list(CONDITIONS))
    ap.add_argument("--quick", action="store_true",
                    help="n = 5, |d| / 4, (epochs, meta-epochs) = (1, 2), 250 test matrices")
    ap.add_argument("--sweep", action="store_true", help="min over the paper's 15 (epochs, meta) pairs")
    ap.add_argument("--epochs", type=int, help="override epochs for every run")
    ap.add_argument("--meta-epochs", type=int, help="override meta-epochs for every run")
    ap.add_argument("--x64", action="store_true", help="dtype = float64 (parameters and compute)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", help="where the run folders go (default: a temporary folder)")
    return ap.parse_args(argv)  # fmt: skip


def run_cell(n, cond, epochs, metas, args, out: Path) -> float:
    """One Table 1 cell: the spec trained with these settings; its eval mse."""
    import seqnet
    from seqnet.data.matrix_sets import default_size

    settings = {"condition": cond, "epochs": epochs, "meta_epochs": metas, "seed": args.seed,
                "dtype": "float64" if args.x64 else "float32"}  # fmt: skip
    if args.quick:
        settings.update(matrices=default_size(n) // 4, eval_batches=1)
    model = seqnet.load(SPEC, N=n)
    folder = out / f"n{n}_{cond}_e{epochs}_m{metas}{'_f64' if args.x64 else ''}"
    result = model.train(out=folder, progress=False, overwrite=True, **settings)
    return result.metrics["mse"]


def main(argv=None) -> int:
    args = parse_args(argv)
    from seqnet.data.matrix_sets import default_size

    ns = [5] if args.quick else args.n
    print(f"precision {'float64' if args.x64 else 'float32'}; specs/ensemble_mask.seqnet, mode = mask_merge; "
          "test: the eval split (unsymmetric A in [0,1] at sparsity 0.5, x in [0,1])")  # fmt: skip
    header = (f"{'n':>4} {'|d|':>6} {'condition':<11} {'(ep,meta)':>9} {'test MSE':>10} "
              f"{'paper':>9} {'paper (ep,meta)':>15} {'time s':>7}")  # fmt: skip
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.out) if args.out else Path(tmp)
        for n in ns:
            size = default_size(n) // 4 if args.quick else default_size(n)
            for cond in args.conditions:
                paper_mse, paper_pair = PAPER.get(n, {}).get(cond, (None, None))
                pairs = [(1, 2)] if args.quick else SWEEP if args.sweep else [paper_pair or DEFAULT_PAIR[cond]]
                pairs = [(args.epochs or e, args.meta_epochs or m) for e, m in pairs]
                t0 = time.perf_counter()
                mse, (e, m) = min((run_cell(n, cond, e, m, args, out), (e, m)) for e, m in pairs)
                dt = time.perf_counter() - t0
                ps = f"{paper_mse:9.3g}" if paper_mse is not None else f"{'-':>9}"
                pp = f"({paper_pair[0]},{paper_pair[1]})" if paper_pair else "-"
                print(f"{n:>4} {size:>6} {cond:<11} {f'({e},{m})':>9} {mse:10.3g} {ps} {pp:>15} {dt:7.1f}",
                      flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
