"""Golden diagnostics: `seqnet check NAME.seqnet` run inside this folder must print NAME.expected.

SEQNET_REGEN=1 rewrites the expected files. Cases in KNOWN_BAD show a compiler bug or a
misleading message; they are not enshrined, but an xfail test asserts the fix.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from seqnet import cli

HERE = Path(__file__).parent

# name -> (what is wrong, predicate on the current stderr that holds once it is fixed)
KNOWN_BAD = {
    "add_width_mismatch": ("notes name the op's parameters ('x', 'y') instead of the operands 'a', 'b'",
                           lambda out: "'x' is float32[8]" not in out and "'a'" in out),
    "shadowed_add": ("notes name the op's parameters 'x'/'y' instead of 'h'", lambda out: "'y' is" not in out),
    "concat_mismatch": ("notes call both operands 'xs'; caret on x though tensor 2 (z) is the odd one",
                        lambda out: "'xs' is" not in out),
    "matmul_inner": ("notes call a and b 'x' and 'y'", lambda out: "'x' is float32[4, 3]" not in out),
    "block_call_chain": ("error inside a block called from another block shows no call-site chain, "
                         "and its notes call the operands 'x'/'y' (the 'y' note points at input x)",
                         lambda out: "in block called at" in out and "'y' is" not in out),
    "wormhole_bad_tol": ("irrelevant note \"'x' is float32[4], produced here\"; caret spans the whole "
                         "statement instead of the tol value", lambda out: "'x' is" not in out),
    "dim_negative": ("cascade: a bad dim yields 'got the name N' and 'unknown name x'; also '0-3' shown, not -3",
                     lambda out: "unknown name 'x'" not in out),
    "dim_division": ("cascade: a bad dim yields 'got the name N' and 'unknown name x'; '7/2' not 3.5",
                     lambda out: "unknown name 'x'" not in out),
    "duplicate_input": ("a second 'input x' is silently accepted (no duplicate-definition error)",
                        lambda out: "already defined" in out),
    "import_error_inside": ("syntax error in an imported file: chain says 'in block called at' for an import; "
                            "bogus note that '{' is never closed and a cascade error on '}'",
                            lambda out: "never closed" not in out and "block called" not in out),
    "import_missing": ("did-you-mean suggests 'broken.seqnet' for 'nope.seqnet'",
                       lambda out: "broken.seqnet" not in out),
    "import_escape": ("message embeds the absolute folder path (machine-dependent output)",
                      lambda out: str(HERE) not in out),
    "repeat_changes_shape": ("cascade: after the repeat error the output is reported as float32[4]; the "
                             "note points at 'input x' not at 'h = x'", lambda out: "output 'y'" not in out),
    "segments_custom_invalid": ("cascade: 'unknown op or block tree' after the structure error",
                                lambda out: "unknown op or block 'tree'" not in out),
    "segments_missing_role": ("cascade: 'unknown op or block tree'",
                              lambda out: "unknown op or block 'tree'" not in out),
    "segments_zero_n": ("cascade: 'unknown op or block tree'", lambda out: "unknown op or block 'tree'" not in out),
    "syntax_bad_char": ("after the '$' error a bogus second error lists ')' and ',' and hints "
                        "'separate arguments with ,' at statement level", lambda out: "found number 2" not in out),
    "syntax_for_loop": ("'for' loop gets the 'def' catalogue message (catalogue key collision NAME NAME)",
                        lambda out: "no loops" in out),
    "syntax_single_quote": ("cascade: 'a keyword argument needs a value' after the quote error",
                            lambda out: "needs a value" not in out),
    "syntax_unclosed_bracket": ("expected-list omits ']' (the actual fix) and starts with '%'",
                                lambda out: "']'" in out.split("\n")[0]),
    "syntax_unclosed_paren": ("expected-list is a truncated alphabetical list starting with '%'",
                              lambda out: "expected '%'" not in out),
    "syntax_unterminated_string": ("cascade: 'an import names a file in double quotes' after the string error",
                                   lambda out: "an import names" not in out),
    "syntax_train_setting": ("bogus note \"'{' opened here is never closed\" and a cascade error on '}'",
                             lambda out: "never closed" not in out),
    "syntax_def": ("cascade error on the closing '}'", lambda out: "found '}'" not in out),
}

ALL = sorted(p.stem for p in HERE.glob("*.seqnet"))
GOLDEN = [n for n in ALL if n not in KNOWN_BAD]


def run_check(name: str, capsys, monkeypatch) -> tuple[int, str]:
    monkeypatch.chdir(HERE)
    capsys.readouterr()
    rc = cli.main(["check", f"{name}.seqnet"])
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


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.xfail(reason=r[0], strict=False)) for n, r in KNOWN_BAD.items()]
)
def test_known_bad(name, capsys, monkeypatch):
    rc, err = run_check(name, capsys, monkeypatch)
    assert rc == 1
    assert KNOWN_BAD[name][1](err), err


def test_enough_cases():
    assert len(GOLDEN) >= 35
    assert set(KNOWN_BAD) <= set(ALL)
