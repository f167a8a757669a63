"""The Pygments lexer: every shipped spec lexes with no Error token, the tokens are the
grammar's, and the entry point that makes `pygmentize -l seqnet` work is declared."""

from __future__ import annotations

from pathlib import Path

import pytest
from pygments.token import Comment, Error, Keyword, Name, Number, Operator, String

from seqnet.highlight import SeqnetLexer

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted((ROOT / "specs").rglob("*.seqnet"))


def tokens(text: str) -> list[tuple]:
    return [(t, v) for t, v in SeqnetLexer().get_tokens(text) if v.strip()]


def test_there_are_shipped_specs():
    assert len(SHIPPED) >= 10


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_shipped_spec_lexes_without_errors(path: Path):
    bad = [(v, t) for t, v in tokens(path.read_text()) if t in Error]
    assert bad == []


def test_the_tokens_are_the_grammars():
    text = 'import "lib.seqnet" as L\ndim N = 2 ** 4  # sixteen\ninput x : int32[N] vocab 10\n' \
           "block mlp(x, act=relu) {\n  return dense(x, N, bias=true) @ x\n}\n"  # fmt: skip
    got = dict((v, t) for t, v in tokens(text))
    assert got["import"] in Keyword.Declaration and got["block"] in Keyword.Declaration
    assert got['"lib.seqnet"'] in String and got["# sixteen"] in Comment
    assert got["int32"] in Keyword.Type and got["vocab"] in Keyword and got["true"] in Keyword.Constant
    assert got["mlp"] in Name.Function and got["dense"] in Name.Function and got["x"] is Name
    assert got["2"] in Number and got["**"] in Operator and got["@"] in Operator


def test_what_the_grammar_would_not_lex_is_an_error():
    assert [v for t, v in tokens("h = x $ y ` z\n") if t in Error] == ["$", "`"]


def test_the_entry_point_is_declared():
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["entry-points"]["pygments.lexers"] == {"seqnet": "seqnet.highlight:SeqnetLexer"}


# --- the TextMate grammar of editors/vscode/ ---------------------------------------------------

VSCODE = ROOT / "editors" / "vscode"


def _textmate_patterns() -> list:
    import json
    import re

    grammar = json.loads((VSCODE / "syntaxes" / "seqnet.tmLanguage.json").read_text())
    out = []
    for ref in grammar["patterns"]:
        rule = grammar["repository"][ref["include"].lstrip("#")]
        for r in rule.get("patterns", [rule]):
            out.append((re.compile(r["match"]), r.get("name", "captures")))
    return out


def test_the_textmate_grammar_scopes_every_character_of_every_shipped_spec():
    """Scanned as an editor does (at each position the first pattern that matches there wins),
    every character but blanks gets a scope: nothing is left unhighlighted as unknown."""
    patterns = _textmate_patterns()
    for path in SHIPPED:
        for n, line in enumerate(path.read_text().splitlines(), 1):
            i = 0
            while i < len(line):
                if line[i].isspace():
                    i += 1
                    continue
                hit = next((m for p, _ in patterns if (m := p.match(line, i)) and m.end() > i), None)
                assert hit is not None, f"{path.name}:{n}:{i + 1}: no scope for {line[i:]!r}"
                i = hit.end()


def test_the_vscode_manifest_names_files_that_exist():
    import json

    manifest = json.loads((VSCODE / "package.json").read_text())
    assert (VSCODE / manifest["main"]).exists()
    for entry in manifest["contributes"]["languages"] + manifest["contributes"]["grammars"]:
        assert (VSCODE / entry.get("configuration", entry.get("path"))).exists()
    json.loads((VSCODE / "language-configuration.json").read_text())
    assert manifest["contributes"]["configuration"]["properties"]["seqnet.server.command"]["default"] == ["seqnet", "lsp"]


def test_the_seqnet_blocks_of_the_docs_lex_without_errors():
    import re

    blocks = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        blocks += re.findall(r"^```seqnet\n(.*?)^```$", doc.read_text(), flags=re.M | re.S)
    assert len(blocks) >= 5
    for block in blocks:
        assert [v for t, v in tokens(block) if t in Error] == [], block
