"""Long and deeply nested expressions: they compile, format and print up to MAX_EXPR_DEPTH
levels; deeper ones get SQN0005 at the statement, never a RecursionError."""

from __future__ import annotations

import sys
from collections import Counter

import pytest

from seqnet import cli
from seqnet.grammar.format import format_module
from seqnet.grammar.parser import MAX_EXPR_DEPTH, parse, recursion_room
from seqnet.pipeline import compile_or_raise, compile_source
from seqnet.source import SourceFile

HEAD = "input x : float32[4]\n"


def total(n: int, term: str = "x") -> str:
    return " + ".join([term] * n)


def spec(expression: str) -> str:
    return f"{HEAD}y = {expression}\noutput y = y\n"


def ops(graph) -> Counter:
    return Counter(data["op"] for _, data in graph.nodes(data=True))


def run(argv, capsys) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = cli.main(argv)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert "internal error" not in err, err
    assert "RecursionError" not in err
    return rc, out, err


def test_600_term_sum_compiles_to_599_adds():
    graph, _, _ = compile_or_raise(text=spec(total(600)))
    counts = ops(graph)
    assert counts["add"] == 599 and counts["input"] == 1
    assert graph.number_of_nodes() == 600


def test_500_unary_minuses_compile():
    graph, _, _ = compile_or_raise(text=spec("-" * 500 + "x"))
    assert ops(graph)["affine"] == 500


def test_long_sum_of_numbers_evaluates():
    graph, _, _ = compile_or_raise(text=f"dim N = {total(600, '1')}\n{HEAD}output y = x\n")
    assert graph.graph["dims"]["N"] == 600


def test_long_mixed_chain_evaluates():
    # 300 subtractions of products, left-associative: 2 - 2 - ... - 2 = 2 - 299 * 2
    graph, _, _ = compile_or_raise(text=f"dim N = {' - '.join(['1 * 2'] * 300)} + 1000\n{HEAD}output y = x\n")
    assert graph.graph["dims"]["N"] == 2 - 299 * 2 + 1000


def test_right_nested_power_and_minus():
    graph, _, _ = compile_or_raise(text=f"dim N = 2 ** {' ** '.join(['1'] * 400)}\n"
                                        f"dim M = {'-' * 400}3\n{HEAD}output y = x\n")  # fmt: skip
    assert graph.graph["dims"]["N"] == 2 and graph.graph["dims"]["M"] == 3


def test_the_limit_itself_compiles():
    graph, _, _ = compile_or_raise(text=spec(total(MAX_EXPR_DEPTH)))
    assert ops(graph)["add"] == MAX_EXPR_DEPTH - 1
    graph, _, _ = compile_or_raise(text=spec("-" * (MAX_EXPR_DEPTH - 1) + "x"))
    assert ops(graph)["affine"] == MAX_EXPR_DEPTH - 1


def test_inside_a_block_and_a_call():
    text = (f"{HEAD}block f(h) {{\n  return {total(600, 'h')}\n}}\n"
            f"y = relu({total(300)} + f(x))\noutput y = y\n")  # fmt: skip
    graph, _, _ = compile_or_raise(text=text)
    assert ops(graph)["add"] == 599 + 300


@pytest.mark.parametrize("expression", [total(600), "-" * 500 + "x", " - ".join(["x * 2"] * 300),
                                        "relu(" * 100 + total(300) + ")" * 100])  # fmt: skip
def test_fmt_round_trips(expression):
    text = spec(expression)
    module, diags = parse(SourceFile("t.seqnet", text))
    assert module is not None, diags
    formatted = format_module(module)
    assert formatted == text
    again, _ = parse(SourceFile("t.seqnet", formatted))
    assert format_module(again) == formatted


@pytest.mark.parametrize("expression", [total(MAX_EXPR_DEPTH), "-" * (MAX_EXPR_DEPTH - 1) + "x"])
@pytest.mark.parametrize("command", [["check"], ["check", "--emit", "ast"], ["check", "--emit", "graph"],
                                     ["summary"], ["fmt", "--check"], ["fmt", "--stdout"]])  # fmt: skip
def test_every_command_handles_the_deepest_allowed(tmp_path, capsys, monkeypatch, expression, command):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "deep.seqnet").write_text(spec(expression))
    rc, out, _ = run([*command, "deep.seqnet"], capsys)
    assert rc == 0
    if command == ["fmt", "--stdout"]:
        assert out == spec(expression)  # already canonical: printed as it is


def test_render_handles_a_long_sum(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "deep.seqnet").write_text(spec(total(600)))
    rc, _, _ = run(["render", "deep.seqnet", "-o", "deep.dot"], capsys)
    assert rc == 0 and (tmp_path / "deep.dot").stat().st_size > 0


@pytest.mark.parametrize("expression", [total(MAX_EXPR_DEPTH + 1), "-" * MAX_EXPR_DEPTH + "x",
                                        total(20_000), "-" * 20_000 + "x"])  # fmt: skip
@pytest.mark.parametrize("command", [["check"], ["check", "--emit", "ast"], ["summary"], ["fmt"],
                                     ["render", "-o", "out.dot"]])  # fmt: skip
def test_too_deep_is_sqn0005_at_the_statement(tmp_path, capsys, monkeypatch, expression, command):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "deep.seqnet"
    text = f"{HEAD}ok = x + x\ny = {expression}\noutput y = y\n"
    path.write_text(text)
    rc, _, err = run([*command, "deep.seqnet"], capsys)
    assert rc == 1
    assert f"deep.seqnet:3:1: error[SQN0005]: this statement nests more than {MAX_EXPR_DEPTH} levels deep" in err
    assert "hint: split the expression into several statements" in err
    assert path.read_text() == text  # fmt left it alone
    assert not (tmp_path / "out.dot").exists()


def test_too_deep_inside_a_block_points_at_the_inner_statement():
    text = f"{HEAD}block f(h) {{\n  a = h\n  return {total(MAX_EXPR_DEPTH + 5, 'h')}\n}}\noutput y = f(x)\n"
    graph, diags = compile_source(SourceFile("t.seqnet", text))
    assert graph is None
    (d,) = diags
    assert (d.code, d.span.line, d.span.column) == ("SQN0005", 4, 3)
    assert d.span.end_column == 3 + len("return")


def test_only_the_deep_statements_are_reported():
    text = f"{HEAD}a = {total(900)}\nb = x\nc = {'-' * 900}x\noutput y = a\n"
    module, diags = parse(SourceFile("t.seqnet", text))
    assert module is None
    assert [(d.code, d.span.line) for d in diags] == [("SQN0005", 2), ("SQN0005", 4)]


def test_recursion_room_restores_the_limit():
    before = sys.getrecursionlimit()
    with recursion_room():
        assert sys.getrecursionlimit() > before
    assert sys.getrecursionlimit() == before
    with pytest.raises(KeyError), recursion_room():
        raise KeyError("x")
    assert sys.getrecursionlimit() == before


def test_deep_but_narrow_nesting_of_statements_is_not_limited():
    """Many statements (a long graph chain) are not nesting: no limit applies."""
    chain = "".join(f"y{i + 1} = y{i} + x\n" for i in range(2000))
    graph, _, _ = compile_or_raise(text=f"{HEAD}y0 = x\n{chain}output y = y2000\n")
    assert ops(graph)["add"] == 2000
