"""The language server is front end only: a whole session (check, hover, completion, outline,
formatting, navigation) never imports JAX, which would cost seconds at start-up and memory in
every editor. The server runs in its own process and, as it exits, writes down whether it did."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

pytest_lsp = pytest.importorskip("pytest_lsp")
from lsprotocol import types as lsp  # noqa: E402
from pytest_lsp import LanguageClient, client_capabilities  # noqa: E402

from tests.lsp.test_server import ENCODER, ROOT, open_doc, server_config  # noqa: E402

REPORT = Path(os.environ.get("PYTEST_LSP_JAX_REPORT", "/tmp")) / f"seqnet-lsp-modules-{os.getpid()}.txt"
# The server, with a line at its exit that writes which of the modules we care about it loaded.
SERVER = f"""
import sys
from seqnet.cli import main
try:
    code = main(["lsp"])
finally:
    open({str(REPORT)!r}, "w").write(" ".join(m for m in ("jax", "jaxlib", "optax") if m in sys.modules))
sys.exit(code)
"""

pytestmark = pytest.mark.asyncio


@pytest_lsp.fixture(config=server_config([sys.executable, "-c", SERVER], {**os.environ, "PYTHONPATH": str(ROOT)}))
async def client(lsp_client: LanguageClient):
    REPORT.unlink(missing_ok=True)
    await lsp_client.initialize_session(lsp.InitializeParams(capabilities=client_capabilities("neovim")))
    yield


async def test_a_server_session_never_imports_jax(client: LanguageClient):
    uri, got = await open_doc(client, ENCODER)
    assert got == []
    at = lsp.TextDocumentIdentifier(uri)
    assert await client.text_document_hover_async(lsp.HoverParams(at, lsp.Position(13, 28))) is not None
    assert (await client.text_document_completion_async(lsp.CompletionParams(at, lsp.Position(11, 4)))).items
    assert await client.text_document_document_symbol_async(lsp.DocumentSymbolParams(at))
    assert await client.text_document_definition_async(lsp.DefinitionParams(at, lsp.Position(12, 21)))
    await client.text_document_formatting_async(lsp.DocumentFormattingParams(at, lsp.FormattingOptions(2, True)))
    await client.shutdown_session()
    assert REPORT.read_text() == ""  # no JAX, jaxlib or optax module was loaded
    REPORT.unlink()
