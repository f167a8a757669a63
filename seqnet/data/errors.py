"""The errors of the data layer: a leaf module, so the source table and each source's reader
can both raise them without importing each other."""

from __future__ import annotations

from seqnet.errors import UserError


class DataArgError(UserError, ValueError):
    """A data-source argument is missing, of the wrong kind, or has a bad value.

    `arg` names the argument at fault (None when the fault is not one argument's), so the
    compiler can underline it; `hint` is an optional suggestion.
    """

    def __init__(self, message: str, arg: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.arg = arg
        self.hint = hint


class UnknownSourceError(UserError, KeyError):
    """`get_source` was asked for a name no source has. `suggestions` holds close names."""

    def __init__(self, name: str, suggestions: tuple[str, ...] = ()):
        self.name = name
        self.suggestions = suggestions
        hint = f"; did you mean {' or '.join(repr(s) for s in suggestions)}?" if suggestions else ""
        self.message = f"unknown data source '{name}'{hint}"
        super().__init__(self.message)

    def __str__(self) -> str:  # KeyError would quote the message
        return self.message
