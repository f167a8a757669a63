"""One editor buffer checked as `seqnet check` checks a file: the diagnostics, the AST, the name
index and the graph that hover, completion and navigation read.

Nothing here knows the protocol (see server.py), so it is tested and timed without a client. A
buffer over MAX_LSP_BYTES is not compiled: it gets one warning that says so (see limits.py).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from seqnet.errors import Diagnostic
from seqnet.limits import MAX_LSP_BYTES
from seqnet.lsp.symbols import Index, build_index
from seqnet.source import SourceFile, Span

log = logging.getLogger(__name__)
OpenText = Callable[[Path], "str | None"]  # an open buffer's text, which wins over the disk's


@dataclass
class Analysis:
    name: str
    path: Path | None
    text: str
    source: SourceFile | None = None
    module: object = None  # grammar.ast.Module, when the text parses
    index: Index | None = None
    graph: object = None  # the elaborated graph, when elaboration got that far
    diagnostics: list[Diagnostic] = field(default_factory=list)
    _by_span: dict | None = None

    def nodes_at(self, span: Span) -> list[str]:
        """The graph nodes built from the expression that starts where `span` starts (several
        where a block or repeat builds it more than once), in graph order."""
        if self.graph is None:
            return []
        if self._by_span is None:
            self._by_span = {}
            for name, data in self.graph.nodes(data=True):
                if data.get("span") is not None:
                    self._by_span.setdefault(span_key(data["span"]), []).append(name)
        return self._by_span.get(span_key(span), [])

    def nodes_within(self, span: Span) -> list[str]:
        """The nodes whose outermost call site (or own span, outside blocks) lies inside
        `span`, by their order in the graph."""
        if self.graph is None:
            return []
        out = []
        for name, data in self.graph.nodes(data=True):
            chain = data.get("chain") or ()
            anchor = chain[-1] if chain else data.get("span")
            if anchor is not None and contains(span, anchor):
                out.append((data.get("order", 0), name))
        return [n for _, n in sorted(out)]


def span_key(span: Span) -> tuple:
    return (span.source.path or span.source.name, span.line, span.column)


def contains(outer: Span, inner: Span) -> bool:
    if (outer.source.path or outer.source.name) != (inner.source.path or inner.source.name):
        return False
    return (outer.line, outer.column) <= (inner.line, inner.column) and (
        (inner.end_line, inner.end_column) <= (outer.end_line, outer.end_column)
    )


def display_name(path: Path | None, fallback: str) -> str:
    """The name `seqnet check` would print for the file: relative to the working folder."""
    if path is None:
        return fallback
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        return str(path)


class ModuleCache:
    """Parsed imported files, reused while a file is unchanged (by its size and mtime)."""

    def __init__(self, open_text: OpenText | None = None):
        self.open_text = open_text
        self._cache: dict[Path, tuple[tuple, object]] = {}

    def __call__(self, path: Path):
        from seqnet.grammar.parser import parse
        from seqnet.pipeline import read_source, source_from_text

        text = self.open_text(path) if self.open_text else None
        try:
            st = path.stat()
            stamp = ("disk", st.st_size, st.st_mtime_ns) if text is None else ("open", hash(text))
        except OSError:
            if text is None:
                return None
            stamp = ("open", hash(text))
        hit = self._cache.get(path)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        if text is None:
            source, err = read_source(path, display_name(path, str(path)))
        else:
            source, err = source_from_text(display_name(path, str(path)), text, path)
        module = None
        if err is None and len(source.text) <= MAX_LSP_BYTES:
            module, _ = parse(source)
        self._cache[path] = (stamp, module)
        return module


def analyse(text: str, path: Path | None, name: str | None = None, modules: ModuleCache | None = None,
            *, index: bool = True, parse_cache=None) -> Analysis:  # fmt: skip
    """Check a buffer through every stage, as `seqnet check` does, keeping what each produced.

    The diagnostics are `check`'s; what is skipped is the IR schema verifier, the compiler's
    check of its own work between stages (seqnet check and the tests run it), which costs the
    editor time on every edit. index=False leaves the name index to `add_index`: the server
    publishes the diagnostics first and indexes after. parse_cache: the buffer's
    grammar.incremental.ParseCache, so an edit re-parses only the statements it changed."""
    from seqnet.pipeline import run, source_from_text

    name = name or display_name(path, "untitled.seqnet")
    a = Analysis(name, path, text)
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_LSP_BYTES:
        a.diagnostics = [too_large_to_check(name, size)]
        return a
    a.source, err = source_from_text(name, text, path)
    if err is not None:
        a.diagnostics = [err]
        return a
    c = run(a.source, verify_ir=False, parse_cache=parse_cache)
    a.module, a.graph, a.diagnostics = c.module, c.graph, c.diagnostics
    if index:
        add_index(a, modules)
    return a


_INDEXING = threading.Lock()  # the worker indexes after publishing; a request may need it first


def add_index(a: Analysis, modules: ModuleCache | None = None) -> Analysis:
    """Build the name index of an analysis whose text parsed (hover, completion, navigation),
    once: a second caller waits for the first's."""
    with _INDEXING:
        if a.module is not None and a.index is None:
            try:
                a.index = build_index(a.module, modules or ModuleCache())
            except Exception:  # a bug in the index must not cost the buffer its diagnostics
                log.exception("indexing %s failed", a.name)
    return a


def index_only(text: str, path: Path | None, modules: ModuleCache | None = None, tries: int = 4) -> Analysis:
    """The names of a buffer with syntax errors (no elaboration): what completion offers in a
    half-typed file. The lines the parser complains about are blanked and the rest parsed
    again, a few times at most."""
    from seqnet.grammar.parser import parse
    from seqnet.pipeline import source_from_text

    a = Analysis(display_name(path, "untitled.seqnet"), path, text)
    if len(text) > MAX_LSP_BYTES:
        return a
    lines = text.split("\n")
    for _ in range(tries):
        a.source, err = source_from_text(a.name, "\n".join(lines), path)
        if err is not None:
            return a
        a.module, diags = parse(a.source)
        if a.module is not None:
            a.index = build_index(a.module, modules or ModuleCache())
            return a
        bad = {s.line for d in diags for s in (d.span, *(n.span for n in d.notes)) if s is not None}
        if not bad:
            return a
        lines = ["" if i + 1 in bad else line for i, line in enumerate(lines)]
    return a


def too_large_to_check(name: str, size: int) -> Diagnostic:
    return Diagnostic(
        "SQN0005", f"{name} is {size // 1024} KiB; the language server checks files of up to "
        f"{MAX_LSP_BYTES // 1024} KiB as you type", None, severity="warning",
        hint=f"run `seqnet check {name}` to check it",
    )  # fmt: skip
