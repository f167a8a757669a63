"""Quick fixes: a diagnostic whose hint says "did you mean 'X'?" becomes an edit that writes X
where the misspelt word is (an unknown name, op, keyword, choice, setting or data source)."""

from __future__ import annotations

import re

from lsprotocol import types as lsp

from seqnet.errors import Diagnostic
from seqnet.lsp.convert import diagnostic as to_lsp
from seqnet.lsp.convert import to_range
from seqnet.source import Span

_SUGGESTION = re.compile(r"did you mean '([^']+)'\?")
_WORD = re.compile(r"[A-Za-z_][\w]*")


def replacement(d: Diagnostic) -> tuple[Span, str, str] | None:
    """(the span to rewrite, what is written there now, what to write) for a fixable one."""
    m = _SUGGESTION.search(d.hint or "")
    if m is None or d.span is None or d.span.line != d.span.end_line:
        return None
    line = d.span.source.line(d.span.line)
    written = line[d.span.column - 1 : d.span.end_column - 1]
    word = written.strip('"')
    if not _WORD.fullmatch(word.rpartition(".")[2]) or not _WORD.fullmatch(m[1]):
        return None
    start = d.span.column + written.index(word) + len(word.rpartition(".")[0]) + (1 if "." in word else 0)
    end = start + len(word.rpartition(".")[2])
    return Span(d.span.source, d.span.line, start, d.span.line, end), word.rpartition(".")[2], m[1]


def _overlaps(span: Span, r: lsp.Range) -> bool:
    s = to_range(span)
    return (s.start.line, s.start.character) <= (r.end.line, r.end.character) and (
        (r.start.line, r.start.character) <= (s.end.line, s.end.character)
    )


def quick_fixes(diagnostics: list[Diagnostic], uri: str, here, wanted: lsp.Range) -> list[lsp.CodeAction]:
    actions = []
    for d in diagnostics:
        fix = replacement(d)
        if fix is None or d.span.source.path != here or not _overlaps(d.span, wanted):
            continue
        span, old, new = fix
        edit = lsp.WorkspaceEdit(changes={uri: [lsp.TextEdit(to_range(span), new)]})
        actions.append(lsp.CodeAction(
            title=f"Replace '{old}' with '{new}'", kind=lsp.CodeActionKind.QuickFix,
            diagnostics=[to_lsp(d, here)], edit=edit, is_preferred=True,
        ))  # fmt: skip
    return actions
