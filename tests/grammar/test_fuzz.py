"""Property-based tests: mutated specs only ever produce diagnostics, fmt is stable, dims evaluate."""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from seqnet.grammar.format import format_module
from seqnet.grammar.parser import parse
from seqnet.pipeline import compile_source
from seqnet.source import SourceFile

ROOT = Path(__file__).resolve().parents[2]
SPECS = {p.name: p.read_text() for p in sorted((ROOT / "specs").glob("*.seqnet"))}
TOKEN = re.compile(r'"[^"\n]*"|\w+|->|//|\*\*|\S|\n')
ALPHABET = st.sampled_from(list("()[]{},=:.+-*/%@#\"'; \n\t_xN0129") + ["->", "**", "\x00", "\u00e9", "\ufeff"])


def _tokens(text):
    return [m.group(0) for m in TOKEN.finditer(text)]


@st.composite
def mutated(draw):
    name = draw(st.sampled_from(sorted(SPECS)))
    text = SPECS[name]
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["del_tok", "dup_tok", "swap_tok", "del_char", "ins_char", "ins_bytes",
                                     "truncate"]))
        toks = _tokens(text)
        if kind.endswith("_tok") and len(toks) > 2:
            i = draw(st.integers(0, len(toks) - 2))
            if kind == "del_tok":
                toks[i] = ""
            elif kind == "dup_tok":
                toks[i] = toks[i] + " " + toks[i]
            else:
                toks[i], toks[i + 1] = toks[i + 1], toks[i]
            text = " ".join(t for t in toks if t).replace(" \n ", "\n")
        elif kind == "del_char" and text:
            i = draw(st.integers(0, len(text) - 1))
            text = text[:i] + text[i + 1:]
        elif kind == "ins_char":
            i = draw(st.integers(0, len(text)))
            text = text[:i] + draw(ALPHABET) + text[i:]
        elif kind == "ins_bytes":
            i = draw(st.integers(0, len(text)))
            junk = draw(st.binary(min_size=1, max_size=8)).decode("latin-1")
            text = text[:i] + junk + text[i:]
        elif kind == "truncate":
            text = text[: draw(st.integers(0, len(text)))]
    return name, text


def _check_diags(text, diags):
    lines = text.split("\n")  # the lexer counts lines by "\n" only
    for d in diags:
        rendered = d.render()
        assert rendered and d.code.startswith("SQN")
        if d.span is not None and d.span.source.text == text:
            assert 1 <= d.span.line <= len(lines) + 1, (d.span.line, rendered)
            line = lines[d.span.line - 1] if d.span.line <= len(lines) else ""
            assert 1 <= d.span.column <= len(line) + 2, (d.span.column, rendered)


@given(mutated())
def test_mutations_only_produce_diagnostics(case):
    name, text = case
    path = ROOT / "specs" / name
    graph, diags = compile_source(SourceFile(name, text, path))
    if graph is None:
        assert any(d.severity == "error" for d in diags)
    _check_diags(text, diags)


@given(mutated())
def test_fmt_of_parsed_mutation_is_idempotent(case):
    name, text = case
    module, diags = parse(SourceFile(name, text))
    _check_diags(text, diags)
    if module is None:
        return
    once = format_module(module)
    module2, diags2 = parse(SourceFile(name, once))
    assert module2 is not None, [d.render() for d in diags2]
    assert format_module(module2) == once


# -- arithmetic over dims ------------------------------------------------------------------------

@st.composite
def dim_expr(draw, depth=0):
    """(text, value) for a well-formed integer expression; division only where exact."""
    if depth > 3 or draw(st.integers(0, 3)) == 0:
        n = draw(st.integers(0, 50))
        return str(n), n
    op = draw(st.sampled_from(["+", "-", "*", "//", "%", "neg", "paren"]))
    a_text, a = draw(dim_expr(depth + 1))
    if op == "neg":
        return f"-({a_text})", -a
    if op == "paren":
        return f"({a_text})", a
    b_text, b = draw(dim_expr(depth + 1))
    if op in ("//", "%") and b == 0:
        b_text, b = "1", 1
    value = {"+": a + b, "-": a - b, "*": a * b, "//": a // b if b else 0, "%": a % b if b else 0}[op]
    return f"({a_text}) {op} ({b_text})", value


@given(dim_expr())
def test_dim_arithmetic_matches_python(case):
    text, value = case
    assert eval(text) == value  # the strategy itself is Python-compatible
    offset = 1 - value if value < 1 else 0  # dims must be positive: shift into range
    spec = (f"dim X = {text} + {offset}\ninput x : float32[X]\n"
            "output y : float32[X] = x\n")
    graph, diags = compile_source(SourceFile("d.seqnet", spec))
    assert graph is not None, "\n".join(d.render() for d in diags)
    assert graph.graph["dims"]["X"] == value + offset
    module, _ = parse(SourceFile("d.seqnet", spec))
    once = format_module(module)
    module2, _ = parse(SourceFile("d.seqnet", once))
    assert format_module(module2) == once
    graph2, _ = compile_source(SourceFile("d.seqnet", once))
    assert graph2 is not None and graph2.graph["dims"]["X"] == value + offset


def test_caret_line_with_vertical_tab():
    graph, diags = compile_source(SourceFile("v.seqnet", "\x0bh = 1 $\n"))
    assert "h = 1 $" in diags[0].render()
