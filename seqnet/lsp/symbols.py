"""Where each name of a spec is defined and where it is used: the index behind go-to-definition,
find-references, hover and the outline.

The index is built from the AST alone (no elaboration), so it exists for every file that parses,
even one whose shapes do not check. Scoping follows the compiler's: declarations (imports, dims,
consts, blocks) are visible everywhere in their module; tensors (inputs, assignments, outputs,
block parameters) from where they are written on, a later assignment of the same name hiding the
earlier one; a block body and a repeat body are scopes of their own inside the module's. An import
binds the names the imported file declares (or one namespace, with `as`), read through `loader`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from seqnet.grammar import ast
from seqnet.grammar.parser import recursion_room
from seqnet.source import Span

# What a symbol is; the outline and hover name them so.
DIM, CONST, INPUT, OUTPUT, TENSOR, BLOCK, PARAM, IMPORT, SEGMENTS = (
    "dim", "const", "input", "output", "tensor", "block", "param", "import", "segments",
)  # fmt: skip
DECLARATIONS = (DIM, CONST, BLOCK, IMPORT)


@dataclass(eq=False)
class Symbol:
    """One definition: `span` is the name as written, `stmt` the whole statement, `value` the
    expression it is bound to (None for inputs, parameters without a default and imports)."""

    name: str
    kind: str
    span: Span
    stmt: object
    value: object = None
    block: str | None = None  # the block it is defined in
    members: dict[str, Symbol] | None = None  # an aliased import's names
    target: Path | None = None  # an import's file


@dataclass(frozen=True)
class Occurrence:
    """A place the cursor can be: a name written in the file, with what it refers to."""

    span: Span
    name: str
    symbol: Symbol | None  # its definition, where it resolves
    is_definition: bool = False
    call: ast.Call | None = None  # set when the name is the function of this call
    keyword_of: ast.Call | None = None  # set when the name is a keyword argument of this call
    setting_of: str | None = None  # "train", "wormhole", "segments": a setting's name


@dataclass
class Index:
    symbols: list[Symbol] = field(default_factory=list)  # this file's definitions, in order
    occurrences: list[Occurrence] = field(default_factory=list)
    scope: dict[str, Symbol] = field(default_factory=dict)  # the module scope at the end

    def at(self, line: int, column: int) -> Occurrence | None:
        """The occurrence under a 1-based position (its last character included)."""
        hits = [o for o in self.occurrences
                if o.span.line == line and o.span.column <= column <= o.span.end_column]  # fmt: skip
        inside = [o for o in hits if column < o.span.end_column]
        return (inside or hits or [None])[0]

    def references(self, symbol: Symbol) -> list[Occurrence]:
        return [o for o in self.occurrences if o.symbol is symbol]


Loader = Callable[[Path], "ast.Module | None"]


def declarations_of(module: ast.Module, loader: Loader | None, seen: tuple[Path, ...] = ()) -> dict[str, Symbol]:
    """The names a module declares (what importing it binds), imports of imports included."""
    scope: dict[str, Symbol] = {}
    _declare(module, scope, loader, seen, occurrences=None)
    return scope


def _declare(module, scope, loader, seen, occurrences) -> None:
    here = module.source.path
    for stmt in module.body:
        if isinstance(stmt, ast.Import):
            target = (here.parent / stmt.path).resolve() if here is not None else None
            sym = Symbol(stmt.alias or stmt.path, IMPORT, stmt.path_span, stmt, target=target)
            sub = None
            if target is not None and loader is not None and target not in seen:
                sub_module = loader(target)
                if sub_module is not None:
                    sub = declarations_of(sub_module, loader, (*seen, here, target))
            if stmt.alias:
                sym.members = sub or {}
                scope[stmt.alias] = sym
            elif sub:
                scope.update(sub)
            if occurrences is not None:
                occurrences.append(Occurrence(stmt.path_span, stmt.path, sym, is_definition=True))
        elif isinstance(stmt, ast.DimDef):
            scope[stmt.name] = Symbol(stmt.name, stmt.kind, stmt.name_span, stmt, stmt.value)
        elif isinstance(stmt, ast.BlockDef):
            scope[stmt.name] = Symbol(stmt.name, BLOCK, stmt.name_span, stmt)


def build_index(module: ast.Module, loader: Loader | None = None) -> Index:
    index = Index()
    scope: dict[str, Symbol] = {}
    _declare(module, scope, loader, (), index.occurrences)
    walker = _Walker(index, module)
    with recursion_room():
        walker.stmts(module.body, [scope], None)
    index.scope = scope
    index.occurrences.sort(key=lambda o: (o.span.line, o.span.column))
    return index


class _Walker:
    def __init__(self, index: Index, module: ast.Module):
        self.index = index
        self.module = module

    def define(self, sym: Symbol, scopes: list[dict]) -> None:
        scopes[-1][sym.name] = sym
        if sym.span.source is self.module.source:
            self.index.symbols.append(sym)
        self.index.occurrences.append(Occurrence(sym.span, sym.name, sym, is_definition=True))

    def note(self, span: Span, name: str, symbol, **kw) -> None:
        self.index.occurrences.append(Occurrence(span, name, symbol, **kw))

    def stmts(self, body, scopes: list[dict], block: str | None) -> None:
        for stmt in body:
            self.stmt(stmt, scopes, block)

    def stmt(self, s, scopes, block) -> None:
        if isinstance(s, ast.DimDef):
            self.expr(s.value, scopes)
            sym = scopes[0].get(s.name) if block is None else None
            sym = sym if sym is not None and sym.stmt is s else Symbol(s.name, s.kind, s.name_span, s, s.value, block)
            self.define(sym, scopes)
        elif isinstance(s, ast.BlockDef):
            sym = scopes[0].get(s.name)
            sym = sym if sym is not None and sym.stmt is s else Symbol(s.name, BLOCK, s.name_span, s)
            self.define(sym, scopes)
            inner: dict[str, Symbol] = {}
            for p in s.params:
                if p.default is not None:
                    self.expr(p.default, scopes)
                name_span = Span(p.span.source, p.span.line, p.span.column, p.span.line, p.span.column + len(p.name))
                self.define(Symbol(p.name, PARAM, name_span, p, p.default, s.name), [*scopes, inner])
            self.stmts(s.body, [*scopes, inner], s.name)
        elif isinstance(s, ast.InputDecl):
            self.tensor_type(s.type, scopes)
            self.define(Symbol(s.name, INPUT, s.name_span, s, None, block), scopes)
        elif isinstance(s, ast.OutputDecl):
            if s.type is not None:
                self.tensor_type(s.type, scopes)
            if s.value is not None:
                self.expr(s.value, scopes)
            self.define(Symbol(s.name, OUTPUT, s.name_span, s, s.value, block), scopes)
        elif isinstance(s, ast.Assign):
            self.expr(s.value, scopes)
            for t in s.targets:
                self.define(Symbol(t.id, TENSOR, t.span, s, s.value, block), scopes)
        elif isinstance(s, (ast.Return,)):
            for v in s.values:
                self.expr(v, scopes)
        elif isinstance(s, ast.ExprStmt):
            self.expr(s.value, scopes)
        elif isinstance(s, ast.Wormhole):
            for n in (s.source, s.target):
                self.expr(n, scopes)
            self.settings(s.settings, scopes, "wormhole")
        elif isinstance(s, ast.Segments):
            self.expr(s.structure, scopes)
            self.settings(s.settings, scopes, "segments")
            self.define(Symbol(s.name, SEGMENTS, s.name_span, s, s.structure, block), scopes)
        elif isinstance(s, ast.Train):
            self.settings(s.settings, scopes, "train")

    def settings(self, settings, scopes, owner: str) -> None:
        for st in settings:
            self.note(st.name_span, st.name, None, setting_of=owner)
            self.expr(st.value, scopes)

    def tensor_type(self, t: ast.TensorType, scopes) -> None:
        for d in t.dims:
            self.expr(d, scopes)
        if t.vocab is not None:
            self.expr(t.vocab, scopes)

    def expr(self, e, scopes, call: ast.Call | None = None) -> None:
        if isinstance(e, ast.Name):
            self.note(e.span, e.id, lookup(scopes, e.id), call=call)
        elif isinstance(e, ast.Call):
            self.expr(e.func, scopes, call=e)
            for a in (*e.args, *e.misplaced):
                self.expr(a, scopes)
            for k in e.kwargs:
                self.note(k.name_span, k.name, None, keyword_of=e)
                self.expr(k.value, scopes)
        elif isinstance(e, ast.Attribute):
            self.expr(e.value, scopes)
            base = lookup(scopes, e.value.id) if isinstance(e.value, ast.Name) else None
            member = (base.members or {}).get(e.attr) if base is not None else None
            self.note(e.attr_span, e.attr, member, call=call)
        elif isinstance(e, ast.BinOp):
            self.expr(e.left, scopes)
            self.expr(e.right, scopes)
        elif isinstance(e, ast.Neg):
            self.expr(e.operand, scopes)
        elif isinstance(e, ast.ListExpr):
            for item in e.items:
                self.expr(item, scopes)
        elif isinstance(e, ast.Repeat):
            self.expr(e.count, scopes)
            self.stmts(e.body, [*scopes, {}], None)


def lookup(scopes: list[dict], name: str) -> Symbol | None:
    for scope in reversed(scopes):
        if name in scope:
            return scope[name]
    return None
