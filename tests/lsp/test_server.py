"""`seqnet lsp` end to end: a real client (pytest-lsp) talks to the server over stdio, one test per
feature, on shipped specs and broken ones."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

pytest_lsp = pytest.importorskip("pytest_lsp")
from lsprotocol import types as lsp  # noqa: E402
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities  # noqa: E402
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, register_lsp_features  # noqa: E402

from seqnet.grammar.format import format_module  # noqa: E402
from seqnet.grammar.parser import parse  # noqa: E402
from seqnet.limits import MAX_LSP_BYTES  # noqa: E402
from seqnet.pipeline import run  # noqa: E402
from seqnet.source import SourceFile  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "specs"
BROKEN = ROOT / "tests" / "diagnostics"
ENCODER = SPECS / "transformer_encoder.seqnet"
LAYERS = SPECS / "lib" / "layers.seqnet"
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}  # the server imports this checkout
WAIT = 60  # seconds a test waits for the server before failing (a hang, not a timing check)

# One server for the module, as an editor keeps one for its session: every test opens the files it
# reads (a reopened file replaces what an earlier test left); `make test` runs a file on one worker.
pytestmark = pytest.mark.asyncio(loop_scope="module")


def recording_client() -> LanguageClient:
    """pytest-lsp's client, keeping every diagnostics notification in `client.published` as
    (uri, version, diagnostics): its own wait_for_notification holds one waiter per method, so
    a notification that arrives right behind another is lost to a test looping on it."""
    client = LanguageClient()
    client.published = []

    def publish(client: LanguageClient, params: lsp.PublishDiagnosticsParams):
        client.diagnostics[params.uri] = params.diagnostics
        client.published.append((params.uri, params.version, list(params.diagnostics)))

    register_lsp_features(client, {**DEFAULT_CLIENT_FEATURES, lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS: publish})
    return client


def server_config(command: list[str], env: dict) -> ClientServerConfig:
    return ClientServerConfig(server_command=command, server_env=env, client_factory=recording_client)


@pytest_lsp.fixture(scope="module", config=server_config([sys.executable, "-m", "seqnet", "lsp"], ENV))
async def client(lsp_client: LanguageClient):
    await lsp_client.initialize_session(lsp.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"),
        initialization_options={"debounce_ms": 10}, root_uri=SPECS.as_uri(),
    ))  # fmt: skip
    yield
    await lsp_client.shutdown_session()


def published(client: LanguageClient, uri: str, version: int):
    """The diagnostics the server publishes for `uri` at `version` from now on (an awaitable:
    call it before sending the change, so nothing published in between is missed)."""
    start = len(client.published)

    async def wait():
        while True:
            for u, v, diagnostics in client.published[start:]:
                if u == uri and v == version:
                    return diagnostics
            await asyncio.sleep(0.01)

    return asyncio.wait_for(wait(), WAIT)


async def open_doc(client: LanguageClient, path: Path, text: str | None = None) -> tuple[str, list]:
    uri = path.resolve().as_uri()
    text = path.read_text() if text is None else text
    waiting = asyncio.ensure_future(published(client, uri, 1))
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(lsp.TextDocumentItem(uri, "seqnet", 1, text)))
    return uri, await waiting


def pos(line: int, column: int) -> lsp.Position:
    """From the 1-based line:column that diagnostics print."""
    return lsp.Position(line - 1, column - 1)


def doc(uri: str) -> lsp.TextDocumentIdentifier:
    return lsp.TextDocumentIdentifier(uri)


async def hover(client, uri, line, column) -> str | None:
    h = await client.text_document_hover_async(lsp.HoverParams(doc(uri), pos(line, column)))
    return None if h is None else h.contents.value


async def labels(client, uri, line, column) -> list[str]:
    result = await client.text_document_completion_async(lsp.CompletionParams(doc(uri), pos(line, column)))
    return [item.label for item in result.items]


def expected(path: Path):
    return run(Path(os.path.relpath(path))).diagnostics  # named as the server names it


# --- diagnostics ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["unknown_op", "unused_warning", "block_call_chain", "add_width_mismatch",
                                  "train_unknown_key", "binary", "dim_division"])  # fmt: skip
async def test_diagnostics_are_those_of_check(client: LanguageClient, name: str):
    path = BROKEN / f"{name}.seqnet"
    text = path.read_bytes().decode("utf-8", "replace") if name != "binary" else path.read_bytes().decode("latin-1")
    _, got = await open_doc(client, path, text)
    want = expected(path)
    assert [d.code for d in got] == [d.code for d in want]
    for g, w in zip(got, want):
        assert g.message == w.message + (f"\nhint: {w.hint}" if w.hint else "")
        severity = lsp.DiagnosticSeverity.Warning if w.severity == "warning" else lsp.DiagnosticSeverity.Error
        assert g.severity == severity
        if w.span is not None:
            assert (g.range.start.line, g.range.start.character) == (w.span.line - 1, w.span.column - 1)
        related = [(r.location.range.start.line + 1, r.message) for r in g.related_information or ()]
        assert related == [(n.span.line, n.label) for n in w.notes] + [(s.line, "in block called here") for s in w.chain]


async def test_a_shipped_spec_has_no_diagnostics_and_warnings_are_warnings(client: LanguageClient):
    _, got = await open_doc(client, ENCODER)
    assert got == []
    _, got = await open_doc(client, BROKEN / "unused_warning.seqnet")
    assert {d.severity for d in got} == {lsp.DiagnosticSeverity.Warning}


async def test_edits_are_checked_after_typing_pauses(client: LanguageClient):
    uri, _ = await open_doc(client, ENCODER)
    text = ENCODER.read_text()
    waiting = asyncio.ensure_future(published(client, uri, 6))
    for version in range(2, 7):  # five quick edits: a typo typed one letter at a time
        typed = text.replace("dense(layernorm(h), V)", "dense(layernorm(hh" + "x" * (version - 2) + "), V)")
        client.text_document_did_change(lsp.DidChangeTextDocumentParams(
            lsp.VersionedTextDocumentIdentifier(uri=uri, version=version),
            [lsp.TextDocumentContentChangeWholeDocument(typed)],
        ))  # fmt: skip
    got = await waiting
    assert [d.code for d in got] == ["SQN0101"]
    assert "hhxxxx" in got[0].message


async def test_an_error_in_an_imported_file_is_shown_at_the_call(client: LanguageClient, tmp_path: Path):
    (tmp_path / "lib.seqnet").write_text("block bad(x) {\n  return dense(x, 4) + x\n}\n")
    main = tmp_path / "main.seqnet"
    main.write_text('import "lib.seqnet"\ninput x : float32[8]\noutput y : float32[4] = bad(x)\n')
    _, got = await open_doc(client, main)
    assert [d.code for d in got] == ["SQN0301"]
    assert got[0].range.start.line == 2  # the call of `bad`, in this file
    assert "lib.seqnet:2:" in got[0].message
    assert got[0].related_information[0].location.uri == (tmp_path / "lib.seqnet").resolve().as_uri()


# --- hover -----------------------------------------------------------------------------------------


async def test_hover_shows_types_ops_params_flops_and_dims(client: LanguageClient):
    uri, _ = await open_doc(client, ENCODER)
    h = await hover(client, uri, 12, 1)  # h = positional(embed(x, E))
    assert "float32[N, E]" in h and "float32[16, 64]" in h
    dense = await hover(client, uri, 14, 29)  # dense(layernorm(h), V)
    assert "dense(x, units, act=none, bias=true)" in dense
    assert "parameters: 650" in dense  # 64 * 10 + 10
    assert "FLOPs per example: 20,480" in dense
    assert "dim N = 16" in await hover(client, uri, 10, 17)
    block = await hover(client, uri, 13, 22)  # encoder_block, called LAYERS = 2 times
    assert "block encoder_block(x, width, heads=4, ff=4)" in block and "built 2 times" in block
    assert "Adds position encodings" in await hover(client, uri, 12, 5)  # positional(...)
    assert await hover(client, uri, 1, 3) is None  # a comment


# --- navigation ------------------------------------------------------------------------------------


async def definition(client, uri, line, column):
    return await client.text_document_definition_async(lsp.DefinitionParams(doc(uri), pos(line, column)))


async def test_definition_of_names_blocks_dims_and_imports(client: LanguageClient):
    uri, _ = await open_doc(client, ENCODER)
    loc = await definition(client, uri, 13, 22)  # encoder_block -> lib/layers.seqnet
    assert loc.uri == LAYERS.resolve().as_uri() and loc.range.start.line == 14
    loc = await definition(client, uri, 14, 44)  # h in dense(layernorm(h), V) -> line 13
    assert loc.uri == uri and loc.range.start.line == 12
    loc = await definition(client, uri, 14, 23)  # V in float32[N, V]
    assert loc.range.start == lsp.Position(5, 4)
    loc = await definition(client, uri, 3, 10)  # the import's path -> the file
    assert loc.uri == LAYERS.resolve().as_uri() and loc.range.start == lsp.Position(0, 0)
    assert await definition(client, uri, 14, 29) is None  # dense is an op: no source


async def test_references_of_a_dim_and_of_an_imported_block(client: LanguageClient):
    uri, _ = await open_doc(client, ENCODER)
    refs = await client.text_document_references_async(lsp.ReferenceParams(
        text_document=doc(uri), position=pos(6, 5), context=lsp.ReferenceContext(include_declaration=True)))  # dim V
    assert sorted(r.range.start.line + 1 for r in refs) == [6, 10, 14, 14, 17]
    refs = await client.text_document_references_async(lsp.ReferenceParams(
        text_document=doc(uri), position=pos(13, 22), context=lsp.ReferenceContext(include_declaration=True)))  # encoder_block
    assert {(Path(r.uri[7:]).name, r.range.start.line + 1) for r in refs} == {
        ("layers.seqnet", 15), ("transformer_encoder.seqnet", 13)}


# --- completion ------------------------------------------------------------------------------------


async def test_completion_of_ops_keywords_choices_names_and_train(client: LanguageClient):
    text = ENCODER.read_text().replace("  batch = 64\n", "  batch = 64\n  optimizer = \n  st\n")
    lines = text.split("\n")
    extra = ["z = dense(h, ", "w = dense(h, 4, act=", "q = "]
    text = "\n".join(lines[:15] + extra + lines[15:])
    uri, _ = await open_doc(client, ENCODER, text)
    at = {s: i + 1 for i, s in enumerate(text.split("\n"))}
    kw = await labels(client, uri, at["z = dense(h, "], len("z = dense(h, ") + 1)
    assert {"units", "act", "bias"} <= set(kw) and "h" in kw
    assert "relu" in await labels(client, uri, at["w = dense(h, 4, act="], len("w = dense(h, 4, act=") + 1)
    anywhere = await labels(client, uri, at["q = "], 5)
    assert {"dense", "attention", "encoder_block", "x", "h", "E"} <= set(anywhere)
    assert {"adam", "sgd"} <= set(await labels(client, uri, at["  optimizer = "], len("  optimizer = ") + 1))
    assert {"steps", "metrics", "loss"} <= set(await labels(client, uri, at["  st"], 5))
    data_line = next(i + 1 for i, s in enumerate(text.split("\n")) if s.startswith("  data = "))
    assert {"vocab"} <= set(await labels(client, uri, data_line, len("  data = task.sort(") + 1))


# --- outline, formatting, quick fixes --------------------------------------------------------------


async def test_document_symbols_outline_the_spec(client: LanguageClient):
    uri, _ = await open_doc(client, ENCODER)
    symbols = await client.text_document_document_symbol_async(lsp.DocumentSymbolParams(doc(uri)))
    assert [s.name for s in symbols] == ["lib/layers.seqnet", "N", "V", "E", "LAYERS", "x", "h", "h", "y", "train"]
    train = symbols[-1]
    assert [c.name for c in train.children][:3] == ["data", "loss", "optimizer"]
    uri, _ = await open_doc(client, LAYERS)
    blocks = await client.text_document_document_symbol_async(lsp.DocumentSymbolParams(doc(uri)))
    assert [(b.name, b.kind) for b in blocks] == [(n, lsp.SymbolKind.Function) for n in ("mlp", "residual", "encoder_block")]
    assert [c.name for c in blocks[0].children][:4] == ["x", "out", "hidden", "act"]


async def format_edits(client, uri):
    return await client.text_document_formatting_async(lsp.DocumentFormattingParams(
        doc(uri), lsp.FormattingOptions(tab_size=2, insert_spaces=True)))  # fmt: skip


async def test_formatting_is_seqnet_fmt(client: LanguageClient, tmp_path: Path):
    messy = "dim  N=4\ninput x:float32[N]\noutput y : float32[N] = dense( x,N ,act=relu)\n"
    uri, _ = await open_doc(client, tmp_path / "messy.seqnet", messy)
    edits = await format_edits(client, uri)
    module, _ = parse(SourceFile("messy.seqnet", messy))
    assert len(edits) == 1 and edits[0].new_text == format_module(module)
    assert edits[0].range.start == lsp.Position(0, 0)
    uri, _ = await open_doc(client, tmp_path / "broken.seqnet", "h = dense(x,\n")
    assert not await format_edits(client, uri)  # a file that does not parse is left alone
    uri, _ = await open_doc(client, ENCODER)
    assert not await format_edits(client, uri)  # already canonical


async def test_code_actions_apply_did_you_mean(client: LanguageClient):
    path = BROKEN / "unknown_op.seqnet"
    uri, diags = await open_doc(client, path)
    actions = await client.text_document_code_action_async(lsp.CodeActionParams(
        doc(uri), diags[0].range, lsp.CodeActionContext(diagnostics=diags)))  # fmt: skip
    assert [a.title for a in actions] == ["Replace 'dens' with 'dense'"]
    (edit,) = actions[0].edit.changes[uri]
    line = path.read_text().split("\n")[edit.range.start.line]
    fixed = line[: edit.range.start.character] + edit.new_text + line[edit.range.end.character :]
    assert fixed == "output y : float32[32] = dense(x, 32)"


# --- bad input -------------------------------------------------------------------------------------


async def test_bad_input_never_crashes_or_hangs_the_server(client: LanguageClient, tmp_path: Path):
    uri, got = await open_doc(client, tmp_path / "half.seqnet", "dim N = 4\ninput x : float32[N]\nh = dense(x,")
    assert got and got[0].code == "SQN0001"
    assert "N" in await labels(client, uri, 3, 13)  # completion still answers in a half-typed line
    _, got = await open_doc(client, tmp_path / "junk.seqnet", "\x00\x01\xff garbage \x00" * 100)
    assert [d.code for d in got] == ["SQN0004"]
    big = "dim N = 4\n" + "# padding padding padding padding padding padding\n" * (10 * 2**20 // 50)
    uri, got = await open_doc(client, tmp_path / "big.seqnet", big)
    assert len(big) > MAX_LSP_BYTES
    assert [(d.code, d.severity) for d in got] == [("SQN0005", lsp.DiagnosticSeverity.Warning)]
    assert await hover(client, uri, 1, 5) is None
    assert not await format_edits(client, uri)
    uri, got = await open_doc(client, ENCODER)  # and it still serves the next file
    assert got == [] and "float32[16, 64]" in await hover(client, uri, 12, 1)


async def test_wormhole_settings_complete_and_hover(client: LanguageClient):
    path = SPECS / "wormhole_sine.seqnet"
    lines = path.read_text().split("\n")
    assert lines[10].startswith("wormhole h3 -> h1 gate=sigmoid")
    uri, got = await open_doc(client, path)
    assert got == []
    assert "one of: `sigmoid`" in await hover(client, uri, 11, 20)  # gate=
    lines[10] = "wormhole h3 -> h1 solver="
    client.text_document_did_change(lsp.DidChangeTextDocumentParams(
        lsp.VersionedTextDocumentIdentifier(uri=uri, version=2),
        [lsp.TextDocumentContentChangeWholeDocument("\n".join(lines))],
    ))  # fmt: skip
    solvers = await labels(client, uri, 11, len(lines[10]) + 1)
    assert "fixed_point" in solvers and "units" not in solvers
    lines[10] = "wormhole h3 -> h1 "
    client.text_document_did_change(lsp.DidChangeTextDocumentParams(
        lsp.VersionedTextDocumentIdentifier(uri=uri, version=3),
        [lsp.TextDocumentContentChangeWholeDocument("\n".join(lines))],
    ))  # fmt: skip
    settings = await labels(client, uri, 11, len(lines[10]) + 1)
    assert {"gate", "tol", "max_iter", "solver"} <= set(settings) and "target_shape" not in settings
