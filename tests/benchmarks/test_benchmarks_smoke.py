"""The benchmarks still run: overhead.py --quick and frontend.py on small sizes, in child processes."""

from __future__ import annotations

import os
from pathlib import Path

import warm
from hang_guard import HANG_GUARD_S

ROOT = Path(__file__).resolve().parents[2]


def run_script(script: str, *argv: str) -> str:
    """`python SCRIPT ARGV` from the repository root, in a warm child (warm.py: a fresh interpreter
    only adds the imports); the timeout only guards against a hang."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    rc, out, err = warm.run_script(ROOT / script, argv, env=env, cwd=ROOT, timeout=HANG_GUARD_S)
    assert rc == 0, out + err
    return out


def test_overhead_quick():
    out = run_script("benchmarks/overhead.py", "--quick")
    assert "ratio seqnet/hand-written (median ms/step): mlp " in out, out
    assert "persistent compilation cache" in out, out


def test_frontend_small():
    # --quick: the node scaling only, and --sizes keeps it short
    out = run_script("benchmarks/frontend.py", "--quick", "--sizes", "100", "1000")
    lines = out.strip().splitlines()
    assert "x per 10x" in lines[0], out
    assert len(lines) == 3 and lines[2].split()[-1] != "-", out  # the growth ratio of 100 -> 1000


def test_lsp_small():
    import pytest

    pytest.importorskip("pygls")
    out = run_script("benchmarks/lsp.py", "--nodes", "100", "--edits", "2")
    assert "lsp diagnostics round trip, warm: median " in out, out
    assert "in-process check (baseline): median " in out, out


def test_segments_quick():
    out = run_script("benchmarks/segments.py", "--quick", "--mode", "local")
    rows = [line.split() for line in out.splitlines() if line.startswith("local ")]
    assert [r[1] for r in rows] == ["all", "per_level"], out
    assert rows[0][4] == "1.000", out  # share=all is the baseline of its own ratios


def test_generate_quick():
    out = run_script("benchmarks/generate.py", "--quick")
    assert out.count("ratio cached/uncached ") == 2, out


def test_simplicial_pallas_row_says_it_was_skipped_without_a_gpu():
    import jax

    out = run_script("benchmarks/simplicial.py", "--n", "16", "--repeats", "1",
                     "--variants", "trilinear-window", "trilinear-window-pallas")  # fmt: skip
    rows = [line for line in out.splitlines() if line.startswith("| trilinear-window")]
    if jax.default_backend() == "gpu":
        assert any(r.startswith("| trilinear-window-pallas | 16 |") for r in rows), out
    else:
        assert "# trilinear-window-pallas: skipped: no GPU here" in out, out
        assert rows and all(r.startswith("| trilinear-window | 16 |") for r in rows), out


def test_viewer_small():
    out = run_script("benchmarks/viewer.py", "--sizes", "200", "--no-browser")
    lines = out.strip().splitlines()
    assert lines[0].split()[:3] == ["IR", "nodes", "write"], out
    assert len(lines) == 2 and float(lines[1].split()[2]) > 0, out  # the page's size in MB
