"""Smoke test: examples/ensemble_mask_table1.py --quick runs and prints its table."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ensemble_mask_table1_quick():
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "ensemble_mask_table1.py"), "--quick"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    header = [
        line for line in proc.stdout.splitlines() if line.split()[:3] == ["n", "|d|", "condition"]
    ]
    assert header and "test MSE" in header[0] and "paper" in header[0], proc.stdout
    rows = [line.split() for line in proc.stdout.splitlines() if line.split()[:1] == ["5"]]
    assert [r[2] for r in rows] == ["control", "shuffled", "subsampled"], proc.stdout
