"""`seqnet fmt`: print an AST in canonical style, keeping every comment.

Canonical style: two-space indentation; spaces around `=` in statements and around binary
operators, none around `=` in keyword arguments; one statement per line; at most one blank line
between statements (kept where the source had one); a repeat with a one-expression body on one
line; a `choose(KEY, ...)` too long for one line with one choice a line. Comments on their own line stay before the statement that follows them; a comment after
code stays at the end of that statement's line.
"""

from __future__ import annotations

from seqnet.grammar import ast
from seqnet.grammar.parser import recursion_room

INDENT = "  "
WIDTH = 100  # a choose(...) longer than this is printed one choice a line
_PREC = {"+": 1, "-": 1, "*": 2, "/": 2, "//": 2, "%": 2, "@": 2, "**": 4}


def format_module(module: ast.Module) -> str:
    with recursion_room():  # expressions are printed recursively; parse() bounds their depth
        return _Printer(module).run()


class _Printer:
    def __init__(self, module: ast.Module):
        self.module = module
        self.lines: list[str] = []
        text_lines = module.source.text.splitlines()
        self.comments = []
        for c in module.comments:
            before = text_lines[c.span.line - 1][: c.span.column - 1] if c.span.line <= len(text_lines) else ""
            self.comments.append((c.span.line, c.text.rstrip(), before.strip() == ""))
        self.pos = 0
        self.prev_end: int | None = None

    # -- comments
    def _own_line_before(self, line: int, depth: int) -> None:
        while self.pos < len(self.comments) and self.comments[self.pos][0] < line:
            cline, text, own = self.comments[self.pos]
            if self.prev_end is not None and cline > self.prev_end + 1 and self.lines and self.lines[-1] != "":
                self.lines.append("")
            self.lines.append(INDENT * depth + text)
            self.prev_end = cline
            self.pos += 1

    def _trailing(self, first: int, last: int, depth: int) -> str:
        found = []
        while self.pos < len(self.comments) and first <= self.comments[self.pos][0] <= last:
            found.append(self.comments[self.pos][1])
            self.pos += 1
        for text in found[:-1]:
            self.lines.append(INDENT * depth + text)
        return "  " + found[-1] if found else ""

    # -- statements
    def run(self) -> str:
        self._body(self.module.body, 0)
        self._own_line_before(10**9, 0)
        while self.lines and self.lines[-1] == "":
            self.lines.pop()
        return "\n".join(self.lines) + "\n"

    def _body(self, body, depth: int) -> None:
        for stmt in body:
            start = stmt.span.line
            self._own_line_before(start, depth)
            if self.prev_end is not None and start > self.prev_end + 1 and self.lines and self.lines[-1] != "" \
                    and not self.lines[-1].endswith("{"):  # fmt: skip
                self.lines.append("")
            self._stmt(stmt, depth)

    def _emit(self, text: str, stmt, depth: int, last: int | None = None) -> None:
        last = last if last is not None else _last_line(stmt)
        at = len(self.lines)
        trailing = self._trailing(stmt.span.line, last, depth)
        self.lines.insert(at + (len(self.lines) - at), INDENT * depth + text + trailing)
        self.prev_end = last

    def _stmt(self, s, depth: int) -> None:
        if isinstance(s, ast.Import):
            text = f'import {_string(s.path)}' + (f" as {s.alias}" if s.alias else "")
            return self._emit(text, s, depth)
        if isinstance(s, ast.DimDef):
            return self._emit(f"{s.kind} {s.name} = {expr(s.value)}", s, depth)
        if isinstance(s, ast.InputDecl):
            return self._emit(f"input {s.name} : {_type(s.type)}", s, depth)
        if isinstance(s, ast.OutputDecl):
            text = f"output {s.name}" + (f" : {_type(s.type)}" if s.type else "")
            text += f" = {self._expr_block(s.value, depth)}" if s.value is not None else ""
            return self._emit(text, s, depth)
        if isinstance(s, ast.Assign):
            targets = ", ".join(t.id for t in s.targets)
            return self._emit(f"{targets} = {self._expr_block(s.value, depth)}", s, depth)
        if isinstance(s, ast.Return):
            return self._emit("return " + ", ".join(self._expr_block(v, depth) for v in s.values), s, depth)
        if isinstance(s, ast.ExprStmt):
            return self._emit(self._expr_block(s.value, depth), s, depth)
        if isinstance(s, ast.Wormhole):
            settings = "".join(f" {x.name}={expr(x.value)}" for x in s.settings)
            return self._emit(f"wormhole {s.source.id} -> {s.target.id}{settings}", s, depth)
        if isinstance(s, ast.BlockDef):
            params = ", ".join(p.name + (f"={expr(p.default)}" if p.default is not None else "")
                               for p in s.params)  # fmt: skip
            self._open(f"block {s.name}({params}) {{", s, depth)
            self._body(s.body, depth + 1)
            return self._close(s.end_span.line, depth)
        if isinstance(s, ast.Segments):
            self._open(f"segments {s.name} = {expr(s.structure)} {{", s, depth)
            self._settings(s.settings, depth + 1)
            return self._close(_last_line(s), depth)
        if isinstance(s, ast.Train):
            self._open("train {", s, depth)
            self._settings(s.settings, depth + 1)
            return self._close(_last_line(s), depth)
        raise TypeError(f"cannot format {type(s).__name__}")

    def _open(self, header: str, s, depth: int) -> None:
        self._emit(header, s, depth, last=s.span.line)

    def _close(self, line: int, depth: int) -> None:
        self._own_line_before(line, depth + 1)
        self.lines.append(INDENT * depth + "}")
        self.prev_end = line

    def _settings(self, settings, depth: int) -> None:
        for st in settings:
            self._own_line_before(st.span.line, depth)
            if self.prev_end is not None and st.span.line > self.prev_end + 1 and not self.lines[-1].endswith("{"):
                self.lines.append("")
            self._emit(f"{st.name} = {expr(st.value)}", st, depth)

    def _expr_block(self, e, depth: int) -> str:
        """An expression that may contain a multi-statement repeat body."""
        if isinstance(e, ast.Repeat) and not _inline_repeat(e):
            head = f"repeat {expr(e.count)}" + (" shared" if e.shared else "") + " {"
            saved = self.lines
            self.lines = []
            self._body(e.body, depth + 1)
            self._own_line_before(_last_line_of_expr(e), depth + 1)
            inner = self.lines
            self.lines = saved
            return head + "\n" + "\n".join(inner) + "\n" + INDENT * depth + "}"
        text = expr(e)
        if _is_choice(e) and len(INDENT * depth) + len(text) > WIDTH:  # one choice a line
            pad = "\n" + INDENT * (depth + 2)
            choices = [f"{k.name}={expr(k.value)}" for k in e.kwargs]
            return f"{expr(e.func)}({', '.join(expr(a) for a in e.args)}," + pad + ("," + pad).join(choices) + ")"
        return text


def _is_choice(e) -> bool:
    """`choose(KEY, a=..., b=...)` as written, with nothing out of place (compiler/choices.py)."""
    return ast.is_call(e, "choose") and len(e.args) == 1 and len(e.kwargs) > 1 and not e.misplaced


def _inline_repeat(e: ast.Repeat) -> bool:
    if not (len(e.body) == 1 and isinstance(e.body[0], (ast.ExprStmt, ast.Return))):
        return False
    body = e.body[0]
    one = body.value if isinstance(body, ast.ExprStmt) else body.values[0] if len(body.values) == 1 else None
    return not (_is_choice(one) and len(expr(one)) > WIDTH)  # a long choose gets its own lines


def _last_line(stmt) -> int:
    return stmt.span.end_line


def _last_line_of_expr(e) -> int:
    return e.span.end_line


def _string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t") + '"'


def _type(t: ast.TensorType) -> str:
    text = f"{t.dtype}[{', '.join(expr(d) for d in t.dims)}]"
    return text + (f" vocab {expr(t.vocab)}" if t.vocab is not None else "")


def _subscript_item(item) -> str:
    if not isinstance(item, ast.Slice):
        return expr(item)
    text = ":".join("" if part is None else expr(part) for part in (item.start, item.stop))
    return text + (f":{expr(item.step)}" if item.step is not None else "")


def expr(e, parent: int = 0, right: bool = False) -> str:
    """Canonical text of an expression, with only the parentheses precedence needs."""
    if isinstance(e, ast.Name):
        return e.id
    if isinstance(e, ast.Number):
        return e.text
    if isinstance(e, ast.String):
        return _string(e.value)
    if isinstance(e, ast.ListExpr):
        return "[" + ", ".join(expr(i) for i in e.items) + "]"
    if isinstance(e, ast.BinOp):
        p = _PREC[e.op]
        if e.op == "**":
            text = f"{expr(e.left, 5)} ** {expr(e.right, 3)}"
        else:
            text = f"{expr(e.left, p)} {e.op} {expr(e.right, p, right=True)}"
        needs = p < parent or (p == parent and right and e.op != "**")
        return f"({text})" if needs else text
    if isinstance(e, ast.Neg):
        text = "-" + expr(e.operand, 3)
        return f"({text})" if parent > 3 else text
    if isinstance(e, ast.Call):
        args = [expr(a) for a in e.args] + [f"{k.name}={expr(k.value)}" for k in e.kwargs]
        args += [expr(a) for a in e.misplaced]
        return f"{expr(e.func, 5)}({', '.join(args)})"
    if isinstance(e, ast.Attribute):
        return f"{expr(e.value, 5)}.{e.attr}"
    if isinstance(e, ast.Subscript):
        return f"{expr(e.value, 5)}[{', '.join(_subscript_item(i) for i in e.items)}]"
    if isinstance(e, ast.Repeat):
        body = e.body[0]
        inner = expr(body.value) if isinstance(body, ast.ExprStmt) else "return " + ", ".join(expr(v) for v in body.values)
        text = f"repeat {expr(e.count)}" + (" shared" if e.shared else "") + f" {{ {inner} }}"
        return f"({text})" if parent else text
    raise TypeError(f"cannot format {type(e).__name__}")
