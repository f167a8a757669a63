"""Completion: what may be written at the cursor, read from the text before it (a half-typed
line does not parse, so the context cannot come from the AST) and from the last analysis that
did (for the names in scope).

Contexts, most specific first: a choice argument's value (`act=`), the keyword arguments of the
call the cursor is in, a train setting's value and the train settings themselves, a wormhole's or
segments' settings; otherwise ops, blocks, names in scope and (at a line's start) keywords.
"""

from __future__ import annotations

import re

from seqnet.compiler.ops.registry import OpDef
from seqnet.grammar import ast
from seqnet.lsp import symbols as S
from seqnet.lsp.analysis import Analysis
from seqnet.lsp.vocabulary import (
    KEYWORDS,
    OPS,
    Word,
    call_arguments,
    op_arguments,
    ops,
    statement_op,
    statement_settings,
    train_settings,
    train_values,
)  # fmt: skip

LOOK_BACK = 60  # lines searched for the call or the train section the cursor is in
_KWARG_VALUE = re.compile(r"([A-Za-z_]\w*)\s*=\s*\"?\w*$")
_SETTING = re.compile(r"^\s*([A-Za-z_]\w*)\s*=\s*(.*)$")
_WORD_START = re.compile(r"^\s*[A-Za-z_]?\w*$")
_TRAIN_OPEN = re.compile(r"^\s*train\s*\{")


def complete(a: Analysis | None, lines: list[str], line: int, column: int) -> list[Word]:
    """The words for the cursor at 1-based (line, column)."""
    current = lines[line - 1] if 0 < line <= len(lines) else ""
    prefix = current[: column - 1]
    before = "\n".join([*lines[max(line - 1 - LOOK_BACK, 0) : line - 1], prefix])
    call = enclosing_call(before)
    names = _names(a, line)
    if _in_train(lines, line, prefix):
        return _train(prefix, call, names)
    first = prefix.split(maxsplit=1)[0] if prefix.strip() else ""
    if call is None and statement_op(first) is not None:
        settings = _statement(first, prefix)
        if settings is not None:
            return settings
    if call is not None:
        callee = _callee(a, call)
        m = _KWARG_VALUE.search(prefix)
        if m and isinstance(callee, OpDef) and callee.arg(m[1]) is not None:
            arg = callee.arg(m[1])
            if arg.choices:
                return [Word(str(c), f"{m[1]} of {callee.name}", kind="value") for c in arg.choices]
        return _arguments(callee) + names + ops()
    if _WORD_START.match(prefix):
        return [Word(k, kind="keyword") for k in KEYWORDS] + names + ops()
    return names + ops()


def enclosing_call(text: str) -> str | None:
    """The function name of the innermost call still open at the end of `text` (`dense` in
    `dense(x, act=`), or None outside any call (a `[` list breaks the search off)."""
    depth = 0
    for i in range(len(text) - 1, -1, -1):
        ch = text[i]
        if ch in ")]":
            depth += 1
        elif ch in "([":
            if depth:
                depth -= 1
                continue
            if ch == "[":
                return None
            m = re.search(r"([A-Za-z_][\w.]*)\s*$", text[:i])
            return m[1] if m else None
        elif ch in "{}" and not depth:
            return None
    return None


def _callee(a: Analysis | None, name: str):
    """An op (its OpDef), a block (its BlockDef), or None."""
    sym = _lookup(a, name)
    if sym is not None and sym.kind == S.BLOCK:
        return sym.stmt
    return OPS.get(name)


def _lookup(a: Analysis | None, name: str) -> S.Symbol | None:
    if a is None or a.index is None:
        return None
    head, _, attr = name.partition(".")
    sym = a.index.scope.get(head)
    if attr and sym is not None:
        return (sym.members or {}).get(attr)
    return sym


def _arguments(callee) -> list[Word]:
    if isinstance(callee, ast.BlockDef):
        return [Word(p.name, f"parameter of block {callee.name}", kind="argument", insert=f"{p.name}=")
                for p in callee.params]  # fmt: skip
    return op_arguments(callee) if callee is not None else []


def _names(a: Analysis | None, line: int) -> list[Word]:
    """The names a statement on `line` may use: declarations anywhere; tensors written on
    earlier lines, at module level or in the block `line` is in."""
    if a is None or a.index is None:
        return []
    block = next((s.name for s in a.index.symbols if s.kind == S.BLOCK
                  and s.stmt.span.line <= line <= s.stmt.end_span.line), None)  # fmt: skip
    seen: dict[str, S.Symbol] = {}
    for name, sym in a.index.scope.items():
        if sym.kind in S.DECLARATIONS:
            seen[name] = sym
    for sym in a.index.symbols:
        if sym.kind not in S.DECLARATIONS and sym.span.line < line and sym.block in (None, block):
            seen[sym.name] = sym
    return [Word(n, s.kind, kind="name") for n, s in sorted(seen.items())]


def _in_train(lines: list[str], line: int, prefix: str) -> bool:
    depth = prefix.count("{") - prefix.count("}")
    for i in range(line - 2, max(line - 2 - LOOK_BACK, -1), -1):
        text = lines[i]
        depth += text.count("{") - text.count("}")
        if _TRAIN_OPEN.match(text):
            return depth > 0
    return False


def _train(prefix: str, call: str | None, names: list[Word]) -> list[Word]:
    m = _SETTING.match(prefix)
    if m is None:
        return train_settings() if _WORD_START.match(prefix) else []
    key = m[1]
    if call is not None:
        return call_arguments(key, call) + names
    values = train_values(key)
    return values if values else names


def _statement(word: str, prefix: str) -> list[Word] | None:
    """In a `wormhole a -> b ...` or `segments s = ... { ... }` line: its settings, or the
    choices of the one being written."""
    m = _KWARG_VALUE.search(prefix)
    op = statement_op(word)
    if m and op.arg(m[1]) is not None and op.arg(m[1]).choices:
        return [Word(str(c), f"{m[1]} of {word}", kind="value") for c in op.arg(m[1]).choices]
    if word == "wormhole" and "->" in prefix:
        return statement_settings(word)
    return None
