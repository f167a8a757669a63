"""Text -> Lark parse tree, with statement-level error recovery and readable syntax errors.

Tokens come from Lark's basic lexer and are fed to the LALR interactive parser by hand, so that
we can (1) drop newlines inside ( ) and [ ], (2) treat `vocab`, `shared` and `as` as soft keywords,
(3) after a syntax error, rewind to the last statement boundary and carry on, reporting every
syntax error of a file in one run.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import lark
from lark.exceptions import UnexpectedCharacters, UnexpectedToken
from lark.lexer import BasicLexer, LexerThread

from seqnet.errors import Diagnostic, Note
from seqnet.grammar import ast
from seqnet.grammar.parser_cache import tables_path
from seqnet.grammar.syntax_errors import index_mistakes, known_mistake
from seqnet.grammar.to_ast import ToAst, tok_span
from seqnet.limits import (
    MAX_EXPR_DEPTH,
    MAX_LINE_CHARS,
    MAX_NESTING,
    MAX_NUMBER_CHARS,
    MAX_STATEMENT_TOKENS,
    MAX_SYNTAX_ERRORS,
)
from seqnet.source import SourceFile, Span, point

_STATEMENTS = {"import_stmt", "dim_stmt", "input_stmt", "output_stmt", "block_def", "assign",
               "wormhole_stmt", "segments_stmt", "train_stmt", "return_stmt", "expr_stmt",
               "setting", "setting_inline", "param"}  # fmt: skip
_TWO_LEVELS = {"call", "list", "tensor_type", "return_stmt"}
SOFT_KEYWORDS = {"VOCAB", "SHARED", "AS"}
_OPEN = {"LPAR": "RPAR", "LSQB": "RSQB", "LBRACE": "RBRACE"}
_CLOSE = {v: k for k, v in _OPEN.items()}


_comments: ContextVar[list | None] = ContextVar("seqnet_comments", default=None)


def _keep_comment(tok: lark.Token) -> lark.Token:
    sink = _comments.get()
    if sink is not None:
        sink.append(tok)
    return tok


@lru_cache(maxsize=1)
def _lark() -> lark.Lark:
    text = resources.files("seqnet.grammar").joinpath("seqnet.lark").read_text()
    return lark.Lark(
        text,
        cache=tables_path(text),  # the LALR tables, from the user's cache folder when valid
        parser="lalr",
        lexer="basic",
        propagate_positions=True,
        maybe_placeholders=True,
        lexer_callbacks={"COMMENT": _keep_comment},
    )


@lru_cache(maxsize=1)
def _lexer() -> BasicLexer:
    """The grammar's lexer, built once: `Lark.lex` builds a new one on every call when the Lark
    object has a parser, and building its scanner (each string terminal matched against each
    regexp terminal) cost 1.4 ms a parse, about a third of parsing a shipped spec."""
    return BasicLexer(_lark().lexer_conf)


def _lex(text: str) -> Iterator[lark.Token]:
    return LexerThread.from_text(_lexer(), text).lex(None)


@dataclass
class ParseResult:
    tree: lark.Tree | None
    comments: list[lark.Token]
    diagnostics: list[Diagnostic]


def token_span(source: SourceFile, tok: lark.Token) -> Span:
    end_line = tok.end_line or tok.line
    end_col = tok.end_column or tok.column + 1
    if tok.type == "_NL":  # point at the end of the line, not across it
        return point(source, tok.line, tok.column)
    return Span(source, tok.line, tok.column, end_line, end_col)


def _tokens(source: SourceFile, comments: list, diags: list) -> Iterator[lark.Token]:
    """Raw tokens (newlines included), lexed lazily so that parsing can stop early; lexing
    errors are reported and the character skipped. Comments land in `comments` through the
    lexer callback (parse_tree installs the sink)."""
    text = source.text
    pos = 0
    while True:
        first_comment = len(comments)
        try:
            for tok in _lex(text[pos:]):
                yield _shift(tok, text, pos) if pos else tok
            done = True
        except UnexpectedCharacters as e:
            done = False
            at = pos + e.pos_in_stream
        if pos:  # comments of this chunk were lexed at offsets relative to pos
            comments[first_comment:] = [_shift(t, text, pos) for t in comments[first_comment:]]
        if done:
            return
        line, col = _line_col(text, at)
        diags.append(_bad_character(source, line, col, text[at]))
        pos = at + 1
        eol = text.find("\n", pos)
        eol = len(text) if eol < 0 else eol
        if text[at] == "'":  # skip the whole single-quoted string, not just its first quote
            close = text.find("'", pos, eol)
            pos = close + 1 if close >= 0 else pos
        elif text[at] == '"':  # an unterminated string: the rest of its line is string
            pos = eol
        if len(diags) >= MAX_SYNTAX_ERRORS:
            return


def _line_ahead(tokens: Iterator[lark.Token]) -> Iterator[lark.Token]:
    """The tokens, each yielded only once the lexer has passed the end of its line, so that a
    lexical error anywhere on a line is known before any token of that line is parsed."""
    pending: list[lark.Token] = []
    for tok in tokens:
        if pending and tok.line != pending[0].line:
            yield from pending
            pending.clear()
        pending.append(tok)
        if tok.type == "_NL":
            yield from pending
            pending.clear()
    yield from pending


def _long_lines(source: SourceFile) -> list[Diagnostic]:
    """SQN0005 for each line over MAX_LINE_CHARS, found with string scans before any lexing."""
    text = source.text
    if len(text) <= MAX_LINE_CHARS or max(map(len, text.split("\n"))) <= MAX_LINE_CHARS:
        return []
    diags = []
    for lineno, line in enumerate(text.split("\n"), 1):
        if len(line) > MAX_LINE_CHARS:
            diags.append(Diagnostic(
                "SQN0005", f"line {lineno} has {len(line):,} characters; a line holds at most "
                f"{MAX_LINE_CHARS:,}", point(source, lineno, MAX_LINE_CHARS + 1),
                hint="break it after a ',' or an opening bracket, or split the expression into "
                "several statements",
            ))  # fmt: skip
            if len(diags) >= MAX_SYNTAX_ERRORS:
                break
    return diags


def _line_col(text: str, pos: int) -> tuple[int, int]:
    line = text.count("\n", 0, pos) + 1
    col = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return line, col


def _shift(tok: lark.Token, text: str, offset: int) -> lark.Token:
    start = offset + tok.start_pos
    end = offset + tok.end_pos
    line, col = _line_col(text, start)
    end_line, end_col = _line_col(text, end)
    return lark.Token(tok.type, tok.value, start, line, col, end_line, end_col, end)


def _bad_character(source: SourceFile, line: int, col: int, ch: str) -> Diagnostic:
    span = point(source, line, col)
    if ch == "'":
        return Diagnostic(
            "SQN0002", "strings use double quotes", span, hint='write "text" instead of \'text\''
        )
    if ch == ";":
        return Diagnostic(
            "SQN0002", "unexpected ';'", span, hint="statements end at the end of a line: put each on its own line, without ';'"
        )
    if ch == '"':
        return Diagnostic(
            "SQN0002", "unterminated string", span, hint='close the string with " on the same line'
        )
    shown = repr(ch) if ch.isprintable() else f"U+{ord(ch):04X}"
    return Diagnostic(
        "SQN0002",
        f"unexpected character {shown}",
        span,
        hint="seqnet specs use names, numbers, strings, operators + - * / // % ** @ and ( ) [ ] { } , = : . ->",
    )


def parse_tree(source: SourceFile, describe=None) -> ParseResult:
    """Parse a whole file; syntax errors are collected, not raised."""
    long_lines = _long_lines(source)
    if long_lines:
        return ParseResult(None, [], long_lines)
    comments: list[lark.Token] = []
    reset = _comments.set(comments)
    try:
        return _parse_tree(source, describe or syntax_error, comments)
    finally:
        _comments.reset(reset)


def _parse_tree(source: SourceFile, describe, comments: list) -> ParseResult:
    diags: list[Diagnostic] = []
    parser = _lark()
    ip = parser.parse_interactive("")
    checkpoint = (_snapshot(ip), [])  # parser and bracket stack at the last statement boundary
    stack: list[lark.Token] = []
    last_fed: lark.Token | None = None
    skipping = False
    first: lark.Token | None = None  # the first token of the statement being parsed
    orphans = 0  # '{' skipped with a broken line, whose '}' is still to come
    fed = 0  # tokens of the statement being parsed
    # A line with a lexical error is already reported: parse errors on it would only echo it.
    bad_lines: set[int] = set()
    seen = 0  # diagnostics already looked at for bad_lines
    for tok in _line_ahead(_tokens(source, comments, diags)):
        if len(diags) >= MAX_SYNTAX_ERRORS:
            break
        bad_lines.update(d.span.line for d in diags[seen:] if d.code == "SQN0002")
        seen = len(diags)
        if tok.type == "NUMBER" and len(tok.value) > MAX_NUMBER_CHARS:
            diags.append(Diagnostic(
                "SQN0005", f"a number of {len(tok.value):,} characters; numbers are at most "
                f"{MAX_NUMBER_CHARS} characters long", token_span(source, tok),
                hint="write large numbers with an exponent (1e30); integers are at most 2**62",
            ))  # fmt: skip
            bad_lines.add(tok.line)
        fed += 1
        if fed > MAX_STATEMENT_TOKENS:
            diags.append(Diagnostic(
                "SQN0005", f"this statement has more than {MAX_STATEMENT_TOKENS:,} tokens",
                token_span(source, first if first is not None else tok),
                hint="split it into several statements, or let repeat and blocks build the "
                "layers instead of writing them out",
            ))  # fmt: skip
            break
        if tok.type == "_NL":
            if skipping:
                skipping = False
                _restore(ip, checkpoint[0])
                stack = list(checkpoint[1])
                last_fed = None
                continue
            if stack and stack[-1].type != "LBRACE":
                continue  # newlines inside ( ) and [ ] are layout
            if last_fed is not None and last_fed.type in ("_NL", "LBRACE"):
                continue  # blank lines, and the line break after '{'
            if last_fed is None and not _at_statement_start(ip):
                continue
        if skipping and tok.type == "RBRACE" and orphans == 0 and checkpoint[1] \
                and checkpoint[1][-1].type == "LBRACE":  # fmt: skip
            # `train { data = x; loss = y }`: the '}' of the broken line closes the body the
            # recovery point is in, so the parser resumes there and takes the '}' below.
            skipping = False
            _restore(ip, checkpoint[0])
            stack = list(checkpoint[1])
            last_fed = None
        if skipping:
            orphans += {"LBRACE": 1, "RBRACE": -1}.get(tok.type, 0)
            continue
        if tok.type == "RBRACE" and orphans > 0 and not (stack and stack[-1].type == "LBRACE"):
            orphans -= 1  # closes a '{' that sat in a skipped, broken line
            continue
        if tok.type in _OPEN:
            if len(stack) >= MAX_NESTING:
                diags.append(
                    Diagnostic(
                        "SQN0005",
                        f"brackets nested more than {MAX_NESTING} deep",
                        token_span(source, tok),
                        hint="split the expression into several statements",
                    )
                )
                break
            stack.append(tok)
        elif tok.type in _CLOSE:
            if stack and stack[-1].type == _CLOSE[tok.type]:
                stack.pop()
        if tok.type == "RBRACE" and last_fed is not None and last_fed.type not in ("_NL", "LBRACE"):
            # '}' closes the line too: `repeat 2 { f(h) }` needs no newline before the brace
            nl = lark.Token.new_borrow_pos("_NL", "", tok)
            if _feed(ip, nl) is None:
                last_fed = nl
        if last_fed is None or last_fed.type in ("_NL", "LBRACE"):
            first = tok
        error = _feed(ip, tok)
        if error is None:
            last_fed = tok
            if tok.type in ("_NL", "LBRACE"):
                # statement boundaries, and the inside of a body, so recovery stays in the block
                checkpoint = (_snapshot(ip), list(stack))
                fed = 0
            continue
        if tok.line not in bad_lines:
            diags.append(describe(source, error, stack, first=first))
        if tok.type == "_NL":
            _restore(ip, checkpoint[0])
            stack = list(checkpoint[1])
            last_fed = None
        else:
            skipping = True
    else:
        if skipping or len(diags) >= MAX_SYNTAX_ERRORS:
            return ParseResult(None, comments, diags)
        # end of file: close the last statement if the file lacks a final newline
        if last_fed is not None and last_fed.type != "_NL":
            nl = lark.Token("_NL", "\n", 0, *_eof_pos(source), *_eof_pos(source), 0)
            err = _feed(ip, nl)
            if err is not None:
                diags.append(describe(source, err, stack, first=first))
                return ParseResult(None, comments, diags)
        try:
            tree = ip.feed_eof(last_fed)
        except UnexpectedToken as e:
            diags.append(describe(source, e, stack, at_eof=True, first=first))
            return ParseResult(None, comments, diags)
        return ParseResult(tree if not diags else None, comments, diags)
    return ParseResult(None, comments, diags)


def _eof_pos(source: SourceFile) -> tuple[int, int]:
    lines = source.text.split("\n")
    return len(lines), len(lines[-1]) + 1


def _at_statement_start(ip) -> bool:
    return "_NL" in ip.parser_state.parse_conf.states[ip.parser_state.position]


def _snapshot(ip) -> tuple[list, list]:
    """The parser's stacks. Shallow copies suffice: values on the stack are never mutated, and a
    deep copy (Lark's `copy()`) would make recovery checkpoints quadratic in the file size."""
    state = ip.parser_state
    return list(state.state_stack), list(state.value_stack)


def _restore(ip, snapshot: tuple[list, list]) -> None:
    state = ip.parser_state
    state.state_stack[:] = snapshot[0]
    state.value_stack[:] = snapshot[1]


def _feed(ip, tok: lark.Token) -> UnexpectedToken | None:
    soft = tok.type in SOFT_KEYWORDS
    saved = _snapshot(ip) if soft else None
    try:
        ip.feed_token(tok)
        return None
    except UnexpectedToken as e:
        if not soft:
            return e
        _restore(ip, saved)  # a soft keyword used as a name
        try:
            ip.feed_token(lark.Token.new_borrow_pos("NAME", tok.value, tok))
            return None
        except UnexpectedToken:
            _restore(ip, saved)
            return e


# ---------------------------------------------------------------------------------------------
# Turning an UnexpectedToken into words a person understands.

_WORDS = {
    "NAME": "a name",
    "NUMBER": "a number",
    "STRING": "a string",
    "_NL": "the end of the line",
    "$END": "the end of the file",
    "LPAR": "'('",
    "RPAR": "')'",
    "LSQB": "'['",
    "RSQB": "']'",
    "LBRACE": "'{'",
    "RBRACE": "'}'",
    "COMMA": "','",
    "EQUAL": "'='",
    "COLON": "':'",
    "DOT": "'.'",
    "PLUS": "'+'",
    "MINUS": "'-'",
    "STAR": "'*'",
    "SLASH": "'/'",
    "MORETHAN": "'>'",
    "__ANON_0": "'->'",
    "SHARED": "'shared'",
}


def _describe(tok_type: str) -> str:
    if tok_type in _WORDS:
        return _WORDS[tok_type]
    for term in _lark().terminals:
        if term.name == tok_type and term.pattern.type == "str":
            return f"'{term.pattern.value}'"
    return tok_type.lower()


def _found(tok: lark.Token, at_eof: bool) -> str:
    if at_eof or tok.type == "$END":
        return "the end of the file"
    if tok.type == "_NL":
        return "the end of the line"
    if tok.type == "NAME":
        return f"name '{tok.value}'"
    if tok.type == "NUMBER":
        return f"number {tok.value}"
    if tok.type == "STRING":
        return f"string {tok.value}"
    return f"'{tok.value}'"


# Expected-token sets too large to list are summarised in one phrase.
_SUMMARIES = [
    ({"INPUT", "OUTPUT", "BLOCK", "NAME"}, "a statement"),
    ({"NAME", "NUMBER", "LPAR", "MINUS", "LSQB"}, "an expression"),
]
_OPERATORS = {"PLUS", "MINUS", "STAR", "SLASH", "PERCENT", "AT", "__ANON_1", "__ANON_2"}
# Most useful first: what closes or separates, then what starts a value, the rest last.
_PRIORITY = ["RPAR", "RSQB", "RBRACE", "COMMA", "EQUAL", "COLON", "__ANON_0", "NAME", "NUMBER",
             "STRING", "LPAR", "LSQB", "LBRACE", "DOT"]  # fmt: skip


def _expected_words(expected: set[str]) -> str:
    expected = {e for e in expected if not e.startswith("__ANON") or e in ("__ANON_0",) or e in _OPERATORS}
    phrases = []
    for group, phrase in _SUMMARIES:
        if group <= expected:
            phrases.append(phrase)
            expected -= group | _EXPR_CONTINUATIONS | _STMT_STARTS
    if len(expected & _OPERATORS) >= 3:
        expected -= _OPERATORS
        operator = ["an operator"]
    else:
        operator = []
    order = sorted(expected, key=lambda t: (_PRIORITY.index(t) if t in _PRIORITY else len(_PRIORITY),
                                            t in ("_NL", "$END"), _describe(t)))  # fmt: skip
    phrases += [_describe(t) for t in order]
    phrases = (phrases[:5] + operator) if len(phrases) > 5 else phrases + operator
    if not phrases:
        return "something else"
    if len(phrases) == 1:
        return phrases[0]
    return ", ".join(phrases[:-1]) + " or " + phrases[-1]


_EXPR_CONTINUATIONS = {"STRING", "REPEAT", "LSQB"}
_STMT_STARTS = {
    "INPUT", "OUTPUT", "BLOCK", "IMPORT", "DIM", "CONST", "TRAIN", "SEGMENTS", "WORMHOLE", "RETURN",
    "NAME", "NUMBER", "LPAR", "MINUS", "LSQB", "STRING", "REPEAT",
}  # fmt: skip


def syntax_error(source, e: UnexpectedToken, stack: list, at_eof: bool = False, first=None) -> Diagnostic:
    tok = e.token
    eof = at_eof or tok.type == "$END"
    span = point(source, *_eof_pos(source)) if eof else token_span(source, tok)
    expected = set(e.expected)
    # An opening bracket from an earlier line that is still open is the likely culprit; a '{'
    # is only suspicious at the end of the file (bodies span lines by design).
    unclosed = [b for b in stack if (b.type != "LBRACE" and b.line < (tok.line or 0)) or eof]
    notes = []
    if unclosed:
        b = unclosed[-1]
        notes.append(Note(token_span(source, b), f"'{b.value}' opened here"))
    mistake = known_mistake(_mistakes(), e, first.value if first is not None else None)
    if unclosed and _OPEN[unclosed[-1].type] in expected and unclosed[-1].type != "LBRACE":
        b = unclosed[-1]
        closer = "]" if b.type == "LSQB" else ")"
        message = f"'{b.value}' opened on line {b.line} is never closed"
        hint = f"add '{closer}' where the expression ends"
    elif mistake is not None:
        message, hint = mistake
    else:
        message = f"expected {_expected_words(expected)}, found {_found(tok, eof)}"
        hint = _generic_hint(tok, expected, eof)
    return Diagnostic("SQN0001", message, span, hint=hint, notes=tuple(notes))


def _generic_hint(tok, expected: set[str], eof: bool) -> str | None:
    if eof and "RBRACE" in expected:
        return "a '{' is missing its '}'"
    if eof and "RPAR" in expected:
        return "a '(' is missing its ')'"
    if "COMMA" in expected and "RPAR" in expected and tok.type in ("NAME", "NUMBER"):
        return "separate arguments with ','"
    if tok.type == "NAME" and "EQUAL" in expected:
        return "statements are 'name = expression'"
    return None


@lru_cache(maxsize=1)
def _mistakes():
    """The catalogue of common mistakes, indexed by where each makes this parser fail."""
    return index_mistakes(_first_error)


def _first_error(text: str) -> tuple[int, str, str | None] | None:
    """(parser state, token type) of the first syntax error in `text`: the catalogue's key.
    Read at once: the parser's state object is reused after recovery."""
    captured: list[tuple[int, str]] = []

    def capture(source, e, stack, at_eof=False, first=None):
        captured.append((e.state.position, e.token.type, first.value if first is not None else None))
        return Diagnostic("SQN0001", "", None)

    parse_tree(SourceFile("<example>", text), describe=capture)
    return captured[0] if captured else None


def too_deep(source: SourceFile, tree: lark.Tree) -> list[Diagnostic]:
    """SQN0005 for each top-level statement nested more than MAX_EXPR_DEPTH levels deep, at the
    innermost statement on the way down. Walks with an explicit stack: no depth is too much."""
    diags: list[Diagnostic] = []
    for top in tree.children:
        if not isinstance(top, lark.Tree):
            continue
        todo: list[tuple[lark.Tree, int, lark.Tree]] = [(top, 0, top)]
        while todo:
            node, depth, stmt = todo.pop()
            if node.data in _STATEMENTS:
                stmt = node
            depth += 1 if node.data in _TWO_LEVELS else 0
            if depth > MAX_EXPR_DEPTH:
                diags.append(_too_deep_diagnostic(source, stmt))
                break
            todo.extend((c, depth + 1, stmt) for c in node.children if isinstance(c, lark.Tree))
        if len(diags) >= MAX_SYNTAX_ERRORS:
            break
    return diags


def _too_deep_diagnostic(source: SourceFile, stmt: lark.Tree) -> Diagnostic:
    line, col = stmt.meta.line, stmt.meta.column
    word = re.match(r"\w*", source.line(line)[col - 1 :])  # underline its first word: `y`, `return`
    span = point(source, line, col, max(len(word.group(0)), 1))
    return Diagnostic(
        "SQN0005",
        f"this statement nests more than {MAX_EXPR_DEPTH} levels deep "
        "(each operator, call and block body is a level)",
        span,
        hint="split the expression into several statements, e.g. 'a = x + x' then 'y = a + a'",
    )


@contextmanager
def recursion_room(levels: int = MAX_EXPR_DEPTH, frames_per_level: int = 8) -> Iterator[None]:
    """Let a recursive walk of an AST at most `levels` deep (parse() refuses deeper ones) run,
    whatever the interpreter's default limit: raise the recursion limit by what it needs, for
    the duration of the block only. Pure-Python frames cost little stack."""
    old = sys.getrecursionlimit()
    depth, frame = 0, sys._getframe()
    while frame is not None:
        depth, frame = depth + 1, frame.f_back
    want = depth + levels * frames_per_level + 200
    if want > old:
        sys.setrecursionlimit(want)
    try:
        yield
    finally:
        if want > old:
            sys.setrecursionlimit(old)


def parse(source: SourceFile, result: ParseResult | None = None) -> tuple[object, list[Diagnostic]]:
    """Text -> AST. Returns the module (None if there were syntax errors) and the diagnostics.
    `result`: the text's parse tree, when the caller has it already (incremental.py)."""
    result = result or parse_tree(source)
    comments = tuple(ast.Comment(str(c), tok_span(source, c)) for c in result.comments)
    if result.tree is None:
        return None, result.diagnostics
    deep = too_deep(source, result.tree)
    if deep:
        return None, result.diagnostics + deep
    body = ToAst(source).transform(result.tree)
    return ast.Module(source, body, comments), result.diagnostics
