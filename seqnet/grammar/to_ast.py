"""Lark parse tree -> AST (a Transformer run after parsing, so every node has its `meta`)."""

from __future__ import annotations

from lark import Discard, Token, Transformer, Tree, v_args
from lark.exceptions import GrammarError, VisitError

from seqnet.grammar import ast
from seqnet.source import SourceFile, Span


def _span(source: SourceFile, meta) -> Span:
    return Span(source, meta.line, meta.column, meta.end_line, meta.end_column)


def tok_span(source: SourceFile, tok: Token) -> Span:
    return Span(source, tok.line, tok.column, tok.end_line, tok.end_column)


@v_args(meta=True)
class ToAst(Transformer):
    def __init__(self, source: SourceFile):
        super().__init__()
        self.source = source
        self._starts: list[int] | None = None
        self._callbacks: dict[str, object] = {}

    def _s(self, meta) -> Span:
        """The rule's span, with the newline that ends a statement trimmed off."""
        if meta.end_line == meta.line:
            return _span(self.source, meta)
        end = self._offset(meta.end_line, meta.end_column)
        text = self.source.text
        while end > 0 and text[end - 1] in " \t\r\n":
            end -= 1
        line = text.count("\n", 0, end) + 1
        col = end - (text.rfind("\n", 0, end) + 1) + 1
        if (line, col) < (meta.line, meta.column + 1):
            return _span(self.source, meta)
        return Span(self.source, meta.line, meta.column, line, col)

    def _offset(self, line: int, column: int) -> int:
        if self._starts is None:
            starts, pos = [0], 0
            for chunk in self.source.text.split("\n"):
                pos += len(chunk) + 1
                starts.append(pos)
            self._starts = starts
        if line - 1 >= len(self._starts):
            return len(self.source.text)
        return min(self._starts[line - 1] + column - 1, len(self.source.text))

    def _t(self, tok: Token) -> Span:
        return tok_span(self.source, tok)

    def _callback(self, name: str):
        """getattr(self, name) (None when there is no such method), looked up once per rule or
        token type: Lark's v_args wrapper builds a new bound wrapper (functools.update_wrapper)
        on every lookup, which was a third of this walk's time."""
        try:
            return self._callbacks[name]
        except KeyError:
            f = self._callbacks[name] = getattr(self, name, None)
            return f

    def _call_userfunc(self, tree, new_children=None):
        """Lark's Transformer._call_userfunc with the cached lookup: same calls, same errors."""
        children = new_children if new_children is not None else tree.children
        f = self._callback(tree.data)
        if f is None:
            return self.__default__(tree.data, children, tree.meta)
        try:
            wrapper = getattr(f, "visit_wrapper", None)
            if wrapper is not None:
                return f.visit_wrapper(f, tree.data, children, tree.meta)
            return f(children)
        except GrammarError:
            raise
        except Exception as e:
            raise VisitError(tree.data, tree, e)  # noqa: B904 (Lark's own wrapping, unchanged)

    def _call_userfunc_token(self, token):
        f = self._callback(token.type)
        if f is None:
            return self.__default_token__(token)
        try:
            return f(token)
        except GrammarError:
            raise
        except Exception as e:
            raise VisitError(token.type, token, e)  # noqa: B904

    def transform(self, tree: Tree):
        """Lark's own transform recurses once per tree level, so a long `x + x + ... + x` would
        overflow the stack; this is the same bottom-up walk with an explicit stack."""
        done: list = []  # transformed nodes whose parent is not transformed yet, in order
        todo: list[tuple[object, bool]] = [(tree, False)]
        while todo:
            node, children_done = todo.pop()
            if not isinstance(node, Tree):
                visit = self.__visit_tokens__ and isinstance(node, Token)
                done.append(self._call_userfunc_token(node) if visit else node)
            elif not children_done:
                todo.append((node, True))
                todo.extend((c, False) for c in reversed(node.children))
            else:
                n = len(node.children)
                children = [c for c in done[len(done) - n :] if c is not Discard]
                del done[len(done) - n :]
                done.append(self._call_userfunc(node, children))
        return done[0]

    # -- statements
    def start(self, meta, items):
        return tuple(items)

    def import_stmt(self, meta, items):
        path, alias = items
        return ast.Import(_unquote(path), alias and str(alias), self._s(meta), self._t(path))

    def dim_stmt(self, meta, items):
        kind, name, value = items
        return ast.DimDef(str(kind), str(name), value, self._s(meta), self._t(name))

    def input_stmt(self, meta, items):
        name, ttype = items
        return ast.InputDecl(str(name), ttype, self._s(meta), self._t(name))

    def output_stmt(self, meta, items):
        name, ttype, value = items
        return ast.OutputDecl(str(name), ttype, value, self._s(meta), self._t(name))

    def tensor_type(self, meta, items):
        dtype, *rest = items
        vocab = rest.pop()
        dims = tuple(d for d in rest if d is not None)
        return ast.TensorType(str(dtype), dims, vocab, self._s(meta), self._t(dtype))

    def block_def(self, meta, items):
        name, *rest = items
        body, end = rest.pop()
        params = tuple(p for p in rest if p is not None)
        return ast.BlockDef(str(name), params, body, self._s(meta), self._t(name), end)

    def param(self, meta, items):
        name, default = items
        return ast.Param(str(name), default, self._s(meta))

    def body(self, meta, items):
        end = Span(self.source, meta.end_line, meta.end_column - 1, meta.end_line, meta.end_column)
        return tuple(items), end

    def assign(self, meta, items):
        *targets, value = items
        names = tuple(ast.Name(str(t), self._t(t)) for t in targets)
        return ast.Assign(names, value, self._s(meta))

    def return_stmt(self, meta, items):
        return ast.Return(tuple(items), self._s(meta))

    def expr_stmt(self, meta, items):
        return ast.ExprStmt(items[0], self._s(meta))

    def wormhole_stmt(self, meta, items):
        src, dst, *settings = items
        return ast.Wormhole(
            ast.Name(str(src), self._t(src)),
            ast.Name(str(dst), self._t(dst)),
            tuple(settings),
            self._s(meta),
        )

    def setting_inline(self, meta, items):
        name, value = items
        return ast.Setting(str(name), value, self._s(meta), self._t(name))

    setting = setting_inline

    def settings(self, meta, items):
        return tuple(items)

    def segments_stmt(self, meta, items):
        name, structure, settings = items
        return ast.Segments(str(name), structure, settings, self._s(meta), self._t(name))

    def train_stmt(self, meta, items):
        return ast.Train(items[0], self._s(meta))

    # -- expressions
    def _bin(op):  # noqa: N805
        def rule(self, meta, items):
            return ast.BinOp(op, items[0], items[1], self._s(meta))

        return rule

    add, sub, mul, div = _bin("+"), _bin("-"), _bin("*"), _bin("/")
    floordiv, mod, matmul, pow = _bin("//"), _bin("%"), _bin("@"), _bin("**")

    def neg(self, meta, items):
        return ast.Neg(items[0], self._s(meta))

    def call(self, meta, items):
        func, *args = items
        positional, keywords, misplaced = [], [], []
        for a in args:
            if a is None:
                continue
            if isinstance(a, ast.Keyword):
                keywords.append(a)
            elif keywords:
                misplaced.append(a)
            else:
                positional.append(a)
        return ast.Call(func, tuple(positional), tuple(keywords), self._s(meta), tuple(misplaced))

    def kwarg(self, meta, items):
        name, value = items
        return ast.Keyword(str(name), value, self._s(meta), self._t(name))

    def attribute(self, meta, items):
        value, attr = items
        return ast.Attribute(value, str(attr), self._s(meta), self._t(attr))

    def subscript(self, meta, items):
        value, *rest = items
        return ast.Subscript(value, tuple(i for i in rest if i is not None), self._s(meta))

    def slice(self, meta, items):
        start, stop, step = items
        return ast.Slice(start, stop, step, self._s(meta))

    def name(self, meta, items):
        return ast.Name(str(items[0]), self._s(meta))

    def number(self, meta, items):
        text = str(items[0])
        is_int = text.isdigit()
        value = int(text) if is_int else float(text)
        return ast.Number(value, text, self._s(meta))

    def string(self, meta, items):
        return ast.String(_unquote(items[0]), self._s(meta))

    def list(self, meta, items):
        return ast.ListExpr(tuple(i for i in items if i is not None), self._s(meta))

    def repeat(self, meta, items):
        count, shared, (body, _end) = items
        return ast.Repeat(count, shared is not None, body, self._s(meta))


_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}


def _unquote(tok: Token) -> str:
    """Decode a "..." literal: backslash escapes \\n \\t \\" \\\\; any other escaped char stays."""
    body, out, i = str(tok)[1:-1], [], 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            out.append(_ESCAPES.get(body[i + 1], body[i + 1]))
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)
