"""Elaboration: AST -> graph IR. Imports resolved, dims evaluated and overridden, blocks expanded
with hierarchical names, repeats unrolled (shared weights recorded), wormholes and segment
structures attached, shapes inferred through the op registry, the train section resolved.

Errors are collected per statement: a bad statement is reported and skipped, the rest still runs,
so one `seqnet check` shows every independent mistake in a file.

The work is split by what it elaborates, one mixin each: declarations.py (imports, dims,
blocks defined), statements.py, expressions.py, calls.py (ops), subscripts.py (x[1:], x[:, -1]),
blocks.py (block calls, repeats);
mechanisms.py and train.py handle wormholes, segment structures and the train section.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import networkx as nx

from seqnet.compiler import values as V
from seqnet.compiler.blocks import Blocks
from seqnet.compiler.calls import Calls
from seqnet.compiler.context import Builder, Cascade, Ctx, Scope
from seqnet.compiler.declarations import Declarations
from seqnet.compiler.expressions import Expressions
from seqnet.compiler.graph import new_graph
from seqnet.compiler.names import did_you_mean
from seqnet.compiler.ops.catalog import load_ops
from seqnet.compiler.overrides import TRAIN_OVERRIDABLE, Overrides
from seqnet.compiler.statements import Statements
from seqnet.compiler.subscripts import Subscripts
from seqnet.errors import CompileError, Note, Reporter
from seqnet.grammar import ast
from seqnet.grammar.parser import recursion_room

__all__ = ["Elaborator", "Overrides"]


@dataclass
class Elaborator(Declarations, Statements, Expressions, Calls, Subscripts, Blocks):
    reporter: Reporter
    overrides: Overrides = field(default_factory=Overrides)
    root_dir: Path | None = None
    loader: object = None  # callable(path) -> (SourceFile, Module | None, diagnostics)
    import_stack: list[Path] = field(default_factory=list)
    module_cache: dict[Path, Scope] = field(default_factory=dict)
    used_overrides: set[str] = field(default_factory=set)
    choices: dict = field(default_factory=dict)  # choice site -> choices.Choice

    def __post_init__(self):
        if not isinstance(self.overrides, Overrides):
            self.overrides = Overrides(self.overrides)
        load_ops()
        self.graph = new_graph()
        self.builder = Builder(self.graph, [0])
        self.declared_outputs: set[str] = set()

    # -- entry point

    def module(self, module: ast.Module) -> nx.MultiDiGraph:
        # Expressions are evaluated recursively; the parser refuses any deeper than this allows.
        with recursion_room():
            return self._module(module)

    def _module(self, module: ast.Module) -> nx.MultiDiGraph:
        g = self.graph
        g.graph["source"] = module.source.name
        g.graph["files"].append(module.source.name)
        scope = Scope()
        ctx = Ctx(scope)
        self._declarations(module, scope, root=True)
        outputs: list[ast.OutputDecl] = []
        train: ast.Train | None = None
        for stmt in module.body:
            if isinstance(stmt, (ast.Import, ast.DimDef, ast.BlockDef)):
                continue
            if isinstance(stmt, ast.OutputDecl):
                outputs.append(stmt)
                self.declared_outputs.add(stmt.name)
                if stmt.value is not None:
                    self._guard(lambda s=stmt: self._assign_output(s, ctx), scope, (stmt.name,))
                continue
            if isinstance(stmt, ast.Train):
                if train is not None:
                    self.reporter.error("SQN0107", "a spec has one train section", stmt.span,
                                        notes=(Note(train.span, "the first one is here"),))  # fmt: skip
                train = stmt
                continue
            self._guard(lambda s=stmt: self._statement(s, ctx), scope, _defines(stmt))
        self._bind_outputs(outputs, scope)
        g.graph["choices"] = list(self.choices.values())
        if train is not None:
            # imported here: the train section's pydantic models are a fifth of a small
            # `seqnet check`'s time, and a spec without one never needs them
            from seqnet.compiler.train import resolve_train

            self._guard(lambda: resolve_train(self, train, scope))
        declared = {s.name for s in module.body if isinstance(s, ast.DimDef)}
        for name in sorted(set(self.overrides) - self.used_overrides):
            if name in declared:
                continue  # a dim whose own definition failed: that error is reported
            if name in TRAIN_OVERRIDABLE:
                if train is None:
                    self.reporter.error("SQN0110", f"{self.overrides.label(name)}: the spec has no train section",
                                        None, hint="add a train { ... } section to train it")  # fmt: skip
                continue  # else the train section failed to resolve, and said why
            known = sorted(self.graph.graph["dims"]) + sorted(TRAIN_OVERRIDABLE)
            self.reporter.error(
                "SQN0110", f"{self.overrides.label(name)}: no dim, const or train setting is called '{name}'",
                None, hint=did_you_mean(name, known) or "overridable: " + ", ".join(known),
            )  # fmt: skip
        return g

    def _guard(self, fn, scope: Scope | None = None, defines: tuple[str, ...] = ()) -> None:
        """Run one statement; report its error, and poison the names it would have defined so
        later uses of them stay quiet instead of cascading into 'unknown name' errors."""
        try:
            fn()
        except Cascade:
            self._poison(scope, defines)
        except CompileError as e:
            self._poison(scope, defines)
            self.reporter.error(e.code, e.message, e.span, hint=e.hint, notes=e.notes,
                                chain=getattr(e, "chain", ()))  # fmt: skip
        except RecursionError:
            self._poison(scope, defines)
            self.reporter.error("SQN0005", "the spec nests too deeply to compile", None,
                                hint="reduce the nesting of expressions and blocks")  # fmt: skip

    @staticmethod
    def _poison(scope: Scope | None, names: tuple[str, ...]) -> None:
        if scope is None:
            return
        for name in names:
            if not isinstance(scope.vars.get(name), (V.BlockRef, V.Namespace)):
                scope.bind(name, V.Poison(name))


def _defines(stmt) -> tuple[str, ...]:
    """The names a top-level statement binds (poisoned if it fails)."""
    if isinstance(stmt, ast.Assign):
        return tuple(t.id for t in stmt.targets)
    if isinstance(stmt, (ast.InputDecl, ast.Segments)):
        return (stmt.name,)
    return ()
