"""Smoke tests: the examples' --quick modes run and print their tables."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import warm
from hang_guard import HANG_GUARD_S

ROOT = Path(__file__).resolve().parents[1]


def run_example(name: str, *extra: str) -> subprocess.CompletedProcess:
    """`python examples/NAME --quick` on the CPU, in a warm child (warm.py: a fresh interpreter
    only adds the imports); fails the test with its stderr if it fails. The timeout only guards
    against a hang; how long --quick takes is not checked."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu"}
    rc, out, err = warm.run_script(ROOT / "examples" / name, ["--quick", *extra], env=env, cwd=ROOT,
                                   timeout=HANG_GUARD_S)  # fmt: skip
    assert rc == 0, err[-2000:]
    return subprocess.CompletedProcess([name, "--quick"], rc, out, err)


def test_ensemble_mask_table1_quick():
    proc = run_example("ensemble_mask_table1.py")
    header = [
        line for line in proc.stdout.splitlines() if line.split()[:3] == ["n", "|d|", "condition"]
    ]
    assert header and "test MSE" in header[0] and "paper" in header[0], proc.stdout
    rows = [line.split() for line in proc.stdout.splitlines() if line.split()[:1] == ["5"]]
    assert [r[2] for r in rows] == ["control", "shuffled", "subsampled"], proc.stdout


def test_simplicial_match3_quick():
    proc = run_example("simplicial_match3.py", "--steps", "5", "--examples", "512")  # a fifth less CPU than 30 steps
    lines = proc.stdout.splitlines()
    header = [line for line in lines if line.startswith("| block | m | eval acc seed 0 |")]
    assert header and "params" in header[0] and "steps/s" in header[0], proc.stdout
    rows = [line.split(" | ") for line in lines if line.startswith("| ") and " | 12 | " in line]
    labels = [r[0].lstrip("| ") for r in rows]
    assert labels == ["2-simplicial, triple product, virtual = 0",
                      "2-simplicial, trilinear, virtual = 0",
                      "1-simplicial (2 ordinary attentions)"], proc.stdout  # fmt: skip
    # the parameter counts of docs/results.md section 4
    assert [r[5] for r in rows] == ["60,738", "54,594", "50,562"], proc.stdout
    assert all(0.0 <= float(r[2]) <= 1.0 for r in rows), proc.stdout
