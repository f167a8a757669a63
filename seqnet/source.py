"""Source files and spans: every later stage points back at `file:line:col` through these."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_LONE_CR = re.compile(r"\r(?!\n)")
SHOWN_LINE = 160  # longest source line a diagnostic prints whole
SHOWN_WINDOW = 120  # characters of a longer line shown around the span
SHOWN_BEFORE = 40  # of which before the span starts


@dataclass(frozen=True)
class SourceFile:
    """The text of one spec file, with the name diagnostics print for it."""

    name: str
    text: str
    path: Path | None = None

    def __post_init__(self):
        # A lone carriage return (old Mac line endings) ends a line, as in every editor; the
        # lexer knows only "\n" and "\r\n", and would read a CR-only file as one line: one
        # comment, if it starts with one.
        if "\r" in self.text:
            object.__setattr__(self, "text", _LONE_CR.sub("\n", self.text))

    def line(self, lineno: int) -> str:
        lines = self.text.split("\n")  # as the lexer counts lines: "\n" only
        if 1 <= lineno <= len(lines):
            return lines[lineno - 1].rstrip("\r")
        return ""


@dataclass(frozen=True)
class Span:
    """A 1-based, end-exclusive region of a source file."""

    source: SourceFile
    line: int
    column: int
    end_line: int
    end_column: int

    @property
    def file(self) -> str:
        return self.source.name

    def __str__(self) -> str:
        return f"{self.source.name}:{self.line}:{self.column}"

    def __repr__(self) -> str:
        return f"Span({self})"

    def caret(self, marker: str = "^") -> str:
        """The source line and a caret/tilde underline below the span, gutter included. A line
        longer than SHOWN_LINE characters is cut to a window around the span, '...' marking
        each cut, so a 10 MB one-line spec prints a few dozen characters, not megabytes."""
        text = self.source.line(self.line).replace("\t", " ")
        gutter = f"{self.line:>4} | "
        start = max(self.column - 1, 0)
        end = self.end_column - 1 if self.end_line == self.line else len(text)
        if len(text) > SHOWN_LINE:
            lo = max(start - SHOWN_BEFORE, 0)
            hi = min(lo + SHOWN_WINDOW, len(text))
            head = "..." if lo > 0 else ""
            text = head + text[lo:hi] + ("..." if hi < len(text) else "")
            start, end = start - lo + len(head), min(end, hi) - lo + len(head)
        width = max(end - start, 1)
        underline = marker + "~" * (width - 1)
        return f"{gutter}{text}\n{' ' * len(gutter)}{' ' * start}{underline}"

    def to_json(self) -> dict:
        return {
            "file": self.source.name,
            "line": self.line,
            "column": self.column,
            "end_line": self.end_line,
            "end_column": self.end_column,
        }


def point(source: SourceFile, line: int, column: int, width: int = 1) -> Span:
    return Span(source, line, column, line, column + width)
