"""What a `seqnet` process does before and around its command: `import seqnet` stays light, and
Python's collector is off for a check run as the program, never for an in-process caller."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
from pathlib import Path

import pytest

import seqnet
from seqnet import cli, collector

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "specs" / "mlp_digits.seqnet"


@pytest.fixture
def collector_on():
    gc.enable()
    yield
    gc.enable()


def test_paused_restores_the_collector_as_found_also_when_the_body_raises(collector_on):
    with pytest.raises(RuntimeError), collector.paused():
        assert not gc.isenabled()
        raise RuntimeError("boom")
    assert gc.isenabled()
    gc.disable()
    with collector.paused():
        pass
    assert not gc.isenabled()  # it was off: it stays off


def test_an_in_process_check_leaves_the_callers_collector_on(collector_on, capsys):
    assert cli.main(["check", str(SPEC)]) == 0
    assert gc.isenabled()
    assert "ok, 4 nodes" in capsys.readouterr().out


class Exited(Exception):
    pass


def test_a_check_run_as_the_program_ends_it_with_the_collector_off(collector_on, monkeypatch, capsys):
    def exit_(code):
        raise Exited(code, gc.isenabled())

    monkeypatch.setattr(sys, "argv", ["seqnet", "check", str(SPEC)])
    monkeypatch.setattr(collector.os, "_exit", exit_)
    with pytest.raises(Exited) as ended:
        cli.main()
    assert ended.value.args == (0, False)  # no collection on the way out, no teardown
    assert "ok, 4 nodes" in capsys.readouterr().out


def test_the_program_check_flushes_everything_it_prints_and_keeps_its_exit_code(tmp_path):
    bad = tmp_path / "bad.seqnet"
    bad.write_text("input x : float32[4]\noutput y : float32[4] = dense(xx, 4)\n")
    proc = subprocess.run([sys.executable, "-m", "seqnet", "check", "--json", str(SPEC), str(bad)],
                          capture_output=True, text=True, cwd=ROOT)  # fmt: skip
    report = json.loads(proc.stdout)  # all of it: the buffered output was flushed before the exit
    assert proc.returncode == 1 and [r["ok"] for r in report] == [True, False]
    assert [(d["message"], d["hint"]) for d in report[1]["diagnostics"]] == [("unknown name 'xx'", "did you mean 'x'?")]


def test_other_commands_run_as_the_program_keep_the_collector(collector_on, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["seqnet", "explain", "SQN0004"])
    assert cli.main() == 0
    assert gc.isenabled()


def test_import_seqnet_loads_no_dependency_and_the_names_come_on_first_use():
    probe = ("import sys, seqnet; heavy = [m for m in ('networkx', 'pydantic', 'lark') if m in sys.modules];"
             "print(heavy, seqnet.Model.__module__, seqnet.SpecError.__module__)")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                         cwd=ROOT).stdout.split()  # fmt: skip
    assert out == ["[]", "seqnet.model", "seqnet.errors"]
    assert seqnet.Model is __import__("seqnet.model").model.Model
    assert {"Model", "load", "loads"} <= set(dir(seqnet))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        seqnet.nope  # noqa: B018
