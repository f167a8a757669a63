"""Golden diagnostics: `seqnet check NAME.seqnet [options in NAME.args]` run inside this folder
must print NAME.expected.

SEQNET_REGEN=1 rewrites the expected files; read every rewritten file before committing it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from seqnet import cli

HERE = Path(__file__).parent

# name -> (what is wrong, predicate on the current stderr that holds once it is fixed)
ALL = sorted(p.stem for p in HERE.glob("*.seqnet"))
GOLDEN = ALL


def run_check(name: str, capsys, monkeypatch) -> tuple[int, str]:
    monkeypatch.chdir(HERE)
    capsys.readouterr()
    extra = HERE / f"{name}.args"  # command-line options, one per line (e.g. --set N=0)
    args = extra.read_text().split() if extra.exists() else []
    rc = cli.main(["check", f"{name}.seqnet", *args])
    return rc, capsys.readouterr().err


@pytest.mark.parametrize("name", GOLDEN)
def test_golden(name, capsys, monkeypatch):
    rc, err = run_check(name, capsys, monkeypatch)
    expected = HERE / f"{name}.expected"
    if os.environ.get("SEQNET_REGEN"):
        expected.write_text(err)
    assert rc in (0, 1)
    assert "Traceback" not in err
    assert err == expected.read_text()


def test_enough_cases():
    assert len(GOLDEN) >= 35
