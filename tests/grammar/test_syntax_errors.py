"""The mistakes catalogue and the diagnostic-code catalogue."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from seqnet import cli
from seqnet.codes import CODES
from seqnet.grammar.parser import parse
from seqnet.grammar.syntax_errors import MISTAKES
from seqnet.source import SourceFile

ROOT = Path(__file__).resolve().parents[2]
CASES = [(msg, hint, ex) for msg, hint, examples in MISTAKES for ex in examples]

# Examples whose parser state collides with an earlier entry, so they get that entry's message.
COLLISIONS: dict[str, str] = {}  # examples whose lookup key another example takes first


def _params():
    for msg, hint, ex in CASES:
        marks = [pytest.mark.xfail(reason=COLLISIONS[ex], strict=True)] if ex in COLLISIONS else []
        yield pytest.param(msg, hint, ex, marks=marks, id=repr(ex)[:40])


@pytest.mark.parametrize("message,hint,example", list(_params()))
def test_catalogue_example_gets_its_message(message, hint, example):
    module, diags = parse(SourceFile("ex.seqnet", example))
    assert module is None
    errors = [d for d in diags if d.severity == "error"]
    assert errors, example
    first = errors[0]
    assert first.code == "SQN0001"
    assert first.message == message, first.render()
    assert first.hint == hint
    for d in diags:
        d.render()


def test_catalogue_messages_are_distinct():
    messages = [m for m, _, _ in MISTAKES]
    assert len(messages) == len(set(messages))


def _emitted_codes():
    codes = set()
    for path in (ROOT / "seqnet").rglob("*.py"):
        if path.name == "codes.py":
            continue
        codes |= set(re.findall(r'"(SQN\d{4})"', path.read_text()))
    return sorted(codes)


EMITTED = _emitted_codes()


def test_codes_found():
    assert len(EMITTED) >= 20


@pytest.mark.parametrize("code", EMITTED)
def test_every_emitted_code_is_catalogued(code):
    assert code in CODES


@pytest.mark.parametrize("code", sorted(CODES))
def test_explain_prints_text(code, capsys):
    assert cli.main(["explain", code]) == 0
    out = capsys.readouterr().out
    assert out.startswith(code) and "Wrong:" in out and "Right:" in out
    assert cli.main(["explain", code.lower()]) == 0


def test_explain_unknown_code_exits_2(capsys):
    assert cli.main(["explain", "SQN9999"]) == 2
    err = capsys.readouterr().err
    assert "unknown diagnostic code" in err and "Traceback" not in err
