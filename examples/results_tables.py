"""Rebuild a docs/results.md table from a sweep's results.jsonl (no training here).

    PYTHONPATH=. python examples/results_tables.py table1 sweeps/table1/results.jsonl

table1: the ensemble mask network's Table 1 (section 5), from
    seqnet sweep specs/ensemble_mask.seqnet --points docs/sweeps/ensemble_mask_table1.jsonl ...
one row per (N, condition, epochs, meta-epochs), the float32 and float64 eval mse side by side
(mean over the seeds that finished, with the spread when there are several), Table 1's value.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "examples"))


def _cell(values: list[float]) -> str:
    if not values:
        return "-"
    mean = sum(values) / len(values)
    if len(values) < 2:
        return f"{mean:.2g}"
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
    return f"{mean:.2g} ± {sd:.1g} ({len(values)} seeds)"


def table1(records: list[dict]) -> str:
    from ensemble_mask_table1 import PAPER

    cells: dict[tuple, dict[str, list[float]]] = {}
    walls: dict[tuple, float] = {}
    for r in records:
        s = r["settings"]
        key = (int(s["N"]), s["condition"], int(s["epochs"]), int(s["meta_epochs"]))
        dtype = s.get("dtype", "float32")
        if r["status"] == "ok":
            cells.setdefault(key, {}).setdefault(dtype, []).append(r["metrics"]["mse"])
            if dtype == "float32":
                walls[key] = walls.get(key, 0.0) + r["wall_s"]
    lines = ["| n | condition | (ep, meta) | test MSE float32 | test MSE float64 | paper (Table 1) | wall s f32 |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    for key in sorted(cells, key=lambda k: (k[0], ("control", "shuffled", "subsampled").index(k[1]))):
        n, cond, e, m = key
        paper = PAPER.get(n, {}).get(cond, (None,))[0]
        lines.append(f"| {n} | {cond} | ({e},{m}) | {_cell(cells[key].get('float32', []))} | "
                     f"{_cell(cells[key].get('float64', []))} | {paper if paper is not None else '-'} | "
                     f"{walls.get(key, 0):.0f} |")  # fmt: skip
    return "\n".join(lines)


TABLES = {"table1": table1}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("table", choices=sorted(TABLES))
    ap.add_argument("results", help="a sweep's results.jsonl")
    args = ap.parse_args(argv)
    records = [json.loads(line) for line in Path(args.results).read_text().splitlines() if line.strip()]
    print(TABLES[args.table](records))
    return 0


if __name__ == "__main__":
    sys.exit(main())
