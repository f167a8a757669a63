"""Between seqnet's spans (1-based lines, 1-based columns in characters) and the protocol's
positions (0-based lines, 0-based columns in UTF-16 code units, the protocol's default), and from
seqnet diagnostics to protocol ones."""

from __future__ import annotations

from pathlib import Path

from lsprotocol import types as lsp

from seqnet.errors import Diagnostic
from seqnet.source import SourceFile, Span


def _utf16(text: str, chars: int) -> int:
    head = text[: max(chars, 0)]
    return len(head) + sum(1 for ch in head if ord(ch) > 0xFFFF)


def _chars(text: str, units: int) -> int:
    count = 0
    for i, ch in enumerate(text):
        if count >= units:
            return i
        count += 2 if ord(ch) > 0xFFFF else 1
    return len(text)


def position(source: SourceFile, line: int, column: int) -> lsp.Position:
    return lsp.Position(max(line - 1, 0), _utf16(source.line(line), column - 1))


def to_range(span: Span) -> lsp.Range:
    return lsp.Range(position(span.source, span.line, span.column),
                     position(span.source, span.end_line, span.end_column))  # fmt: skip


def from_position(text_lines: list[str], pos: lsp.Position) -> tuple[int, int]:
    """A protocol position -> seqnet's (line, column), both 1-based."""
    line = pos.line + 1
    text = text_lines[pos.line] if 0 <= pos.line < len(text_lines) else ""
    return line, _chars(text, pos.character) + 1


def uri_of(span: Span) -> str | None:
    return span.source.path.as_uri() if span.source.path is not None else None


def location(span: Span) -> lsp.Location | None:
    uri = uri_of(span)
    return lsp.Location(uri, to_range(span)) if uri else None


def file_location(path: Path) -> lsp.Location:
    return lsp.Location(path.as_uri(), lsp.Range(lsp.Position(0, 0), lsp.Position(0, 0)))


_START = lsp.Range(lsp.Position(0, 0), lsp.Position(0, 0))
SEVERITY = {"error": lsp.DiagnosticSeverity.Error, "warning": lsp.DiagnosticSeverity.Warning}


def diagnostic(d: Diagnostic, here: Path | None) -> lsp.Diagnostic:
    """One seqnet diagnostic shown in the file at `here`: its message and code as `check`
    prints them, its hint after the message, its notes and call sites as related information.
    One whose span is in another file (an imported one) is shown at the first place in this
    file that leads to it (a call site, the import), and says where it is."""
    message = d.message
    related = [lsp.DiagnosticRelatedInformation(loc, n.label)
               for n in d.notes if (loc := location(n.span)) is not None]  # fmt: skip
    related += [lsp.DiagnosticRelatedInformation(loc, "in block called here")
                for site in d.chain if (loc := location(site)) is not None]  # fmt: skip
    where = _START
    if d.span is not None and _in(d.span, here):
        where = to_range(d.span)
    elif d.span is not None:
        message = f"{message} (at {d.span})"
        if (loc := location(d.span)) is not None:
            related.insert(0, lsp.DiagnosticRelatedInformation(loc, d.message))
        sites = [s for s in d.chain if _in(s, here)]  # innermost first: take the outermost
        notes = [n.span for n in d.notes if _in(n.span, here)]  # "imported here"
        if sites or notes:
            where = to_range(sites[-1] if sites else notes[0])
    if d.hint:
        message = f"{message}\nhint: {d.hint}"
    return lsp.Diagnostic(
        range=where, message=message, severity=SEVERITY.get(d.severity, lsp.DiagnosticSeverity.Error),
        code=d.code, source="seqnet", related_information=related or None,
    )  # fmt: skip


def _in(span: Span, here: Path | None) -> bool:
    path = span.source.path
    return (path is None and here is None) or (path is not None and here is not None and path == here)
