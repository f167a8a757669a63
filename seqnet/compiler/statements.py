"""Statements: inputs, assignments, outputs, and the mechanism statements (wormholes, segment
structures), which compiler/mechanisms.py elaborates."""

from __future__ import annotations

from seqnet.compiler import mechanisms
from seqnet.compiler import values as V
from seqnet.compiler.context import Cascade, Ctx, Scope
from seqnet.compiler.ir import Ref
from seqnet.compiler.names import did_you_mean
from seqnet.compiler.types import DTYPES, Dim, TensorType
from seqnet.errors import CompileError, Note
from seqnet.grammar import ast
from seqnet.limits import MAX_DIM
from seqnet.source import Span


class Statements:
    """Elaborator methods for statements (a mixin of Elaborator)."""

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
            return self.evaluate(stmt.value, ctx)
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
                               hint=did_you_mean(t.dtype, DTYPES) or "one of " + ", ".join(DTYPES))  # fmt: skip
        shape = []
        for d in t.dims:
            v = self.evaluate(d, ctx)
            if not (isinstance(v, V.Num) and v.is_int and v.value > 0):
                raise CompileError("SQN0108", f"a dimension must be a positive integer, got "
                                   f"{V.describe(v)}", d.span)  # fmt: skip
            if v.value > MAX_DIM:
                raise too_big_axis("this axis", v.value, d.span)
            shape.append(Dim(v.value, v.text))
        vocab = None
        if t.vocab is not None:
            v = self.evaluate(t.vocab, ctx)
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
            value = self.evaluate(stmt.value, ctx, label=names[0] if len(names) == 1 else "_".join(names))
        values = value.items if isinstance(value, V.TupleVal) else (value,)
        if len(values) != len(names):
            raise CompileError("SQN0105", f"{len(names)} names on the left but the right side gives "
                               f"{len(values)} value{'s' if len(values) != 1 else ''}", stmt.span)  # fmt: skip
        for t, v in zip(stmt.targets, values):
            if isinstance(v, V.TensorRef):
                self.builder.label(v.node, t.id)
            ctx.scope.bind(t.id, v, t.span)

    def _assign_output(self, stmt: ast.OutputDecl, ctx: Ctx) -> None:
        value = self.evaluate(stmt.value, ctx, label=stmt.name)
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
            self.graph.graph["outputs"][out.name] = Ref(value.node, value.port)
            self.graph.graph["output_spans"][out.name] = out.span
        if not outputs and not self.reporter.has_errors:
            self.reporter.error("SQN0603", "the spec declares no output", None,
                                hint="add 'output y : float32[...]' and assign y")  # fmt: skip

    def _wormhole(self, stmt: ast.Wormhole, ctx: Ctx) -> None:
        mechanisms.add_wormhole(self, stmt, ctx)

    def _segments(self, stmt: ast.Segments, ctx: Ctx) -> None:
        mechanisms.define_segments(self, stmt, ctx)


def too_big_axis(what: str, size: int, span: Span, notes=()) -> CompileError:
    return CompileError("SQN0108", f"{what} has an axis of {size:,}; an axis holds at most "
                        f"{MAX_DIM:,} (2**31 - 1) elements", span, notes=notes,
                        hint="XLA indexes each axis with a 32-bit integer; split the axis in two")  # fmt: skip
