"""The CLI: exit codes, --json, and no traceback for hostile input."""

from __future__ import annotations

import json
import os
import random
import string
import subprocess
import sys
from pathlib import Path

import pytest
from cli_run import run

from seqnet import cli

ROOT = Path(__file__).resolve().parents[1]
MLP = str(ROOT / "specs" / "mlp_digits.seqnet")




def test_check_ok_exit_0(capsys):
    rc, out, err = run(["check", MLP], capsys)
    assert rc == 0 and "ok" in out and err == ""


def test_check_error_exit_1(tmp_path, capsys):
    bad = tmp_path / "bad.seqnet"
    bad.write_text("input x : float32[4]\noutput y : float32[4] = dens(x, 4)\n")
    rc, out, err = run(["check", str(bad)], capsys)
    assert rc == 1 and "SQN0102" in err and "1 error" in err


def test_check_mixed_files_exit_1(tmp_path, capsys):
    bad = tmp_path / "bad.seqnet"
    bad.write_text("h = \n")
    rc, _, _ = run(["check", MLP, str(bad)], capsys)
    assert rc == 1


@pytest.mark.parametrize("argv", [[], ["check"], ["nope"], ["check", MLP, "--set", "novalue"],
                                  ["check", MLP, "--bogus"], ["train", MLP, "--resume", "--overwrite"],
                                  ["export", MLP, "--checkpoint", "runs/x", "-o", "x", "--batch", "0"],
                                  ["render", MLP, "-o", "x.svg", "--depth", "-1"],
                                  ["render", MLP, "-o", "x.svg", "--unroll", "100000"],
                                  ["train", MLP, "--out", ""]])
def test_usage_errors_exit_2(argv, capsys):
    rc, _, _ = run(argv, capsys)
    assert rc == 2


def test_set_override(capsys):
    rc, out, _ = run(["check", MLP, "--set", "H=32"], capsys)
    assert rc == 0
    rc, _, err = run(["check", MLP, "--set", "HH=32"], capsys)
    assert rc == 1 and "HH" in err


def test_json_schema(tmp_path, capsys):
    rc, out, err = run(["check", "--json", MLP], capsys)
    assert rc == 0 and err == ""
    data = json.loads(out)
    assert data == {"file": MLP, "ok": True, "diagnostics": []}
    bad = tmp_path / "bad.seqnet"
    bad.write_text("input x : float32[4]\ninput z : float32[4]\noutput y : float32[4] = dens(x, 4)\n")
    rc, out, err = run(["check", "--json", str(bad), MLP], capsys)
    assert rc == 1 and err == ""
    data = json.loads(out)
    assert isinstance(data, list) and len(data) == 2
    first = data[0]
    assert set(first) == {"file", "ok", "diagnostics"} and first["ok"] is False
    d = first["diagnostics"][0]
    assert set(d) == {"code", "severity", "message", "span", "hint", "notes", "chain"}
    assert d["code"] == "SQN0102" and d["severity"] == "error"
    assert isinstance(d["span"], dict)
    assert {"line", "column"} <= set(d["span"]), d["span"]
    assert d["span"]["line"] == 3


def test_quiet(capsys):
    rc, out, err = run(["check", "-q", MLP], capsys)
    assert rc == 0 and out == "" and err == ""


def test_missing_file(capsys):
    rc, _, err = run(["check", "does/not/exist.seqnet"], capsys)
    assert rc == 1 and "SQN0004" in err and "no such file" in err


def test_directory(tmp_path, capsys):
    rc, _, err = run(["check", str(tmp_path)], capsys)
    assert rc == 1 and "directory" in err


def test_binary_junk(tmp_path, capsys):
    junk = tmp_path / "junk.seqnet"
    junk.write_bytes(bytes(random.Random(0).randrange(256) for _ in range(4096)))
    rc, _, err = run(["check", str(junk)], capsys)
    assert rc == 1 and "SQN0004" in err


def test_ten_mb_of_random_text_gives_capped_diagnostics(tmp_path, capsys):
    """How fast the rejection is lives in `benchmarks/frontend.py --junk-mb 10`, not here."""
    rng = random.Random(1)
    alphabet = string.printable
    big = tmp_path / "big.seqnet"
    big.write_text("".join(rng.choices(alphabet, k=10 * 2**20)))
    rc, _, err = run(["check", str(big)], capsys)
    assert rc == 1 and err
    assert len(err) < 200_000, "diagnostics should be capped, not one per junk character"


def test_deeply_nested_brackets(tmp_path, capsys):
    deep = tmp_path / "deep.seqnet"
    deep.write_text("input x : float32[4]\nh = " + "(" * 10_000 + "x" + ")" * 10_000
                    + "\noutput y : float32[4] = h\n")
    rc, _, err = run(["check", str(deep)], capsys)
    assert rc == 1 and "SQN0005" in err


def test_deeply_nested_unclosed_brackets(tmp_path, capsys):
    deep = tmp_path / "deep.seqnet"
    deep.write_text("(" * 10_000)
    rc, _, err = run(["check", str(deep)], capsys)
    assert rc == 1


def test_fmt_check_and_stdout(tmp_path, capsys):
    messy = tmp_path / "m.seqnet"
    messy.write_text("input x :  float32[4]\noutput y : float32[4] = dense(x,4)\n")
    rc, _, err = run(["fmt", "--check", str(messy)], capsys)
    assert rc == 1 and "would be reformatted" in err
    rc, out, _ = run(["fmt", "--stdout", str(messy)], capsys)
    assert rc == 0 and "dense(x, 4)" in out
    rc, _, _ = run(["fmt", str(messy)], capsys)
    assert rc == 0 and messy.read_text() == out
    rc, _, _ = run(["fmt", "--check", str(messy)], capsys)
    assert rc == 0
    rc, again, _ = run(["fmt", "--stdout", str(messy)], capsys)  # already formatted: still printed
    assert rc == 0 and again == out


def test_fmt_goes_on_past_a_file_it_cannot_write(tmp_path, capsys, monkeypatch):
    from seqnet import atomic

    messy = "input x :  float32[4]\noutput y : float32[4] = x\n"
    first, second = tmp_path / "a.seqnet", tmp_path / "b.seqnet"
    first.write_text(messy)
    second.write_text(messy)
    real = atomic.write_text

    def full_disk_for_a(path, text):
        if path.name == "a.seqnet":
            raise OSError(28, "No space left on device", str(path))
        return real(path, text)

    monkeypatch.setattr(atomic, "write_text", full_disk_for_a)
    rc, out, err = run(["fmt", str(first), str(second)], capsys)
    assert rc == 1 and "No space left on device" in err and "Traceback" not in err
    assert first.read_text() == messy  # untouched
    assert f"{second}: formatted" in out and "float32[4] = x" in second.read_text()


def test_check_does_not_import_jax():
    code = ("import sys, seqnet.cli; rc = seqnet.cli.main(['check', 'specs/mlp_digits.seqnet']); "
            "assert rc == 0; assert 'jax' not in sys.modules, 'jax imported'")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("start,step,sps,expected", [
    (0, 300, 1150.4, "trained 300 steps in 2.5 s (compiling included, then 1,150 steps/s); eval: accuracy 0.9800"),
    (200, 300, 900.0, "trained steps 200-300 in 2.5 s (compiling included, then 900 steps/s); eval: accuracy 0.9800"),
    (300, 300, 0.0, "the run is already at step 300: nothing to train; eval: accuracy 0.9800"),
])
def test_train_report_says_what_this_call_did(start, step, sps, expected):
    from types import SimpleNamespace

    result = SimpleNamespace(metrics={"accuracy": 0.98}, step=step, start_step=start,
                             steps_per_s=sps, wall_s=2.5)
    assert cli.train_report(result) == expected


def test_file_system_refusals_are_user_errors(tmp_path, capsys):
    """An --out under a regular file: the OS says no; the user gets one line and exit 1."""
    (tmp_path / "file").write_text("x")
    rc, _, err = run(["train", MLP, "--set", "steps=1", "--no-progress", "--out", str(tmp_path / "file" / "run")], capsys)
    assert rc == 1, err
    assert "seqnet: error:" in err and "internal error" not in err and "Traceback" not in err
    assert (tmp_path / "file").read_text() == "x"
