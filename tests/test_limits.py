"""Every limit in seqnet/limits.py is enforced from the spec, located, with a hint; the ones
without a golden diagnostic (tests/diagnostics/) are tested here. Also the front-end items of the
reliability issue: no internal error for scalars, no 'cascade' pseudo-diagnostic, CR-only line
endings, language spelling in hints and --emit graph, the wormhole note in summary."""

from __future__ import annotations

import pytest

import seqnet
from seqnet import limits
from seqnet.codes import CODES
from seqnet.compiler.ops.catalog import load_ops
from seqnet.compiler.ops.registry import OPS, OpCall, ShapeError
from seqnet.compiler.summary import summarize, summary_table
from seqnet.compiler.types import Dim, TensorType
from seqnet.grammar.parser import parse
from seqnet.pipeline import compile_source
from seqnet.source import SourceFile
from tests.cli_run import run

HEAD = "input x : float32[4]\n"
GOLDEN = {  # limit -> the golden diagnostic that covers it
    "MAX_NUMBER_CHARS": "number_too_long",
    "MAX_REPEAT": "repeat_too_many",
    "MAX_NODES": "repeat_too_many_nodes",
    "MAX_DIM": "dim_too_large",
    "MAX_INT": "set_seed_too_large",
}


def compile_text(text: str, overrides=None):
    return compile_source(SourceFile("t.seqnet", text), overrides)


def only_error(text: str, overrides=None):
    graph, diags = compile_text(text, overrides)
    assert graph is None
    (d,) = [d for d in diags if d.severity == "error"]
    assert d.span is not None and d.hint
    return d


def test_every_limit_has_a_golden_or_a_test_here():
    names = {n for n in dir(limits) if n.startswith("MAX_")}
    from pathlib import Path

    here = Path(__file__).read_text()
    for name in names:
        assert name in GOLDEN or f"limits.{name}" in here, name
    diags = Path(__file__).parent / "diagnostics"
    for case in GOLDEN.values():
        assert (diags / f"{case}.expected").exists(), case


def test_a_long_line_is_refused_before_lexing_with_a_bounded_excerpt(tmp_path, capsys, monkeypatch):
    """A one-line 10 MB expression: refused by a string scan, and the caret line printed is a
    window of the line, not the line."""
    n = 10 * 2**20 // 4
    text = HEAD + "output y : float32[4] = " + " + ".join(["x"] * n) + "\n"
    assert len(text) > 10 * 2**20
    monkeypatch.chdir(tmp_path)
    (tmp_path / "long.seqnet").write_text(text)
    rc, _, err = run(["check", "long.seqnet"], capsys)
    assert rc == 1
    assert f"long.seqnet:2:{limits.MAX_LINE_CHARS + 1}: error[SQN0005]: line 2 has " in err
    assert "hint: break it after a ','" in err
    assert len(err) < 2000  # the excerpt, never the megabytes


def test_a_statement_of_too_many_tokens_is_refused_at_its_start(monkeypatch):
    """Lines inside brackets continue a statement: its tokens are counted, and parsing stops
    at limits.MAX_STATEMENT_TOKENS instead of parsing the rest."""
    monkeypatch.setattr("seqnet.grammar.parser.MAX_STATEMENT_TOKENS", 50)
    items = ",\n".join(str(i) for i in range(40))
    module, diags = parse(SourceFile("t.seqnet", f"{HEAD}const c = [\n{items}\n]\n"))
    assert module is None
    (d,) = diags
    assert (d.code, d.span.line, d.span.column) == ("SQN0005", 2, 1)
    assert "more than 50 tokens" in d.message and d.hint
    short = ",\n".join(str(i) for i in range(10))  # under the limit: parses
    assert parse(SourceFile("t.seqnet", f"{HEAD}const c = [\n{short}\n]\n"))[0] is not None


def test_number_limits_through_set_are_located_and_bounded():
    text = "dim N = 4\n" + HEAD + "output y : float32[4] = dense(x, N)\n"
    d = only_error(text, {"N": "9" * 5000})  # a located error, not the whole number twice
    assert d.code == "SQN0005" and d.span.file == "<command line>"
    assert len(d.render()) < 1000
    d = only_error(text, {"N": str(2**62 + 1)})
    assert d.code == "SQN0604" and "at most 2**62" in d.message


def test_int_literal_above_max_int_in_a_spec():
    d = only_error(f"dim N = {limits.MAX_INT + 1}\n{HEAD}output y : float32[4] = relu(x)\n")
    assert (d.code, d.span.line, d.span.column) == ("SQN0604", 1, 9)
    ok, _ = compile_text(f"const big = {limits.MAX_INT}\n{HEAD}output y : float32[4] = relu(x)\n")
    assert ok is not None


def test_an_input_axis_above_max_dim():
    d = only_error(f"input x : float32[{limits.MAX_DIM + 1}]\noutput y = relu(x)\n")
    assert d.code == "SQN0108" and (d.span.line, d.span.column) == (1, 19)


def test_max_nodes_stops_nested_blocks_without_a_repeat(monkeypatch):
    """Blocks calling blocks multiply nodes as well as repeats do; the count is global."""
    monkeypatch.setattr("seqnet.compiler.context.MAX_NODES", 50)
    text = (HEAD + "block a(h) {\n  return relu(relu(relu(relu(h))))\n}\n"
            "block b(h) {\n  return a(a(a(a(h))))\n}\n"
            "block c(h) {\n  return b(b(b(b(h))))\n}\noutput y = c(x)\n")  # fmt: skip
    d = only_error(text)
    assert d.code == "SQN0005" and "exceeds 50 nodes" in d.message


def test_max_block_depth():
    body = "".join(f"block f{i}(h) {{\n  return f{i + 1}(h)\n}}\n" for i in range(limits.MAX_BLOCK_DEPTH + 1))
    text = HEAD + body + f"block f{limits.MAX_BLOCK_DEPTH + 1}(h) {{\n  return relu(h)\n}}\noutput y = f0(x)\n"
    d = only_error(text)
    assert d.code == "SQN0005" and f"more than {limits.MAX_BLOCK_DEPTH} deep" in d.message


def test_max_segment_n():
    text = ("dim N = 70000\ninput x : float32[N, 4]\n"
            "segments t = binary_tree(N) {\n  token = dense(out=4)\n  fusion = dense(out=4)\n"
            "  decoder = dense(out=4)\n}\noutput y = t(x)\n")  # fmt: skip
    graph, diags = compile_text(text)
    assert graph is None
    assert any(d.code == "SQN0108" and str(limits.MAX_SEGMENT_N) in d.message for d in diags)


def test_max_syntax_errors_max_nesting_and_file_bytes_are_the_parsers_and_readers():
    from seqnet import pipeline
    from seqnet.grammar import parser

    assert pipeline.MAX_FILE_BYTES == limits.MAX_FILE_BYTES  # one definition, used there
    assert parser.MAX_NESTING == limits.MAX_NESTING and parser.MAX_EXPR_DEPTH == limits.MAX_EXPR_DEPTH
    _, diags = parse(SourceFile("t.seqnet", "h = dense(x 3)\n" * 50))
    assert len(diags) == limits.MAX_SYNTAX_ERRORS
    _, diags = parse(SourceFile("t.seqnet", "h = " + "(" * (limits.MAX_NESTING + 1) + "x\n"))
    assert [d.code for d in diags] == ["SQN0005"]


# --- no internal errors --------------------------------------------------------------------------


@pytest.mark.parametrize("rank", [0, 1])
def test_every_op_refuses_a_scalar_with_a_shape_error(rank):
    """infer, params and flops of every op on rank-0 (and rank-1) tensors: a ShapeError or a
    result, never an IndexError (layernorm, rmsnorm and wormhole_gate indexed dims[-1])."""
    load_ops()
    fill = {"int": 2, "float": 0.5, "bool": True, "str": "relu", "ints": (2,), "any": ()}
    t = TensorType("float32", tuple(Dim(4, "4") for _ in range(rank)))
    for name, op in sorted(OPS.items()):
        if name == "segments":
            continue  # built by its statement from regions, never from tensors alone
        types, attrs = {}, {}
        for a in op.args:
            if a.kind == "tensors":
                types[a.name] = (t, t)
            elif a.is_tensor:
                types[a.name] = t
            elif a.required:
                attrs[a.name] = a.choices[0] if a.kind == "choice" else fill[a.kind]
            else:
                attrs[a.name] = a.default
        if name == "wormhole_gate":
            attrs.update(units=4, target_shape=(Dim(4, "4"),))
        call = OpCall(op, types, attrs)
        try:
            op.flops(call, op.infer(call))
            op.params(call)
        except ShapeError:
            pass


def test_no_cascade_pseudo_diagnostic_leaks():
    graph, diags = compile_text("dim N = 0\n" + HEAD + "output y : float32[N] = dense(x, 4)\n")
    assert graph is None
    assert [d.code for d in diags] == ["SQN0108"]
    assert all(d.code in CODES for d in diags)


# --- line endings, spelling, summary --------------------------------------------------------------


def test_cr_only_line_endings_are_lines():
    text = "# a comment\r" + HEAD.replace("\n", "\r") + "output y : float32[4] = relu(x)\r"
    graph, diags = compile_text(text)
    assert graph is not None, diags
    assert SourceFile("t", "a\rb\r\nc").text == "a\nb\r\nc"  # CRLF stays as the lexer reads it


def test_signatures_and_emit_graph_spell_values_as_the_language(capsys, tmp_path, monkeypatch):
    load_ops()
    sig = OPS["attention"].signature()
    assert "kv=none" in sig and "causal=false" in sig and "None" not in sig and "False" not in sig
    graph, _ = compile_text("input x : float32[4, 8]\nh = attention(x, heads=2, kv=none)\n"
                            "output y = layernorm(h)\n")  # fmt: skip
    assert graph is not None  # `kv=none`, as the signature writes it, is accepted
    monkeypatch.chdir(tmp_path)
    (tmp_path / "g.seqnet").write_text("input x : float32[4, 8]\noutput y = layernorm(x)\n")
    rc, out, _ = run(["check", "g.seqnet", "--emit", "graph"], capsys)
    assert rc == 0 and "center=true" in out and "True" not in out


def test_summary_says_flops_count_one_pass_of_a_wormhole_loop():
    text = (HEAD + "h1 = dense(x, 4, act=tanh)\nh2 = dense(h1, 4, act=tanh)\n"
            "output y = dense(h2, 4)\nwormhole h2 -> h1 max_iter=50\n")  # fmt: skip
    graph, diags = compile_text(text)
    assert graph is not None, diags
    data = summarize(graph)
    assert data["wormhole_loops"] == [{"from": "wormhole_h2_to_h1", "to": "h1", "max_iter": 50}]
    assert "(one pass through the wormhole loop; solving repeats a loop up to max_iter = 50 times)" \
        in summary_table(data)  # fmt: skip
    plain, _ = compile_text(HEAD + "output y = dense(x, 4)\n")
    assert "wormhole" not in summary_table(summarize(plain))


def test_the_language_server_checks_buffers_up_to_its_limit():
    """A buffer over limits.MAX_LSP_BYTES gets one warning and is not parsed (an editor must not
    wait on it); one under it is checked as `seqnet check` would."""
    from seqnet.lsp.analysis import analyse

    big = analyse("dim N = 4\n#" + "x" * limits.MAX_LSP_BYTES + "\n", None)
    assert [(d.code, d.severity) for d in big.diagnostics] == [("SQN0005", "warning")]
    assert "seqnet check" in big.diagnostics[0].hint and big.module is None
    small = analyse("dim N = 4\ninput x : float32[N]\noutput y : float32[N] = dense(x, N)\n", None)
    assert small.diagnostics == [] and small.graph is not None


def test_a_text_corpus_over_the_limit_is_refused_at_its_argument(tmp_path, monkeypatch):
    (tmp_path / "big.txt").write_text("ab" * 100)
    monkeypatch.setattr(limits, "MAX_CORPUS_BYTES", 64)
    spec = ('input x : int32[4] vocab 3\noutput y : float32[4, 3] = dense(embed(x, 2), 3)\n'
            'train {\n  data = text(seq_len=4, path="big.txt")\n  loss = cross_entropy(y, target)\n}\n')
    with pytest.raises(seqnet.SpecError) as e:
        seqnet.loads(spec, name="s.seqnet", base_dir=tmp_path)
    text = e.value.render()
    assert "s.seqnet:4:31: error[SQN0108]" in text
    assert f"over the {limits.MAX_CORPUS_BYTES}-byte limit" in text and "64-byte" in text
    assert "hint: train on a part of it" in text
