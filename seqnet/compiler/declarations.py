"""Declarations, visible everywhere in their module: imports, dims and consts, block definitions."""

from __future__ import annotations

import difflib
from dataclasses import replace
from pathlib import Path

from seqnet.atomic import file_kind
from seqnet.compiler import values as V
from seqnet.compiler.context import Ctx, Scope
from seqnet.compiler.ops.registry import OPS
from seqnet.compiler.overrides import override_expr
from seqnet.compiler.statements import too_big_axis
from seqnet.errors import CompileError, Note
from seqnet.grammar import ast
from seqnet.limits import MAX_DIM
from seqnet.source import Span


class Declarations:
    """Elaborator methods for the declarations of a module (a mixin of Elaborator)."""

    def _declarations(self, module: ast.Module, scope: Scope, root: bool) -> None:
        for stmt in module.body:
            if isinstance(stmt, ast.Import):
                self._guard(lambda s=stmt: self._import(s, module, scope), scope,
                            (stmt.alias,) if stmt.alias else ())  # fmt: skip
        for stmt in module.body:
            if isinstance(stmt, ast.DimDef):
                self._guard(lambda s=stmt: self._dim(s, scope, root), scope, (stmt.name,))
            elif isinstance(stmt, ast.BlockDef):
                self._guard(lambda s=stmt: self._define_block(s, scope), scope, (stmt.name,))

    def _define_block(self, stmt: ast.BlockDef, scope: Scope) -> None:
        self._check_free(stmt.name, stmt.name_span, scope, "block")
        if stmt.name in OPS:
            raise CompileError("SQN0107", f"block '{stmt.name}' has the name of a built-in op",
                               stmt.name_span, hint="choose another name for the block")  # fmt: skip
        seen: dict[str, Span] = {}
        for p in stmt.params:
            if p.name in seen:
                raise CompileError("SQN0107", f"parameter '{p.name}' appears twice", p.span,
                                   notes=(Note(seen[p.name], "first here"),))  # fmt: skip
            seen[p.name] = p.span
        scope.bind(stmt.name, V.BlockRef(stmt, scope, stmt.name), stmt.name_span)

    def _check_free(self, name: str, span: Span, scope: Scope, what: str) -> None:
        if name in scope.vars and not isinstance(scope.vars[name], (V.TensorRef, V.Poison)):
            raise CompileError("SQN0107", f"'{name}' is already defined", span,
                               notes=(Note(scope.spans[name], "first defined here"),),
                               hint=f"rename this {what}")  # fmt: skip

    def _dim(self, stmt: ast.DimDef, scope: Scope, root: bool) -> None:
        self._check_free(stmt.name, stmt.name_span, scope, stmt.kind)
        expr, notes, hint = stmt.value, (), "use 'const' for other values"
        if root and stmt.name in self.overrides:
            self.used_overrides.add(stmt.name)
            expr = override_expr(stmt.name, self.overrides[stmt.name], self.overrides,
                                 as_string=isinstance(stmt.value, ast.String))  # fmt: skip
            notes = (Note(stmt.value.span, f"{stmt.kind} {stmt.name} is declared here"),)
            hint = f"a dim is a size: {self.overrides.written(stmt.name, '<a whole number of at least 1>')}"
        value = self.evaluate(expr, Ctx(scope))
        if stmt.kind == "dim":
            if not (isinstance(value, V.Num) and value.is_int and value.value > 0):
                raise CompileError("SQN0108", f"dim {stmt.name} must be a positive integer, got "
                                   f"{V.describe(value)}", expr.span, hint=hint, notes=notes)  # fmt: skip
            if value.value > MAX_DIM:
                raise too_big_axis(f"dim {stmt.name}", value.value, expr.span, notes)
        elif not isinstance(value, (V.Num, V.Str, V.Bool, V.Symbol)):
            raise CompileError("SQN0108", f"const {stmt.name} must be a number, string or "
                               f"boolean, got {V.describe(value)}", expr.span, notes=notes)  # fmt: skip
        if isinstance(value, V.Num):
            value = V.Num(value.value, stmt.name, stmt.name_span)  # shapes show the name
        scope.bind(stmt.name, value, stmt.name_span)
        if root:
            plain = value.value if not isinstance(value, V.Symbol) else value.name
            self.graph.graph["dims"][stmt.name] = plain

    def _import(self, stmt: ast.Import, module: ast.Module, scope: Scope) -> None:
        here = module.source.path
        if here is None or self.loader is None:
            raise CompileError("SQN0201", "imports need the spec to be a file on disk",
                               stmt.span, hint="use seqnet.load(path), or seqnet.loads(text, base_dir=folder)")  # fmt: skip
        if "\x00" in stmt.path:  # no file name holds one; the OS calls would raise ValueError
            raise CompileError("SQN0201", "the import path contains a NUL character", stmt.path_span,
                               hint="remove the \\0 from the path")  # fmt: skip
        target = (here.parent / stmt.path).resolve()
        root = (self.root_dir or here.parent).resolve()
        if Path(stmt.path).is_absolute() or not target.is_relative_to(root):
            raise CompileError("SQN0202", f'import "{stmt.path}" leaves the spec\'s folder tree',
                               stmt.path_span,
                               hint=f"a spec may import files in its own folder ('{root.name}') and "
                                    "below it only")  # fmt: skip
        if target in self.import_stack:
            cycle = " -> ".join(p.name for p in [*self.import_stack, target])
            raise CompileError("SQN0203", f"cyclic import: {cycle}", stmt.path_span,
                               hint="move the shared blocks into a third file both import")  # fmt: skip
        try:
            self._check_import_target(stmt, target, here)
        except OSError as e:  # a name too long for the file system, a folder it may not read, ...
            raise CompileError("SQN0201", f'cannot open "{stmt.path}": {e.strerror or e}', stmt.path_span,
                               hint="import a .seqnet file by a shorter path inside the spec's folder") from None  # fmt: skip
        if target not in self.module_cache:
            source, sub, diags = self.loader(target)
            for d in diags:
                self.reporter.diagnostics.append(
                    replace(d, notes=(*d.notes, Note(stmt.span, "imported here")))
                )
            sub_scope = Scope()
            if sub is not None:
                self.import_stack.append(target)
                try:
                    self.graph.graph["files"].append(source.name)
                    self._declarations(sub, sub_scope, root=False)
                finally:
                    self.import_stack.pop()
            self.module_cache[target] = sub_scope
        sub_scope = self.module_cache[target]
        if stmt.alias:
            self._check_free(stmt.alias, stmt.span, scope, "import")
            scope.bind(stmt.alias, V.Namespace(stmt.alias, dict(sub_scope.vars)), stmt.span)
        else:
            for name, value in sub_scope.vars.items():
                self._check_free(name, stmt.span, scope, "import")
                scope.bind(name, value, stmt.span)

    def _check_import_target(self, stmt: ast.Import, target: Path, here: Path) -> None:
        """That the import names a regular file, with a near miss suggested when it does not;
        the file system's own refusals (OSError) are the caller's to report."""
        if target.exists() and not target.is_file():  # a folder, FIFO or device: never read it
            kind = file_kind(target.stat().st_mode)
            raise CompileError("SQN0201", f'"{stmt.path}" is {kind}, not a spec file', stmt.path_span,
                               hint="import a .seqnet file")  # fmt: skip
        if not target.is_file():
            siblings = sorted(p for p in target.parent.glob("*.seqnet") if p.is_file()) \
                if target.parent.is_dir() else []  # fmt: skip
            stems = {p.stem: p.name for p in siblings}
            match = difflib.get_close_matches(Path(stmt.path).stem, stems, n=1, cutoff=0.75)
            near = f"did you mean '{stems[match[0]]}'?" if match else None
            raise CompileError("SQN0201", f'cannot find "{stmt.path}"', stmt.path_span,
                               hint=near or f"no such file next to {here.name}")  # fmt: skip
