"""The document outline: imports, dims and consts, inputs, tensors, outputs, blocks (with their
parameters and tensors inside), wormholes, segments and the train section (with its settings)."""

from __future__ import annotations

from lsprotocol import types as lsp

from seqnet.grammar import ast
from seqnet.lsp.convert import to_range
from seqnet.source import Span

K = lsp.SymbolKind


def outline(module: ast.Module) -> list[lsp.DocumentSymbol]:
    return [s for stmt in module.body if (s := _symbol(stmt)) is not None]


def _entry(name: str, kind, whole, pick, detail: str = "", children=None) -> lsp.DocumentSymbol:
    return lsp.DocumentSymbol(name=name or "?", kind=kind, range=to_range(whole),
                              selection_range=to_range(pick), detail=detail or None,
                              children=children or None)  # fmt: skip


def _symbol(s) -> lsp.DocumentSymbol | None:
    if isinstance(s, ast.Import):
        return _entry(s.path, K.Module, s.span, s.path_span, f"as {s.alias}" if s.alias else "import")
    if isinstance(s, ast.DimDef):
        return _entry(s.name, K.Constant, s.span, s.name_span, s.kind)
    if isinstance(s, ast.InputDecl):
        return _entry(s.name, K.Variable, s.span, s.name_span, "input")
    if isinstance(s, ast.OutputDecl):
        return _entry(s.name, K.Event, s.span, s.name_span, "output")
    if isinstance(s, ast.Assign):
        t = s.targets[0]
        return _entry(", ".join(n.id for n in s.targets), K.Variable, s.span, t.span)
    if isinstance(s, ast.BlockDef):
        params = [_entry(p.name, K.TypeParameter, p.span, p.span, "parameter") for p in s.params]
        inner = [c for stmt in s.body if (c := _symbol(stmt)) is not None]
        whole = Span(s.span.source, s.span.line, s.span.column, s.end_span.end_line, s.end_span.end_column)
        return _entry(s.name, K.Function, whole, s.name_span, "block", params + inner)
    if isinstance(s, ast.Wormhole):
        return _entry(f"{s.source.id} -> {s.target.id}", K.Operator, s.span, s.source.span, "wormhole")
    if isinstance(s, ast.Segments):
        return _entry(s.name, K.Struct, s.span, s.name_span, "segments", _settings(s.settings))
    if isinstance(s, ast.Train):
        return _entry("train", K.Namespace, s.span, s.span, "", _settings(s.settings))
    return None


def _settings(settings) -> list[lsp.DocumentSymbol]:
    return [_entry(st.name, K.Property, st.span, st.name_span) for st in settings]
