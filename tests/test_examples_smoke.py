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
