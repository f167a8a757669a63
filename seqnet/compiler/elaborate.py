"""Elaboration: AST -> graph IR. Imports resolved, dims evaluated and overridden, blocks expanded
with hierarchical names, repeats unrolled (shared weights recorded), wormholes and segment
structures attached, shapes inferred through the op registry, the train section resolved.

Errors are collected per statement: a bad statement is reported and skipped, the rest still runs,
so one `seqnet check` shows every independent mistake in a file.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import networkx as nx

from seqnet.compiler import values as V
from seqnet.compiler.graph import new_graph
from seqnet.compiler.ops.registry import OPS, OpCall, OpDef, ShapeError, load_ops
from seqnet.compiler.types import DTYPES, Dim, NamedInt, TensorType, plain
from seqnet.errors import CompileError, Note, Reporter
from seqnet.grammar import ast
from seqnet.grammar.parser import recursion_room
from seqnet.limits import MAX_BLOCK_DEPTH, MAX_DIM, MAX_INT, MAX_NODES, MAX_NUMBER_CHARS, MAX_REPEAT
from seqnet.source import SourceFile, Span

# Ops made by statements (wormhole, segments) rather than calls: their call signature is no hint.
STATEMENT_OPS = frozenset({"wormhole_gate", "segments"})
INTERNAL_OPS = {"segments", "wormhole_gate"}  # created by statements, not callable by name
BUILTIN_CONSTANTS = {"true": V.Bool(True), "false": V.Bool(False)}
STRUCTURES = ("binary_tree", "custom")
SHARE_POLICIES = ("none", "per_level", "all")
ROLES = {"token": 1, "fusion": 2, "decoder": 3}  # role -> number of tensors it receives


# --- scopes and context --------------------------------------------------------------------------


class Scope:
    def __init__(self, parent: Scope | None = None):
        self.vars: dict[str, object] = {}
        self.spans: dict[str, Span] = {}
        self.parent = parent

    def lookup(self, name: str):
        scope = self
        while scope is not None:
            if name in scope.vars:
                return scope.vars[name]
            scope = scope.parent
        return None

    def names(self) -> set[str]:
        out, scope = set(), self
        while scope is not None:
            out |= set(scope.vars)
            scope = scope.parent
        return out

    def bind(self, name: str, value, span: Span | None = None) -> None:
        self.vars[name] = value
        if span is not None:
            self.spans[name] = span


@dataclass(frozen=True)
class Ctx:
    scope: Scope
    path: tuple[str, ...] = ()
    chain: tuple[Span, ...] = ()  # call sites, innermost first
    repeats: tuple = ()  # (group, index, count, shared)
    blocks: tuple[str, ...] = ()  # blocks being expanded (recursion check)
    shared_with: str | None = None  # path prefix whose parameters this expansion reuses
    in_block: bool = False


class Builder:
    """Adds nodes to one graph with unique hierarchical names and deterministic order."""

    def __init__(self, graph: nx.MultiDiGraph, counter: list[int]):
        self.g = graph
        self.counter = counter  # shared across regions so `order` is global
        self.used: set[str] = set()
        self.next_suffix: dict[str, int] = {}  # base name -> next suffix to try (linear naming)

    def unique(self, path: tuple[str, ...], local: str) -> str:
        base = "/".join((*path, local))
        name, k = base, self.next_suffix.get(base, 1)
        if name in self.used:
            name = f"{base}_{k}"
            while name in self.used:
                k += 1
                name = f"{base}_{k}"
            self.next_suffix[base] = k + 1
        self.used.add(name)
        return name

    def add(self, name: str, **data) -> str:
        if self.counter[0] >= MAX_NODES:  # the counter is shared with the regions: all nodes
            raise CompileError("SQN0005", f"the graph exceeds {MAX_NODES:,} nodes", data.get("span"),
                               hint="use fewer layers or smaller repeat counts")  # fmt: skip
        self.counter[0] += 1
        self.g.add_node(name, order=self.counter[0], **data)
        return name


# --- the elaborator -------------------------------------------------------------------------------


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



@dataclass
class Elaborator:
    reporter: Reporter
    overrides: Overrides = field(default_factory=Overrides)
    root_dir: Path | None = None
    loader: object = None  # callable(path) -> (SourceFile, Module | None, diagnostics)
    import_stack: list[Path] = field(default_factory=list)
    module_cache: dict[Path, Scope] = field(default_factory=dict)
    used_overrides: set[str] = field(default_factory=set)

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
        if train is not None:
            from seqnet.compiler.train import resolve_train

            self._guard(lambda: resolve_train(self, train, scope))
        declared = {s.name for s in module.body if isinstance(s, ast.DimDef)}
        for name in sorted(set(self.overrides) - self.used_overrides):
            if name in declared:
                continue  # a dim whose own definition failed: that error is reported
            if name in _TRAIN_OVERRIDABLE:
                if train is None:
                    self.reporter.error("SQN0110", f"{self.overrides.label(name)}: the spec has no train section",
                                        None, hint="add a train { ... } section to train it")  # fmt: skip
                continue  # else the train section failed to resolve, and said why
            known = sorted(self.graph.graph["dims"]) + sorted(_TRAIN_OVERRIDABLE)
            self.reporter.error(
                "SQN0110", f"{self.overrides.label(name)}: no dim, const or train setting is called '{name}'",
                None, hint=_did_you_mean(name, known) or "overridable: " + ", ".join(known),
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

    # -- declarations: imports, dims, consts, blocks (visible everywhere in their module)

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
        value = self._eval(expr, Ctx(scope))
        if stmt.kind == "dim":
            if not (isinstance(value, V.Num) and value.is_int and value.value > 0):
                raise CompileError("SQN0108", f"dim {stmt.name} must be a positive integer, got "
                                   f"{V.describe(value)}", expr.span, hint=hint, notes=notes)  # fmt: skip
            if value.value > MAX_DIM:
                raise _too_big_axis(f"dim {stmt.name}", value.value, expr.span, notes)
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
                               stmt.span, hint="use seqnet.load(path) instead of seqnet.loads(text)")  # fmt: skip
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
        if target.exists() and not target.is_file():  # a folder, FIFO or device: never read it
            from seqnet.atomic import file_kind

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

    # -- statements

    def _statement(self, stmt, ctx: Ctx):
        if isinstance(stmt, ast.Assign):
            return self._assign(stmt, ctx)
        if isinstance(stmt, ast.InputDecl):
            if ctx.in_block:
                raise CompileError("SQN0107", "inputs are declared at the top level of a spec",
                                   stmt.span, hint="pass tensors to a block as parameters")  # fmt: skip
            return self._input(stmt, ctx)
        if isinstance(stmt, ast.Wormhole):
            return self._wormhole(stmt, ctx)
        if isinstance(stmt, ast.Segments):
            return self._segments(stmt, ctx)
        if isinstance(stmt, ast.ExprStmt):
            if not isinstance(stmt.value, ast.Call):
                raise CompileError("SQN0107", "this expression's value is not used", stmt.span,
                                   hint="assign it: 'h = ...'")  # fmt: skip
            return self._eval(stmt.value, ctx)
        if isinstance(stmt, ast.Return):
            raise CompileError("SQN0107", "'return' is only allowed inside a block", stmt.span)
        if isinstance(stmt, (ast.Import, ast.DimDef, ast.BlockDef, ast.Train, ast.OutputDecl)):
            what = type(stmt).__name__.lower().replace("def", "").replace("decl", "")
            raise CompileError("SQN0107", f"{what} statements belong at the top level of a spec",
                               stmt.span, hint="move it out of the block")  # fmt: skip
        raise CompileError("SQN0107", "unexpected statement", stmt.span)

    def _input(self, stmt: ast.InputDecl, ctx: Ctx) -> None:
        self._check_free(stmt.name, stmt.name_span, ctx.scope, "input")
        if isinstance(ctx.scope.vars.get(stmt.name), V.TensorRef):
            raise CompileError("SQN0107", f"'{stmt.name}' is already defined", stmt.name_span,
                               notes=(Note(ctx.scope.spans[stmt.name], "first defined here"),),
                               hint="give each input its own name")  # fmt: skip
        ttype = self._tensor_type(stmt.type, ctx)
        name = self.builder.unique((), stmt.name)
        self.builder.add(name, op="input", attrs={}, args=(), outputs=(ttype,), params={},
                         param_owner=name, flops=0, span=stmt.span, chain=(), path=(),
                         label=stmt.name, repeats=())  # fmt: skip
        self.graph.graph["inputs"].append(name)
        ctx.scope.bind(stmt.name, V.TensorRef(name, 0, ttype, stmt.span), stmt.name_span)

    def _tensor_type(self, t: ast.TensorType, ctx: Ctx) -> TensorType:
        if t.dtype not in DTYPES:
            raise CompileError("SQN0108", f"unknown dtype '{t.dtype}'", t.dtype_span,
                               hint=_did_you_mean(t.dtype, DTYPES) or "one of " + ", ".join(DTYPES))  # fmt: skip
        shape = []
        for d in t.dims:
            v = self._eval(d, ctx)
            if not (isinstance(v, V.Num) and v.is_int and v.value > 0):
                raise CompileError("SQN0108", f"a dimension must be a positive integer, got "
                                   f"{V.describe(v)}", d.span)  # fmt: skip
            if v.value > MAX_DIM:
                raise _too_big_axis("this axis", v.value, d.span)
            shape.append(Dim(v.value, v.text))
        vocab = None
        if t.vocab is not None:
            v = self._eval(t.vocab, ctx)
            if not (isinstance(v, V.Num) and v.is_int and v.value > 0):
                raise CompileError("SQN0108", f"vocab must be a positive integer, got {V.describe(v)}",
                                   t.vocab.span)  # fmt: skip
            if t.dtype not in ("int32", "int64", "int8", "uint8"):
                raise CompileError("SQN0302", "only integer tensors have a vocab", t.vocab.span,
                                   hint="declare token ids as int32[...] vocab V")  # fmt: skip
            vocab = v.value
        return TensorType(t.dtype, tuple(shape), vocab)

    def _assign(self, stmt: ast.Assign, ctx: Ctx) -> None:
        names = tuple(t.id for t in stmt.targets)
        for t in stmt.targets:
            existing = ctx.scope.vars.get(t.id)
            if existing is not None and not isinstance(existing, (V.TensorRef, V.Poison)):
                raise CompileError("SQN0107", f"'{t.id}' is already defined as {V.describe(existing)}",
                                   t.span, notes=(Note(ctx.scope.spans[t.id], "defined here"),))  # fmt: skip
        if isinstance(stmt.value, ast.Repeat):
            value = self._repeat(stmt.value, names, stmt, ctx)
        else:
            value = self._eval(stmt.value, ctx, label=names[0] if len(names) == 1 else "_".join(names))
        values = value.items if isinstance(value, V.TupleVal) else (value,)
        if len(values) != len(names):
            raise CompileError("SQN0105", f"{len(names)} names on the left but the right side gives "
                               f"{len(values)} value{'s' if len(values) != 1 else ''}", stmt.span)  # fmt: skip
        for t, v in zip(stmt.targets, values):
            if isinstance(v, V.TensorRef):
                node = self.graph.nodes[v.node]
                if node.get("label") is None:
                    node["label"] = t.id
            ctx.scope.bind(t.id, v, t.span)

    def _assign_output(self, stmt: ast.OutputDecl, ctx: Ctx) -> None:
        value = self._eval(stmt.value, ctx, label=stmt.name)
        ctx.scope.bind(stmt.name, value, stmt.name_span)

    def _bind_outputs(self, outputs: list[ast.OutputDecl], scope: Scope) -> None:
        seen: dict[str, Span] = {}
        for out in outputs:
            if out.name in seen:
                self.reporter.error("SQN0107", f"output '{out.name}' is declared twice", out.name_span,
                                    notes=(Note(seen[out.name], "first declared here"),))  # fmt: skip
                continue
            seen[out.name] = out.name_span
            value = scope.lookup(out.name)
            if isinstance(value, V.Poison):
                continue  # its definition failed and was reported
            if value is None:
                if out.value is None:
                    self.reporter.error(
                        "SQN0603", f"output '{out.name}' is declared but never assigned", out.name_span,
                        hint=f"assign it with '{out.name} = ...', or write 'output {out.name} = ...'",
                    )  # fmt: skip
                continue  # an error in its assignment was reported already
            if not isinstance(value, V.TensorRef):
                self.reporter.error("SQN0106", f"output '{out.name}' must be a tensor, but it is "
                                    f"{V.describe(value)}", out.name_span)  # fmt: skip
                continue
            if out.type is not None:
                try:
                    want = self._tensor_type(out.type, Ctx(scope))
                except Cascade:
                    continue  # a dim of its type failed, and was reported
                except CompileError as e:
                    self.reporter.error(e.code, e.message, e.span, hint=e.hint)
                    continue
                if want.dtype != value.type.dtype or want.dims != value.type.dims:
                    self.reporter.error(
                        "SQN0305", f"output '{out.name}' is declared {want} but computed as {value.type}",
                        out.type.span, notes=(Note(value.span, f"computed here as {value.type}"),),
                        hint="change the declaration or the computation so the shapes agree",
                    )  # fmt: skip
                    continue
            self.graph.graph["outputs"][out.name] = (value.node, value.port)
            self.graph.graph["output_spans"][out.name] = out.span
        if not outputs and not self.reporter.has_errors:
            self.reporter.error("SQN0603", "the spec declares no output", None,
                                hint="add 'output y : float32[...]' and assign y")  # fmt: skip

    # -- expressions

    def _eval(self, e, ctx: Ctx, label: str | None = None):
        if isinstance(e, ast.Number):
            if len(e.text) > MAX_NUMBER_CHARS:  # only --set text gets here: the parser refuses these
                raise CompileError("SQN0005", f"a number of {len(e.text):,} characters; numbers are "
                                   f"at most {MAX_NUMBER_CHARS} characters long",
                                   e.span, hint="write large numbers with an exponent (1e30)")  # fmt: skip
            if isinstance(e.value, int) and abs(e.value) > MAX_INT:
                raise CompileError("SQN0604", f"{e.text} is too large; integers are at most 2**62",
                                   e.span, hint="integers are sizes, counts and seeds: at most "
                                   f"{MAX_INT:,}")  # fmt: skip
            if isinstance(e.value, float) and not math.isfinite(e.value):
                what = "is not a number" if math.isnan(e.value) else "is too large for a float64"
                raise CompileError("SQN0604", f"{e.text} {what}", e.span,
                                   hint="numbers must be finite, below about 1.8e308")  # fmt: skip
            return V.Num(e.value, e.text, e.span)
        if isinstance(e, ast.String):
            return V.Str(e.value, e.span)
        if isinstance(e, ast.Name):
            return self._name(e, ctx)
        if isinstance(e, ast.ListExpr):
            return V.ListVal(tuple(self._eval(i, ctx) for i in e.items), e.span)
        if isinstance(e, ast.Neg):
            v = self._eval(e.operand, ctx)
            if isinstance(v, V.Num):
                return V.Num(-v.value, f"-{_paren(v.text)}", e.span)
            if isinstance(v, V.TensorRef):
                return self._op_node("affine", {"x": v}, {"scale": -1.0, "shift": 0.0}, e.span, ctx, label)
            raise CompileError("SQN0106", f"cannot negate {V.describe(v)}", e.span)
        if isinstance(e, ast.BinOp):
            return self._binop(e, ctx, label)
        if isinstance(e, ast.Call):
            return self._call(e, ctx, label)
        if isinstance(e, ast.Attribute):
            base = self._eval(e.value, ctx)
            if isinstance(base, V.Namespace):
                if e.attr not in base.members:
                    raise CompileError("SQN0101", f"'{base.name}' has no block or dim '{e.attr}'",
                                       e.attr_span, hint=_did_you_mean(e.attr, base.members))  # fmt: skip
                return base.members[e.attr]
            if isinstance(base, V.Symbol) and base.name in ("task", "data"):
                return V.Symbol(f"{base.name}.{e.attr}", e.span)
            raise CompileError("SQN0106", f"{V.describe(base)} has no attribute '{e.attr}'", e.attr_span)
        if isinstance(e, ast.Repeat):
            raise CompileError("SQN0605", "a repeat must be assigned to the names it carries",
                               e.span, hint="write 'h = repeat 4 { block(h) }'")  # fmt: skip
        raise CompileError("SQN0106", "unsupported expression", getattr(e, "span", None))

    def _name(self, e: ast.Name, ctx: Ctx):
        value = ctx.scope.lookup(e.id)
        if isinstance(value, V.Poison):
            raise Cascade()
        if value is not None:
            return value
        if e.id in BUILTIN_CONSTANTS:
            return replace(BUILTIN_CONSTANTS[e.id], span=e.span)
        if e.id in OPS and e.id not in INTERNAL_OPS:
            return V.OpRef(e.id)
        return V.Symbol(e.id, e.span)

    def _unknown(self, sym: V.Symbol, ctx: Ctx, what: str = "name") -> CompileError:
        candidates = ctx.scope.names() | (set(OPS) - INTERNAL_OPS if what != "name" else set())
        return CompileError("SQN0101" if what == "name" else "SQN0102",
                            f"unknown {what} '{sym.name}'", sym.span,
                            hint=_did_you_mean(sym.name, candidates))  # fmt: skip

    def _binop(self, e: ast.BinOp, ctx: Ctx, label):
        a, b = self._eval(e.left, ctx), self._eval(e.right, ctx)
        for v in (a, b):
            if isinstance(v, V.Symbol):
                raise self._unknown(v, ctx)
        if isinstance(a, V.Num) and isinstance(b, V.Num):
            return _num_arith(e, a, b)
        if isinstance(a, V.TensorRef) and isinstance(b, V.TensorRef):
            op = {"+": "add", "-": "sub", "*": "mul", "/": "div", "@": "matmul"}.get(e.op)
            if op is None:
                raise CompileError("SQN0106", f"'{e.op}' is not defined between tensors", e.span)
            return self._op_node(op, {"x": a, "y": b}, {}, e.span, ctx, label,
                                 {"x": e.left.span, "y": e.right.span})  # fmt: skip
        if isinstance(a, V.TensorRef) and isinstance(b, V.Num) or isinstance(b, V.TensorRef) and isinstance(a, V.Num):
            t, n = (a, b) if isinstance(a, V.TensorRef) else (b, a)
            c = float(n.value)
            tensor_left = t is a
            if e.op == "+":
                attrs = {"scale": 1.0, "shift": c}
            elif e.op == "-":
                attrs = {"scale": 1.0, "shift": -c} if tensor_left else {"scale": -1.0, "shift": c}
            elif e.op == "*":
                attrs = {"scale": c, "shift": 0.0}
            elif e.op == "/" and tensor_left:
                if c == 0:
                    raise CompileError("SQN0604", "division by zero", e.right.span)
                attrs = {"scale": 1.0 / c, "shift": 0.0}
            elif e.op == "**" and tensor_left:
                return self._op_node("power", {"x": t}, {"exponent": c}, e.span, ctx, label)
            else:
                raise CompileError("SQN0106", f"'{e.op}' is not defined between {V.describe(a)} and "
                                   f"{V.describe(b)}", e.span)  # fmt: skip
            return self._op_node("affine", {"x": t}, attrs, e.span, ctx, label)
        raise CompileError("SQN0106", f"'{e.op}' is not defined between {V.describe(a)} and "
                           f"{V.describe(b)}", e.span)  # fmt: skip

    # -- calls: ops, blocks, segment structures

    def _call(self, e: ast.Call, ctx: Ctx, label):
        if e.misplaced:
            raise CompileError("SQN0105", "a positional argument follows a keyword argument",
                               e.misplaced[0].span, hint="put positional arguments first")  # fmt: skip
        seen: dict[str, Span] = {}
        for kw in e.kwargs:
            if kw.name in seen:
                raise CompileError("SQN0109", f"argument '{kw.name}' is given twice", kw.name_span,
                                   notes=(Note(seen[kw.name], "first here"),))  # fmt: skip
            seen[kw.name] = kw.name_span
        func = self._eval(e.func, ctx)
        if isinstance(func, V.Symbol) and func.name == "size":
            return self._size(e, ctx)
        if isinstance(func, V.Symbol):
            if func.name in INTERNAL_OPS:
                raise CompileError("SQN0102", f"'{func.name}' is created by its own statement and "
                                   "cannot be called", func.span,
                                   hint="use a 'wormhole' or 'segments' statement")  # fmt: skip
            raise self._unknown(func, ctx, "op or block")
        args = [self._eval(a, ctx) for a in e.args]
        kwargs = {kw.name: (self._eval(kw.value, ctx), kw) for kw in e.kwargs}
        if isinstance(func, V.OpRef):
            return self._op_call(OPS[func.name], e, args, kwargs, ctx, label)
        if isinstance(func, V.BlockRef):
            return self._block_call(func, e, args, kwargs, ctx, label)
        if isinstance(func, V.SegmentsRef):
            return self._apply_segments(func, e, args, kwargs, ctx, label)
        raise CompileError("SQN0106", f"{V.describe(func)} cannot be called", e.func.span)

    def _size(self, e: ast.Call, ctx: Ctx) -> V.Num:
        """`size(x)` / `size(x, axis)`: a tensor's size along an axis, known at compile time."""
        args = [self._eval(a, ctx) for a in e.args]
        if not args or len(args) > 2 or e.kwargs or not isinstance(args[0], V.TensorRef):
            raise CompileError("SQN0106", "size takes a tensor and optionally an axis: size(x, -1)",
                               e.span)  # fmt: skip
        t = args[0].type
        axis = args[1] if len(args) == 2 else V.Num(-1, "-1")
        if not (isinstance(axis, V.Num) and axis.is_int and -t.rank <= axis.value < t.rank):
            raise CompileError("SQN0303", f"axis out of range for {t}", e.span)
        d = t.shape[axis.value]
        return V.Num(d.value, str(d), e.span)

    def _op_call(self, op: OpDef, e: ast.Call, args, kwargs, ctx: Ctx, label):
        bound: dict[str, tuple[object, Span]] = {}
        params = list(op.args)
        pos = 0
        for value, node in zip(args, e.args):
            if pos < len(params) and params[pos].kind == "tensors":
                bound.setdefault(params[pos].name, ([], node.span))[0].append((value, node.span))
                continue
            if pos >= len(params):
                raise CompileError("SQN0105", f"{op.name} takes at most {len(params)} positional "
                                   f"argument{'s' if len(params) != 1 else ''}", node.span,
                                   hint=f"signature: {op.signature()}")  # fmt: skip
            bound[params[pos].name] = (value, node.span)
            pos += 1
        for name, (value, kw) in kwargs.items():
            arg = op.arg(name)
            if arg is not None and arg.is_tensor and not arg.required and _is_none(value):
                continue  # `kv=none`, as the signature writes an optional tensor left out
            if arg is None or (arg.kind == "any"):
                raise CompileError("SQN0103", f"{op.name} has no argument '{name}'", kw.name_span,
                                   hint=_did_you_mean(name, [a.name for a in op.args if a.kind != "any"])
                                   or f"signature: {op.signature()}")  # fmt: skip
            if name in bound:
                raise CompileError("SQN0109", f"argument '{name}' is given twice (by position and by "
                                   "name)", kw.name_span)  # fmt: skip
            bound[name] = (value, kw.value.span)
        tensors, attrs = {}, {}
        for arg in op.args:
            if arg.name not in bound:
                if arg.required and arg.kind != "tensors":
                    raise CompileError("SQN0104", f"{op.name} is missing its argument '{arg.name}'",
                                       e.span, hint=f"signature: {op.signature()}")  # fmt: skip
                if arg.kind == "tensors":
                    tensors[arg.name] = []
                elif arg.is_tensor:
                    if arg.default is not None:
                        tensors[arg.name] = arg.default
                else:
                    attrs[arg.name] = arg.default
                continue
            value, span = bound[arg.name]
            if arg.kind == "tensors":
                tensors[arg.name] = [self._expect_tensor(v, s, op, arg.name, ctx) for v, s in value]
            elif arg.kind == "tensor":
                tensors[arg.name] = self._expect_tensor(value, span, op, arg.name, ctx)
            else:
                attrs[arg.name] = self._attr(value, span, op, arg, ctx)
        spans = {k: v[1] for k, v in bound.items()}
        for k, v in bound.items():
            if isinstance(v[0], list):  # a variadic argument: one span per tensor
                spans.update({f"{k}{i}": item_span for i, (_, item_span) in enumerate(v[0])})
        return self._op_node(op.name, tensors, attrs, e.span, ctx, label, spans)

    def _expect_tensor(self, value, span: Span, op: OpDef, arg: str, ctx: Ctx) -> V.TensorRef:
        if isinstance(value, V.TensorRef):
            return value
        if isinstance(value, V.Symbol):
            raise self._unknown(value, ctx)
        raise CompileError("SQN0106", f"{op.name}'s argument '{arg}' must be a tensor, but it is "
                           f"{V.describe(value)}", span, hint=f"signature: {op.signature()}")  # fmt: skip

    def _attr(self, value, span: Span, op: OpDef, arg, ctx: Ctx):
        kind = arg.kind
        where = f"{op.name}'s argument '{arg.name}'"
        if kind == "int":
            if isinstance(value, V.Num) and value.is_int:
                return _named_int(value)
            if isinstance(value, V.Num) and float(value.value).is_integer():
                return int(value.value)
        elif kind == "float":
            if isinstance(value, V.Num):
                return float(value.value)
        elif kind == "bool":
            if isinstance(value, V.Bool):
                return value.value
        elif kind == "str":
            if isinstance(value, (V.Str, V.Symbol)):
                return value.value if isinstance(value, V.Str) else value.name
            if isinstance(value, V.OpRef):
                return value.name
        elif kind == "choice":
            text = {V.Str: lambda v: v.value, V.Symbol: lambda v: v.name, V.OpRef: lambda v: v.name}
            if type(value) in text:
                chosen = text[type(value)](value)
                if chosen in arg.choices:
                    return chosen
                raise CompileError("SQN0108", f"{where} must be one of {', '.join(arg.choices)}; got "
                                   f"'{chosen}'", span, hint=_did_you_mean(chosen, arg.choices))  # fmt: skip
        elif kind == "ints":
            if isinstance(value, V.ListVal) and all(isinstance(i, V.Num) and i.is_int for i in value.items):
                return tuple(_named_int(i) for i in value.items)
        elif kind == "any":
            return value
        if isinstance(value, V.Symbol):
            raise self._unknown(value, ctx)
        want = {"int": "an integer", "float": "a number", "bool": "true or false", "str": "a string",
                "choice": "one of " + ", ".join(arg.choices), "ints": "a list of integers"}[kind]  # fmt: skip
        raise CompileError("SQN0106", f"{where} must be {want}, but it is {V.describe(value)}", span,
                           hint=f"signature: {op.signature()}")  # fmt: skip

    def _op_node(self, op_name: str, tensors: dict, attrs: dict, span: Span, ctx: Ctx, label,
                 arg_spans: dict | None = None, extra: dict | None = None, name: str | None = None):  # fmt: skip
        op = OPS[op_name]
        types = {k: (tuple(t.type for t in v) if isinstance(v, list) else v.type)
                 for k, v in tensors.items() if v is not None}  # fmt: skip
        call = OpCall(op, types, attrs)
        try:
            outputs = op.infer(call)
            params = op.params(call)
            flops = op.flops(call, outputs)
        except ShapeError as err:
            raise self._shape_error(err, op, tensors, span, arg_spans or {}) from None
        for shape in [t.dims for t in outputs] + [p.shape for p in params.values()]:
            big = next((d for d in shape if d > MAX_DIM), None)
            if big is not None:
                raise _too_big_axis(f"{op_name}'s result", big, span)
        builder = self.builder
        name = name or builder.unique(ctx.path, label or op_name)
        owner = name
        if ctx.shared_with is not None and params:
            owner = ctx.shared_with + name[len(_prefix_of(ctx)) :]
        args = []
        for arg in op.tensor_args:
            v = tensors.get(arg.name)
            if v is None:
                continue
            refs = tuple((t.node, t.port) for t in v) if isinstance(v, list) else (v.node, v.port)
            args.append((arg.name, refs))
        attrs = {k: plain(v) for k, v in attrs.items()}
        builder.add(name, op=op_name, attrs=attrs, args=tuple(args), outputs=tuple(outputs),
                    params=params, param_owner=owner, flops=flops, span=span, chain=ctx.chain,
                    path=ctx.path, label=None, repeats=ctx.repeats, **(extra or {}))  # fmt: skip
        for arg, refs in args:
            if isinstance(refs[0], tuple):
                for i, (node, port) in enumerate(refs):
                    self._edge(node, name, arg, port, i)
            else:
                self._edge(refs[0], name, arg, refs[1], 0)
        results = tuple(V.TensorRef(name, i, t, span) for i, t in enumerate(outputs))
        return results[0] if len(results) == 1 else V.TupleVal(results, span)

    def _edge(self, src: str, dst: str, arg: str, port: int, index: int) -> None:
        g = self.builder.g
        g.add_edge(src, dst, arg=arg, index=index, port=port,
                   type=g.nodes[src]["outputs"][port], wormhole=False)  # fmt: skip

    def _shape_error(self, err: ShapeError, op: OpDef, tensors, span: Span, arg_spans: dict):
        """A shape rule's complaint, pointed at the argument at fault, with notes saying where
        each tensor involved came from, named as the user wrote them."""
        where = arg_spans.get(err.arg, span) if err.arg else span
        notes = []
        base = (err.arg or "").rstrip("0123456789")
        if base in tensors:  # a complaint about tensors: show where each operand came from
            for name, v in tensors.items():
                refs = v if isinstance(v, list) else [v] if v is not None else []
                for i, ref in enumerate(refs):
                    arg_key = f"{name}{i}" if isinstance(v, list) else name
                    arg_span = arg_spans.get(arg_key)
                    text = _span_text(arg_span) if arg_span is not None else None
                    if ref.span in (arg_span, where) or text is None:
                        continue
                    how = "declared" if self.graph.nodes[ref.node]["op"] == "input" else "computed"
                    notes.append(Note(ref.span, f"'{text}' is {ref.type}, {how} here"))
        shown = "wormhole" if op.name == "wormhole_gate" else op.name
        message = err.message if err.message.startswith(shown) else f"{shown}: {err.message}"
        hint = err.hint
        if hint is None and op.name not in STATEMENT_OPS:  # at least: what the op takes
            hint = f"{op.name} takes {op.signature()}"
        return CompileError(err.code, message, where, hint=hint, notes=notes[:3])

    def _block_call(self, ref: V.BlockRef, e: ast.Call, args, kwargs, ctx: Ctx, label):
        block = ref.block
        if ref.qualname in ctx.blocks:
            chain = " -> ".join((*ctx.blocks, ref.qualname))
            raise CompileError("SQN0404", f"block '{ref.qualname}' calls itself ({chain})", e.span,
                               hint="blocks cannot recurse; use repeat to stack layers")  # fmt: skip
        if len(ctx.blocks) >= MAX_BLOCK_DEPTH:
            raise CompileError("SQN0005", f"blocks nested more than {MAX_BLOCK_DEPTH} deep", e.span,
                               hint="call fewer blocks inside each other; stack layers with repeat")  # fmt: skip
        params = block.params
        if len(args) > len(params):
            raise CompileError("SQN0105", f"block '{ref.qualname}' takes {len(params)} argument"
                               f"{'s' if len(params) != 1 else ''} but {len(args)} were given",
                               e.args[len(params)].span, hint=_block_signature(block))  # fmt: skip
        scope = Scope(ref.scope)
        names = [p.name for p in params]
        for name, (_, kw) in kwargs.items():
            if name not in names:
                raise CompileError("SQN0103", f"block '{ref.qualname}' has no parameter '{name}'",
                                   kw.name_span, hint=_did_you_mean(name, names) or _block_signature(block))  # fmt: skip
        for i, p in enumerate(params):
            if i < len(args):
                if p.name in kwargs:
                    raise CompileError("SQN0109", f"parameter '{p.name}' is given twice",
                                       kwargs[p.name][1].name_span)  # fmt: skip
                value = args[i]
            elif p.name in kwargs:
                value = kwargs[p.name][0]
            elif p.default is not None:
                value = self._eval(p.default, Ctx(scope, ctx.path, ctx.chain, ctx.repeats))
            else:
                raise CompileError("SQN0104", f"block '{ref.qualname}' is missing its argument "
                                   f"'{p.name}'", e.span, hint=_block_signature(block))  # fmt: skip
            scope.bind(p.name, value, p.span)
        local = label or block.name
        path = ctx.path + (self.builder.unique(ctx.path, local).rsplit("/", 1)[-1],)
        inner = Ctx(scope, path, (e.span, *ctx.chain), ctx.repeats, (*ctx.blocks, ref.qualname),
                    _shared_path(ctx, path), in_block=True)  # fmt: skip
        return self._run_body(block.body, inner, f"block '{ref.qualname}'", block.end_span)

    def _run_body(self, body, ctx: Ctx, what: str, end: Span, allow_last_expr: bool = False):
        try:
            return self._run_statements(body, ctx, what, end, allow_last_expr)
        except CompileError as e:
            if ctx.chain and not getattr(e, "chain", None):
                e.chain = ctx.chain  # the call sites, innermost first, back to the user's line
            raise

    def _run_statements(self, body, ctx: Ctx, what: str, end: Span, allow_last_expr: bool):
        result = None
        for i, stmt in enumerate(body):
            last = i == len(body) - 1
            if isinstance(stmt, ast.Return):
                if not last:
                    raise CompileError("SQN0107", "statements after 'return' never run",
                                       body[i + 1].span, hint="'return' ends a block")  # fmt: skip
                vals = tuple(self._eval(v, ctx) for v in stmt.values)
                result = vals[0] if len(vals) == 1 else V.TupleVal(vals, stmt.span)
            elif allow_last_expr and last and isinstance(stmt, ast.ExprStmt):
                result = self._eval(stmt.value, ctx)
            else:
                self._statement(stmt, ctx)
        if result is None:
            raise CompileError("SQN0107", f"{what} returns nothing", end,
                               hint="end it with 'return <value>'")  # fmt: skip
        return result

    # -- repeat

    def _repeat(self, rep: ast.Repeat, names: tuple[str, ...], stmt: ast.Assign, ctx: Ctx):
        count = self._eval(rep.count, ctx)
        if not (isinstance(count, V.Num) and count.is_int and count.value >= 1):
            raise CompileError("SQN0605", f"repeat count must be a positive integer, got "
                               f"{V.describe(count)}", rep.count.span,
                               hint="write `repeat 1 { ... }` or drop the repeat for a single copy")  # fmt: skip
        if count.value > MAX_REPEAT:
            raise CompileError("SQN0005", f"repeat {count.value:,} makes more than {MAX_REPEAT:,} "
                               "copies", rep.count.span,
                               hint="a repeat makes one copy of its body per count; use fewer layers")  # fmt: skip
        carried = []
        for n in names:
            v = ctx.scope.lookup(n)
            if isinstance(v, V.Poison):
                raise Cascade()
            if not isinstance(v, V.TensorRef):
                raise CompileError("SQN0605", f"repeat carries '{n}' from one copy to the next, so "
                                   f"'{n}' must be a tensor defined before the repeat", stmt.span,
                                   hint=f"write '{n} = ...' before '{n} = repeat ...'")  # fmt: skip
            carried.append(v)
        group = self.builder.unique(ctx.path, "_".join(names)).rsplit("/", 1)[-1]
        first_path = None
        for i in range(count.value):
            scope = Scope(ctx.scope)
            for n, v in zip(names, carried):
                scope.bind(n, v)
            path = ctx.path + (group, str(i))
            shared = None
            if rep.shared and i > 0:
                shared = "/".join(first_path)
            elif ctx.shared_with is not None:
                shared = _shared_path(ctx, path)
            inner = Ctx(scope, path, ctx.chain, (*ctx.repeats, (group, i, count.value, rep.shared)),
                        ctx.blocks, shared, in_block=ctx.in_block)  # fmt: skip
            if i == 0:
                first_path = path
                before = self.builder.counter[0]
            out = self._run_body(rep.body, inner, "repeat body", rep.span, allow_last_expr=True)
            if i == 0:  # one copy is built: the others would make as many nodes each
                self._check_room(count, self.builder.counter[0] - before, rep)
            outs = out.items if isinstance(out, V.TupleVal) else (out,)
            if len(outs) != len(names):
                raise CompileError("SQN0605", f"the repeat body gives {len(outs)} value(s) but carries "
                                   f"{len(names)} ({', '.join(names)})", rep.span)  # fmt: skip
            for n, before, after in zip(names, carried, outs):
                if not isinstance(after, V.TensorRef) or after.type.dims != before.type.dims:
                    got = after.type if isinstance(after, V.TensorRef) else V.describe(after)
                    raise CompileError(
                        "SQN0301", f"a repeat must keep the shape of '{n}': it enters as "
                        f"{before.type} and leaves as {got}", rep.span,
                        notes=(Note(before.span, f"'{n}' is {before.type} here"),),
                        hint="make the body return the same shape it receives",
                    )  # fmt: skip
            carried = list(outs)
        return carried[0] if len(carried) == 1 else V.TupleVal(tuple(carried), rep.span)

    def _check_room(self, count: V.Num, per_copy: int, rep: ast.Repeat) -> None:
        """Refuse a repeat whose copies would pass MAX_NODES before building them."""
        total = self.builder.counter[0] + per_copy * (count.value - 1)
        if total > MAX_NODES:
            raise CompileError("SQN0005", f"repeat {count.value:,} would make the graph "
                               f"{total:,} nodes ({per_copy:,} per copy); the limit is {MAX_NODES:,}",
                               rep.count.span, hint="use fewer layers, or a smaller body")  # fmt: skip

    # -- wormholes

    def _wormhole(self, stmt: ast.Wormhole, ctx: Ctx) -> None:
        from seqnet.compiler.mechanisms import add_wormhole

        add_wormhole(self, stmt, ctx)

    # -- segment structures

    def _segments(self, stmt: ast.Segments, ctx: Ctx) -> None:
        from seqnet.compiler.mechanisms import define_segments

        define_segments(self, stmt, ctx)

    def _apply_segments(self, ref: V.SegmentsRef, e: ast.Call, args, kwargs, ctx: Ctx, label):
        from seqnet.compiler.mechanisms import apply_segments

        return apply_segments(self, ref, e, args, kwargs, ctx, label)


# --- helpers --------------------------------------------------------------------------------------

_TRAIN_OVERRIDABLE = ("batch", "steps", "seed", "lr", "eval_every", "checkpoint_every", "clip",
                      "dtype", "mode", "eval_batches", "decoder_lr", "examples")  # fmt: skip


class Cascade(Exception):
    """A statement uses a name whose own definition failed: already reported, stay quiet. Not a
    CompileError, so no handler of those can report it: it is no diagnostic and has no code."""


def _is_none(value) -> bool:
    return isinstance(value, V.Symbol) and value.name == "none"


def _too_big_axis(what: str, size: int, span: Span, notes=()) -> CompileError:
    return CompileError("SQN0108", f"{what} has an axis of {size:,}; an axis holds at most "
                        f"{MAX_DIM:,} (2**31 - 1) elements", span, notes=notes,
                        hint="XLA indexes each axis with a 32-bit integer; split the axis in two")  # fmt: skip


def _defines(stmt) -> tuple[str, ...]:
    """The names a top-level statement binds (poisoned if it fails)."""
    if isinstance(stmt, ast.Assign):
        return tuple(t.id for t in stmt.targets)
    if isinstance(stmt, (ast.InputDecl, ast.Segments)):
        return (stmt.name,)
    return ()


def _span_text(span: Span) -> str | None:
    """The source text under a one-line span, if short enough to quote in a message."""
    if span.end_line != span.line:
        return None
    text = span.source.line(span.line)[span.column - 1 : span.end_column - 1].strip()
    return text if 0 < len(text) <= 32 else None


def _prefix_of(ctx: Ctx) -> str:
    return "/".join(ctx.path)


def _shared_path(ctx: Ctx, path: tuple[str, ...]) -> str | None:
    """The parameter owner's path for an expansion nested inside a shared repeat copy."""
    if ctx.shared_with is None:
        return None
    return ctx.shared_with + "/" + "/".join(path[len(ctx.path) :])


def _paren(text: str) -> str:
    return text if text.replace("_", "").isalnum() else f"({text})"


def _num_arith(e: ast.BinOp, a: V.Num, b: V.Num) -> V.Num:
    x, y = a.value, b.value
    if e.op in ("/", "//", "%") and y == 0:
        raise CompileError("SQN0604", "division by zero", e.right.span)
    if e.op == "+":
        r = x + y
    elif e.op == "-":
        r = x - y
    elif e.op == "*":
        r = x * y
    elif e.op == "/":
        r = x / y
        if isinstance(x, int) and isinstance(y, int) and x % y == 0:
            r = x // y  # N/2 stays an integer when it divides evenly
    elif e.op == "//":
        r = x // y
    elif e.op == "%":
        r = x % y
    elif e.op == "**":
        if abs(y) > 64 or abs(x) > 2**32:
            raise CompileError("SQN0604", "exponent too large", e.span)
        r = x**y
    else:
        raise CompileError("SQN0106", f"'{e.op}' is not defined between numbers", e.span)
    if isinstance(r, int) and abs(r) > 2**62:
        raise CompileError("SQN0604", "number too large", e.span)
    if isinstance(r, float) and not math.isfinite(r):
        raise CompileError("SQN0604", "number too large (not a finite float64)", e.span)
    return V.Num(r, f"{_paren(a.text)}{e.op}{_paren(b.text)}", e.span)


def _named_int(v: V.Num) -> int:
    """An integer attribute; one written with dims keeps its text for the shapes it makes."""
    text = v.text
    if isinstance(text, str) and _IDENT.search(text) and text != str(v.value):
        return NamedInt(v.value, text)
    return v.value


def _did_you_mean(name: str, candidates) -> str | None:
    matches = difflib.get_close_matches(name, sorted(candidates), n=1, cutoff=0.6)
    return f"did you mean '{matches[0]}'?" if matches else None


def _block_signature(block: ast.BlockDef) -> str:
    parts = [p.name + ("=..." if p.default is not None else "") for p in block.params]
    return f"signature: {block.name}({', '.join(parts)})"


_IDENT = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")


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
    if _IDENT.fullmatch(low):  # a symbol (local, bfloat16, true) or another dim's name
        return ast.Name(low, span)
    return ast.String(low, span)


did_you_mean = _did_you_mean
