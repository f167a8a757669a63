"""examples/results_tables.py rebuilds docs/results.md's Table 1 from a sweep's results.jsonl:
one row per cell, float32 and float64 side by side, the spread over seeds, failed runs left out."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _record(n, cond, dtype, mse, seed=0, status="ok"):
    settings = {"N": str(n), "condition": cond, "epochs": "1", "meta_epochs": "16", "dtype": dtype}
    return {"point": json.dumps(settings), "settings": settings, "seed": seed, "status": status,
            "metrics": {"mse": mse} if status == "ok" else {}, "wall_s": 10.0}  # fmt: skip


def test_table1_rows_from_a_sweeps_results(tmp_path):
    records = [_record(5, "control", "float32", 4e-14), _record(5, "control", "float32", 2e-14, seed=1),
               _record(5, "control", "float64", 1e-31), _record(5, "shuffled", "float32", 0.0, status="failed")]  # fmt: skip
    path = tmp_path / "results.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "results_tables.py"), "table1", str(path)],
                         capture_output=True, text=True, check=True).stdout.splitlines()  # fmt: skip
    assert out[0].startswith("| n | condition | (ep, meta) | test MSE float32 | test MSE float64 |")
    assert out[2].split(" | ")[:5] == ["| 5", "control", "(1,16)", "3e-14 ± 1e-14 (2 seeds)", "1e-31"]
    assert "6.36e-14" in out[2] and out[2].endswith("| 20 |")  # Table 1's value; both seeds' wall s
    assert len(out) == 3  # the failed shuffled run has no row
