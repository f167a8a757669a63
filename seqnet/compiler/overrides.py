"""Settings given from outside a spec (`--set N=4096`, `seqnet.load(path, N=4096)`), and how
their text becomes a located expression checked like the spec's own values."""

from __future__ import annotations

from seqnet.compiler.names import IDENT
from seqnet.grammar import ast
from seqnet.source import SourceFile, Span

TRAIN_OVERRIDABLE = ("batch", "steps", "seed", "lr", "eval_every", "checkpoint_every", "clip",
                      "dtype", "mode", "eval_batches", "decoder_lr", "examples")  # fmt: skip


class Overrides(dict):
    """NAME -> TEXT settings given from outside the spec (`--set N=4096` on the command line,
    `seqnet.load(..., N=4096)` in Python); `origin` says which, so messages quote them as written."""

    def __init__(self, items=(), origin: str = "--set"):
        super().__init__(items)
        self.origin = origin

    def written(self, name: str, text: str) -> str:
        return f"--set {name}={text}" if self.origin == "--set" else f"{name}={text}"

    def label(self, name: str) -> str:
        return f"--set {name}" if self.origin == "--set" else f"keyword argument {name}"

    @property
    def source_name(self) -> str:
        return "<command line>" if self.origin == "--set" else "<keyword arguments>"


def override_expr(name: str, text: str, overrides: Overrides | None = None, as_string: bool = False):
    """`--set NAME=TEXT` as a literal expression whose span lies in a one-line source called
    "<command line>" (or "<keyword arguments>"), so a bad value is reported like a bad spec
    value, caret under it. Quoted text ('gelu', "a b") and any text for a setting declared as a
    string (as_string) is a string; otherwise a number, a name, or a string."""
    overrides = overrides if overrides is not None else Overrides()
    line = overrides.written(name, text)
    source = SourceFile(overrides.source_name, line)
    start = len(line) - len(text) + 1
    span = Span(source, 1, start, 1, start + max(len(text), 1))
    low = text.strip()
    if len(low) >= 2 and low[0] == low[-1] and low[0] in "'\"":
        return ast.String(low[1:-1], span)
    if as_string:
        return ast.String(low, span)
    for parse in (int, float):
        try:
            return ast.Number(parse(low), low, span)
        except ValueError:
            pass
    if IDENT.fullmatch(low):  # a symbol (local, bfloat16, true) or another dim's name
        return ast.Name(low, span)
    return ast.String(low, span)
