"""Diagnostics: what seqnet tells a person about a spec, and the exception that carries them."""

from __future__ import annotations

from dataclasses import dataclass, field

from seqnet.source import Span


@dataclass(frozen=True)
class Note:
    """A labelled secondary span: the gate's target, where a shape came from, a call site."""

    span: Span
    label: str


@dataclass(frozen=True)
class Diagnostic:
    code: str
    message: str
    span: Span | None
    severity: str = "error"  # "error" | "warning"
    hint: str | None = None
    notes: tuple[Note, ...] = ()
    # Call sites of the blocks this diagnostic is inside, innermost first.
    chain: tuple[Span, ...] = ()

    def render(self) -> str:
        where = str(self.span) if self.span else "seqnet"
        lines = [f"{where}: {self.severity}[{self.code}]: {self.message}"]
        if self.span:
            lines.append(self.span.caret())
        for note in self.notes:
            lines.append(f"  note: {note.span}: {note.label}")
            lines.append(_indent(note.span.caret("-")))
        for site in self.chain:
            lines.append(f"  in block called at {site}")
            lines.append(_indent(site.caret("-")))
        if self.hint:
            lines.append(f"  hint: {self.hint}")
        return "\n".join(lines)

    def to_json(self) -> dict:
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "span": self.span.to_json() if self.span else None,
            "hint": self.hint,
            "notes": [{"span": n.span.to_json(), "label": n.label} for n in self.notes],
            "chain": [s.to_json() for s in self.chain],
        }

    def sort_key(self) -> tuple:
        if self.span is None:
            return ("", 0, 0, self.code)
        return (self.span.file, self.span.line, self.span.column, self.code)


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


class UserError(Exception):
    """The one base class of every error a person's input caused and can fix: a bad spec, data,
    checkpoint, run folder or setting. The CLI prints such an error as one line (or its
    diagnostics) and exits 1; anything else is an internal error (exit 3)."""


class SpecError(UserError):
    """A spec is invalid. `diagnostics` holds every error found (and warnings seen on the way)."""

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = sorted(diagnostics, key=Diagnostic.sort_key)
        super().__init__(self.render())

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    def render(self) -> str:
        return "\n\n".join(d.render() for d in self.diagnostics)


@dataclass
class Reporter:
    """Collects the diagnostics of one compilation so a stage can report all its errors at once."""

    diagnostics: list[Diagnostic] = field(default_factory=list)

    def error(self, code: str, message: str, span: Span | None, **kw) -> None:
        self.diagnostics.append(Diagnostic(code, message, span, "error", **kw))

    def warning(self, code: str, message: str, span: Span | None, **kw) -> None:
        self.diagnostics.append(Diagnostic(code, message, span, "warning", **kw))

    @property
    def has_errors(self) -> bool:
        return any(d.severity == "error" for d in self.diagnostics)

    def raise_if_errors(self) -> None:
        if self.has_errors:
            raise SpecError(self.diagnostics)

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "warning"]


class CompileError(Exception):
    """Raised inside a stage to abandon one statement; the stage turns it into a Diagnostic."""

    def __init__(self, code: str, message: str, span: Span | None = None, *, hint=None, notes=()):
        super().__init__(message)
        self.code = code
        self.message = message
        self.span = span
        self.hint = hint
        self.notes = tuple(notes)
