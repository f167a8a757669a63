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


def _tables():
    """examples/results_tables.py in-process (no subprocess: no second interpreter start)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("results_tables", ROOT / "examples" / "results_tables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _write(path: Path, records: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def _run(settings: dict, seed: int, metrics: dict, wall: float = 10.0, status: str = "ok") -> dict:
    point = "_".join(f"{k}={v}" for k, v in settings.items())
    return {"point": point, "settings": settings, "seed": seed, "status": status,
            "metrics": metrics if status == "ok" else {}, "wall_s": wall}  # fmt: skip


def test_section_3_rows_one_per_sweep_and_setting(tmp_path, capsys):
    gate = "wormhole/wormhole_h3_to_h1/"
    on = {"mse": 0.036, f"{gate}iterations": 5.6, f"{gate}iterations_max": 8.0, f"{gate}converged": 1.0}
    sine = _write(tmp_path / "wormhole_sine" / "results.jsonl", [
        _run({"WORMHOLE": "true"}, 0, on, 40), _run({"WORMHOLE": "true"}, 1, {**on, "mse": 0.038}, 20),
        _run({"WORMHOLE": "false"}, 0, {"mse": 0.04}), _run({"WORMHOLE": "false"}, 1, {}, status="failed")])  # fmt: skip
    digits = _write(tmp_path / "kept" / "wormhole_digits_results.jsonl", [_run({"WORMHOLE": "false"}, 0, {"accuracy": 0.97})])
    assert _tables().main(["wormholes", str(sine), str(digits)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[2] == "| wormhole_sine | true | 2 | mse 0.0370 ± 0.0014 | 5.6 ± 0.0 (8) | 100 % | 30 ± 14 |"
    assert out[3] == "| wormhole_sine | false | 1 | mse 0.0400 | - | - | 10 |"
    assert out[4] == "| wormhole_digits | false | 1 | accuracy 0.970 | - | - | 10 |" and len(out) == 5


def test_section_4_rows_with_each_blocks_parameters(tmp_path, capsys):
    results = _write(tmp_path / "match3" / "results.jsonl", [
        _run({"BLOCK": b, "eval_batches": "0"}, s, {"accuracy": a, "loss": 0.4})
        for b, accs in (("triple", (0.8, 0.9)), ("attention", (0.85, 0.95))) for s, a in enumerate(accs)])  # fmt: skip
    assert _tables().main(["match3", str(results)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("| block (BLOCK) | params | eval acc (s0 / s1) | mean ± sd |")
    assert out[2] == "| 2-simplicial, triple product (triple) | 60,738 | 0.800 / 0.900 | 0.850 ± 0.071 | 0.400 ± 0.000 | 10 ± 0 |"
    assert out[3].startswith("| 1-simplicial (2 ordinary attentions) (attention) | 60,791 | 0.850 / 0.950 |")


def test_section_4_rows_name_the_other_settings_and_count_parameters_at_them(tmp_path, capsys):
    """A point's spec settings (VIRTUAL, M) go into the spec its parameters are counted from and
    into its label; the train settings (eval_batches, examples) are not spec settings."""
    results = _write(tmp_path / "match3_virtual" / "results.jsonl", [
        _run({"BLOCK": "triple", "VIRTUAL": "4", "eval_batches": "0"}, 0, {"accuracy": 0.8, "loss": 0.4}),
        _run({"BLOCK": "attention", "M": "28", "examples": "200000", "eval_batches": "0"}, 0,
             {"accuracy": 0.6, "loss": 0.7})])  # fmt: skip
    assert _tables().main(["match3", str(results)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[2].startswith("| 2-simplicial, triple product (triple, VIRTUAL=4) | 71,234 | 0.800 | 0.800 |")
    assert out[3].startswith("| 1-simplicial (2 ordinary attentions) (attention, M=28, examples=200000) | 60,791 |")


def _claim(task, n, acc, mode=None, seed=0, status="ok"):
    settings = {"TASK": task, "N": str(n), **({"mode": mode} if mode else {}), "steps": "500"}
    return {"point": json.dumps(settings), "settings": settings, "seed": seed, "status": status,
            "metrics": {"accuracy": acc, "loss": 1.0 - acc} if status == "ok" else {}, "wall_s": 5.0}  # fmt: skip


def test_claims_table_puts_fen_local_end_to_end_and_lstm_side_by_side():
    records = [_claim("parity", 8, 1.0, "local"), _claim("parity", 8, 0.5, "local", seed=1),
               _claim("parity", 8, 0.75, "standard"), _claim("s5", 8, 0.01), _claim("parity", 8, 0.9),
               _claim("parity", 16, 0.5, "local"), _claim("parity", 16, 0.0, "standard", status="failed")]  # fmt: skip
    tables = _tables()
    out = tables.claims(records).splitlines()
    assert out[0] == "| task | N | chance | FEN local | FEN end-to-end | LSTM |"
    assert out[2] == "| parity | 8 | 0.500 | 0.750 ± 0.354 (2 seeds) | 0.750 (1 seed) | 0.900 (1 seed) |"
    assert out[3] == "| parity | 16 | 0.500 | 0.500 (1 seed) | - | - |"  # the failed run left out
    assert out[4] == "| s5 | 8 | 0.008 | - | - | 0.010 (1 seed) |" and len(out) == 5
    rows = tables.variants(records[:2]).splitlines()
    assert rows[2] == "| TASK=parity, N=8, mode=local, steps=500 | 0.750 ± 0.354 (2 seeds) | 0.250 ± 0.354 (2 seeds) |"
