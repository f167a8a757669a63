"""`seqnet lsp`: the language server, over stdio (pygls + lsprotocol).

Each open buffer is checked as `seqnet check` checks a file, in one worker thread, after typing
pauses for `debounce_ms` (an initialization option; LSP_DEBOUNCE_MS by default): a burst of edits
costs one compile, and the server keeps answering while it runs. Requests read the last analysis
that parsed, so hover and completion keep working in a half-typed line. Nothing here imports JAX.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import unquote, urlparse

from lsprotocol import types as lsp
from pygls.lsp.server import LanguageServer

from seqnet.grammar.incremental import ParseCache
from seqnet.limits import LSP_DEBOUNCE_MS, MAX_LSP_BYTES
from seqnet.lsp import convert
from seqnet.lsp.actions import quick_fixes
from seqnet.lsp.analysis import Analysis, ModuleCache, add_index, analyse, index_only, span_key
from seqnet.lsp.complete import complete
from seqnet.lsp.hover import hover_text
from seqnet.lsp.outline import outline
from seqnet.lsp.symbols import IMPORT, build_index

log = logging.getLogger(__name__)
_ITEM_KINDS = {"op": lsp.CompletionItemKind.Function, "keyword": lsp.CompletionItemKind.Keyword,
               "setting": lsp.CompletionItemKind.Property, "value": lsp.CompletionItemKind.EnumMember,
               "argument": lsp.CompletionItemKind.Field, "name": lsp.CompletionItemKind.Variable}  # fmt: skip


def path_of(uri: str) -> Path | None:
    parsed = urlparse(uri)
    if parsed.scheme != "file":
        return None
    return Path(unquote(parsed.path)).resolve()


class SeqnetServer(LanguageServer):
    def __init__(self):
        from seqnet import __version__

        super().__init__("seqnet", __version__, text_document_sync_kind=lsp.TextDocumentSyncKind.Incremental)
        self.debounce = LSP_DEBOUNCE_MS / 1000
        self.analyses: dict[str, Analysis] = {}  # the latest of each buffer
        self.parsed: dict[str, Analysis] = {}  # the latest that parsed
        self.pending: dict[str, asyncio.Task] = {}
        self.parse_caches: dict[str, ParseCache] = {}  # each buffer's statements, last parsed
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="seqnet-check")
        self.modules = ModuleCache(self._open_text)

    def _open_text(self, path: Path) -> str | None:
        for uri, doc in list(self.workspace.text_documents.items()):
            if path_of(uri) == path:
                return doc.source
        return None

    # --- checking ------------------------------------------------------------------------------

    def schedule(self, uri: str, delay: float) -> None:
        old = self.pending.pop(uri, None)
        if old is not None:
            old.cancel()
        self.pending[uri] = asyncio.ensure_future(self._check_later(uri, delay))

    async def _check_later(self, uri: str, delay: float) -> None:
        await asyncio.sleep(delay)
        self.pending.pop(uri, None)  # from here on a newer edit schedules a new check
        doc = self.workspace.get_text_document(uri)
        text, version = doc.source, doc.version
        loop = asyncio.get_running_loop()
        cache = self.parse_caches.setdefault(uri, ParseCache())
        check = functools.partial(analyse, text, path_of(uri), None, self.modules, index=False,
                                  parse_cache=cache)  # fmt: skip
        try:
            a = await loop.run_in_executor(self.worker, check)
        except Exception as e:  # a compiler bug: say so in the editor, keep serving
            log.exception("checking %s failed", uri)
            self.window_log_message(lsp.LogMessageParams(lsp.MessageType.Error, f"seqnet: internal error: {e!r}"))
            return
        if uri not in self.workspace.text_documents:
            return  # closed meanwhile
        self.analyses[uri] = a
        here = a.source.path if a.source is not None else path_of(uri)
        diags = [convert.diagnostic(d, here) for d in a.diagnostics]
        self.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri, diags, version))
        # the diagnostics are out; requests read the last indexed analysis until this one is
        await loop.run_in_executor(self.worker, add_index, a, self.modules)
        if a.index is not None and self.analyses.get(uri) is a:
            self.parsed[uri] = a

    def current(self, uri: str) -> Analysis | None:
        """The latest analysis that parsed: the newest one, indexed here if the worker has not
        got to it yet, else the last one indexed."""
        a = self.analyses.get(uri)
        if a is not None and a.module is not None:
            add_index(a, self.modules)
            if a.index is not None:
                self.parsed[uri] = a
                return a
        return self.parsed.get(uri)

    def cursor(self, uri: str, pos: lsp.Position):
        a = self.current(uri)
        if a is None:
            return None, (0, 0)
        return a, convert.from_position(a.text.split("\n"), pos)


server = SeqnetServer()


@server.feature(lsp.INITIALIZE)
def _initialize(ls: SeqnetServer, params: lsp.InitializeParams) -> None:
    options = params.initialization_options or {}
    if isinstance(options, dict) and isinstance(options.get("debounce_ms"), (int, float)):
        ls.debounce = max(float(options["debounce_ms"]), 0.0) / 1000


@server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
def _did_open(ls: SeqnetServer, params: lsp.DidOpenTextDocumentParams) -> None:
    ls.schedule(params.text_document.uri, 0)


@server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
def _did_change(ls: SeqnetServer, params: lsp.DidChangeTextDocumentParams) -> None:
    ls.schedule(params.text_document.uri, ls.debounce)


@server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
def _did_save(ls: SeqnetServer, params: lsp.DidSaveTextDocumentParams) -> None:
    ls.schedule(params.text_document.uri, 0)  # an imported file on disk may have changed too


@server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
def _did_close(ls: SeqnetServer, params: lsp.DidCloseTextDocumentParams) -> None:
    uri = params.text_document.uri
    task = ls.pending.pop(uri, None)
    if task is not None:
        task.cancel()
    ls.analyses.pop(uri, None)
    ls.parsed.pop(uri, None)
    ls.parse_caches.pop(uri, None)
    ls.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri, []))


@server.feature(lsp.TEXT_DOCUMENT_HOVER)
def _hover(ls: SeqnetServer, params: lsp.HoverParams) -> lsp.Hover | None:
    a, (line, col) = ls.cursor(params.text_document.uri, params.position)
    text = hover_text(a, line, col) if a is not None else None
    if text is None:
        return None
    return lsp.Hover(lsp.MarkupContent(lsp.MarkupKind.Markdown, text))


@server.feature(lsp.TEXT_DOCUMENT_DEFINITION)
def _definition(ls: SeqnetServer, params: lsp.DefinitionParams) -> lsp.Location | None:
    a, (line, col) = ls.cursor(params.text_document.uri, params.position)
    occ = a.index.at(line, col) if a is not None else None
    if occ is None or occ.symbol is None:
        return None
    sym = occ.symbol
    if sym.kind == IMPORT and sym.target is not None and (occ.is_definition or sym.members is not None):
        return convert.file_location(sym.target) if occ.is_definition else convert.location(sym.span)
    return convert.location(sym.span)


@server.feature(lsp.TEXT_DOCUMENT_REFERENCES)
def _references(ls: SeqnetServer, params: lsp.ReferenceParams) -> list[lsp.Location]:
    a, (line, col) = ls.cursor(params.text_document.uri, params.position)
    occ = a.index.at(line, col) if a is not None else None
    if occ is None or occ.symbol is None:
        return []
    key = span_key(occ.symbol.span)
    docs = [x for uri in list(ls.analyses) if (x := ls.current(uri)) is not None]
    indexes = [x.index for x in docs]
    home = occ.symbol.span.source.path
    if home is not None and all(x.path != home for x in docs):
        module = ls.modules(home)  # the file that defines it, when it is not open
        if module is not None:
            indexes.append(build_index(module, ls.modules))
    out, seen = [], set()
    for index in indexes:
        for o in index.occurrences:
            if o.symbol is None or span_key(o.symbol.span) != key:
                continue
            if o.is_definition and not params.context.include_declaration:
                continue
            loc = convert.location(o.span)
            if loc is not None and (k := span_key(o.span)) not in seen:
                seen.add(k)
                out.append(loc)
    return out


@server.feature(lsp.TEXT_DOCUMENT_COMPLETION, lsp.CompletionOptions(trigger_characters=["(", "=", ",", " ", "."]))
def _completion(ls: SeqnetServer, params: lsp.CompletionParams) -> lsp.CompletionList:
    doc = ls.workspace.get_text_document(params.text_document.uri)
    lines = doc.source.split("\n")
    if len(doc.source) > MAX_LSP_BYTES:
        return lsp.CompletionList(is_incomplete=False, items=[])
    line, col = convert.from_position(lines, params.position)
    a = ls.analyses.get(doc.uri)
    if a is not None:
        add_index(a, ls.modules)  # where the worker has not indexed it yet
    if a is None or a.index is None:  # being typed: the names of the lines that parse
        blank = "\n".join(lines[: line - 1] + [""] + lines[line:])
        a = index_only(blank, path_of(doc.uri), ls.modules)
    words = complete(a, lines, line, col)
    items, seen = [], set()
    for w in words:
        if w.label in seen:
            continue
        seen.add(w.label)
        doc_text = lsp.MarkupContent(lsp.MarkupKind.Markdown, w.doc) if w.doc else None
        items.append(lsp.CompletionItem(label=w.label, detail=w.detail or None, documentation=doc_text,
                                        kind=_ITEM_KINDS.get(w.kind), insert_text=w.insert))  # fmt: skip
    return lsp.CompletionList(is_incomplete=False, items=items)


@server.feature(lsp.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
def _symbols(ls: SeqnetServer, params: lsp.DocumentSymbolParams) -> list[lsp.DocumentSymbol]:
    a = ls.current(params.text_document.uri)
    return outline(a.module) if a is not None else []


@server.feature(lsp.TEXT_DOCUMENT_FORMATTING)
def _format(ls: SeqnetServer, params: lsp.DocumentFormattingParams) -> list[lsp.TextEdit]:
    from seqnet.grammar.format import format_module
    from seqnet.grammar.parser import parse
    from seqnet.pipeline import source_from_text

    uri = params.text_document.uri
    text = ls.workspace.get_text_document(uri).source
    if len(text) > MAX_LSP_BYTES:
        return []
    source, err = source_from_text("buffer", text, path_of(uri))
    module = parse(source)[0] if err is None else None
    if module is None:  # `seqnet fmt` refuses a file with syntax errors, and so does this
        return []
    formatted = format_module(module)
    if formatted == text:
        return []
    lines = text.split("\n")
    end = lsp.Position(len(lines) - 1, len(lines[-1].encode("utf-16-le")) // 2)
    return [lsp.TextEdit(lsp.Range(lsp.Position(0, 0), end), formatted)]


@server.feature(lsp.TEXT_DOCUMENT_CODE_ACTION,
                lsp.CodeActionOptions(code_action_kinds=[lsp.CodeActionKind.QuickFix]))  # fmt: skip
def _code_actions(ls: SeqnetServer, params: lsp.CodeActionParams) -> list[lsp.CodeAction]:
    uri = params.text_document.uri
    a = ls.analyses.get(uri)
    if a is None or a.source is None:
        return []
    return quick_fixes(a.diagnostics, uri, a.source.path, params.range)


def main() -> int:
    """Serve one client over stdin and stdout until it exits."""
    server.start_io()
    return 0
