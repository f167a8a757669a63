"""The language server's re-parse (seqnet.grammar.incremental): after any edit it gives the AST
and diagnostics that parsing the whole text gives, and it parses only what changed."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from seqnet.grammar.incremental import ParseCache, chunks
from seqnet.grammar.parser import parse
from seqnet.source import SourceFile

ROOT = Path(__file__).resolve().parents[2]
SPECS = sorted([*ROOT.glob("specs/*.seqnet"), *ROOT.glob("specs/lib/*.seqnet"),
                *ROOT.glob("tests/diagnostics/*.seqnet")])  # fmt: skip


def same_as_whole(cache: ParseCache, name: str, text: str) -> None:
    src = SourceFile(name, text)
    got, got_diags = cache.parse(src)
    want, want_diags = parse(src)
    assert got == want, name
    assert [d.render() for d in got_diags] == [d.render() for d in want_diags], name


def edits(text: str, rng: random.Random, k: int) -> list[str]:
    """k single edits at random places: a character typed, deleted, a newline or a bracket."""
    out = []
    for _ in range(k):
        at = rng.randrange(len(text) + 1)
        kind = rng.choice(["type", "delete", "newline", "bracket", "space", "digit"])
        ins = {"type": "x", "newline": "\n", "bracket": rng.choice("()[]{}"), "space": " ",
               "digit": "7", "delete": ""}[kind]  # fmt: skip
        out.append(text[:at] + ins + text[at + (kind == "delete"):])
    return out


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.name)
def test_every_edit_parses_as_the_whole_text_does(path):
    text = path.read_text(encoding="utf-8", errors="replace")
    rng = random.Random(path.name)
    cache = ParseCache()
    same_as_whole(cache, path.name, text)
    shipped = path.parent.name != "diagnostics"  # the broken specs mostly take the whole parse
    for edited in edits(text, rng, 6 if shipped else 1):  # each, then back, as an editor sends
        same_as_whole(cache, path.name, edited)
        same_as_whole(cache, path.name, text)


def test_an_edit_inside_one_statement_parses_that_statement_only():
    text = (ROOT / "specs/transformer_encoder.seqnet").read_text()
    cache = ParseCache()
    cache.parse(SourceFile("t.seqnet", text))
    assert cache.reparsed == -1  # the first parse is the whole text's
    edited = text.replace("dim E = ", "dim E =  ", 1)
    assert edited != text
    same_as_whole(cache, "t.seqnet", edited)
    assert cache.reparsed == 1
    same_as_whole(cache, "t.seqnet", edited)  # nothing changed: nothing parsed
    assert cache.reparsed == 0
    # a syntax error: the whole text is parsed, for the whole parse's diagnostics
    same_as_whole(cache, "t.seqnet", edited.replace("dim E =  ", "dim E = = "))
    assert cache.reparsed == -1


def test_statements_are_cut_where_the_grammar_ends_them():
    text = ('dim W = 32\n\n# a comment (with a bracket\nblock f(x) {\n  return x\n}\n'
            '  h = dense(x, \\\n W)\ny = "}" + f(h)')
    got = [(c.line, c.column, c.text) for c in chunks(text)]
    assert got == [(1, 1, "dim W = 32\n\n"), (3, 1, "# a comment (with a bracket\n"),
                   (4, 1, "block f(x) {\n  return x\n}\n  "), (7, 3, "h = dense(x, \\\n W)\n"),
                   (9, 1, 'y = "}" + f(h)')]  # fmt: skip
    assert chunks("h = f(x\n") is None and chunks("h = x)\n") is None  # unbalanced: whole parse
