"""Re-parsing an edited buffer: the top-level statements that did not change are not parsed again.

The language server parses a buffer on every edit. Most edits change one statement, so the
parse trees of the others are kept from the last parse, keyed by their text and the line they
start on (a tree's tokens carry their lines: an unchanged statement on another line is parsed
again). The text is cut into chunks at the newlines that end a top-level statement (outside
brackets, strings and comments, not after a `\\` continuation); each chunk is looked up, the
missing ones are parsed alone (padded with newlines, so their lines are the buffer's), and the
trees joined are turned into the AST as `parser.parse` does.

Anything unusual falls back to `parser.parse` of the whole text, whose result is then what the
next edit reuses: a syntax error anywhere (so diagnostics are always the whole parse's), more
than a few chunks changed (an inserted line moves every statement after it), or a statement
that does not sit inside one chunk. The AST is the same as `parser.parse` gives (tested).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import lark

from seqnet.grammar import ast
from seqnet.grammar.parser import parse, parse_tree, too_deep
from seqnet.grammar.to_ast import ToAst, tok_span
from seqnet.source import SourceFile

# what decides where a top-level statement ends: strings and comments (their brackets do not
# count), a `\` line continuation, brackets, newlines
_SCAN = re.compile(r'"(?:[^"\\\n]|\\.)*"|#[^\n]*|\\[\t \f]*\r?\n|[()\[\]{}]|\n')
_NL_RUN = re.compile(r"(?:\r?\n[\t ]*)+")  # the grammar's _NL: the blank lines and indent after
_DEPTH = {"(": 1, "[": 1, "{": 1, ")": -1, "]": -1, "}": -1}
MAX_REPARSED = 4  # chunks parsed alone before the whole text is parsed instead


@dataclass(frozen=True)
class Chunk:
    """A top-level statement with the newlines (and the next line's indent) that end it, as the
    grammar's _NL token takes them: the statement's parse tree depends on nothing outside."""

    line: int  # where it starts (1-based)
    column: int
    end_line: int  # where its last token is (a statement's tree ends at the end of its _NL)
    text: str

    @property
    def key(self) -> tuple[int, int, str]:
        return (self.line, self.column, self.text)


def chunks(text: str) -> list[Chunk] | None:
    """The text cut after each newline run that ends a top-level statement; None when the
    brackets do not balance (a half-typed file: the whole parse reports it)."""
    out: list[Chunk] = []
    depth, start, line, first, col = 0, 0, 1, 1, 1
    pos = 0
    while (m := _SCAN.search(text, pos)) is not None:
        tok, pos = m.group(), m.end()
        if tok in _DEPTH:
            depth += _DEPTH[tok]
            if depth < 0:
                return None
        elif tok == "\n":
            if depth == 0:
                nl = _NL_RUN.match(text, m.start() - (m.start() > 0 and text[m.start() - 1] == "\r"))
                pos = nl.end()
                out.append(Chunk(first, col, line, text[start:pos]))
                line += text.count("\n", m.start(), pos)
                start, first, col = pos, line, pos - text.rfind("\n", 0, pos)
            else:
                line += 1
        elif tok[0] == "\\":  # a continuation: the statement goes on
            line += 1
    if depth:
        return None
    if start < len(text):
        out.append(Chunk(first, col, line, text[start:]))
    return out


@dataclass
class _Parsed:
    trees: list  # the chunk's top-level statement trees
    comments: list  # its comment tokens


class ParseCache:
    """The parse of one buffer's last version, by chunk; `parse` is `parser.parse` for it."""

    def __init__(self):
        self._parsed: dict[tuple[int, str], _Parsed] = {}
        self.reparsed = 0  # chunks parsed alone by the last call; -1: the whole text was

    def parse(self, source: SourceFile) -> tuple[object, list]:
        parts = chunks(source.text)
        got = self._reuse(source, parts) if parts is not None and self._parsed else None
        if got is None:
            return self._whole(source, parts)
        trees, comments = got
        tree = lark.Tree("start", trees)
        deep = too_deep(source, tree)
        if deep:
            return None, deep
        body = ToAst(source).transform(tree)
        shown = tuple(ast.Comment(str(c), tok_span(source, c)) for c in comments)
        return ast.Module(source, body, shown), []

    def _reuse(self, source: SourceFile, parts: list[Chunk]) -> tuple[list, list] | None:
        """The trees and comments of every chunk, from the last parse or parsed alone; None
        when too many changed or one does not parse by itself."""
        missing = [c for c in parts if c.key not in self._parsed]
        if len(missing) > MAX_REPARSED:
            return None
        fresh = {}
        for c in missing:
            pad = "\n" * (c.line - 1) + " " * (c.column - 1)  # its lines and columns, as here
            alone = SourceFile(source.name, pad + c.text, source.path)
            result = parse_tree(alone)
            if result.tree is None or result.diagnostics:
                return None
            fresh[c.key] = _Parsed(list(result.tree.children), list(result.comments))
            if not _inside(fresh[c.key].trees, c):
                return None
        parsed = {c.key: fresh.get(c.key) or self._parsed[c.key] for c in parts}
        self._parsed = parsed
        self.reparsed = len(missing)
        trees = [t for c in parts for t in parsed[c.key].trees]
        comments = [t for c in parts for t in parsed[c.key].comments]
        return trees, comments

    def _whole(self, source: SourceFile, parts: list[Chunk] | None) -> tuple[object, list]:
        """`parser.parse`, whose statement trees are then filed by chunk for the next edit."""
        self.reparsed = -1
        self._parsed = {}
        result = parse_tree(source)
        module, diags = parse(source, result)
        if module is None or parts is None:
            return module, diags
        filed = {c: _Parsed([], []) for c in parts}
        by_line = {ln: c for c in parts for ln in range(c.line, c.end_line + 1)}
        for t in result.tree.children:
            meta = t.meta if isinstance(t, lark.Tree) else None
            c = by_line.get(meta.line) if meta is not None and not meta.empty else None
            if c is None or not _inside([t], c):
                return module, diags  # a statement across chunks: nothing is reused
            filed[c].trees.append(t)
        for tok in result.comments:
            c = by_line.get(tok.line)
            if c is None:
                return module, diags
            filed[c].comments.append(tok)
        self._parsed = {c.key: p for c, p in filed.items()}
        return module, diags


def _inside(trees: list, c: Chunk) -> bool:
    """Whether every statement parsed from chunk `c` starts in it and has its last token in it
    (its tree's end is that of the newlines after it: where the next chunk starts)."""
    nxt = c.line + c.text.count("\n")
    for t in trees:
        meta = t.meta if isinstance(t, lark.Tree) else None
        if meta is None or meta.empty or not (c.line <= meta.line and meta.end_line <= nxt):
            return False
    return True
