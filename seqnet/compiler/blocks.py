"""Blocks and repeats: a block call expands its body in place under a hierarchical path; a
repeat unrolls its body once per count, carrying its names from copy to copy."""

from __future__ import annotations

from seqnet.compiler import values as V
from seqnet.compiler.context import Cascade, Ctx, Scope, shared_path
from seqnet.compiler.names import did_you_mean
from seqnet.errors import CompileError, Note
from seqnet.grammar import ast
from seqnet.limits import MAX_BLOCK_DEPTH, MAX_NODES, MAX_REPEAT
from seqnet.source import Span


class Blocks:
    """Elaborator methods for block calls and repeats (a mixin of Elaborator)."""

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
                                   kw.name_span, hint=did_you_mean(name, names) or _block_signature(block))  # fmt: skip
        for i, p in enumerate(params):
            if i < len(args):
                if p.name in kwargs:
                    raise CompileError("SQN0109", f"parameter '{p.name}' is given twice",
                                       kwargs[p.name][1].name_span)  # fmt: skip
                value = args[i]
            elif p.name in kwargs:
                value = kwargs[p.name][0]
            elif p.default is not None:
                value = self.evaluate(p.default, Ctx(scope, ctx.path, ctx.chain, ctx.repeats))
            else:
                raise CompileError("SQN0104", f"block '{ref.qualname}' is missing its argument "
                                   f"'{p.name}'", e.span, hint=_block_signature(block))  # fmt: skip
            scope.bind(p.name, value, p.span)
        local = label or block.name
        path = ctx.path + (self.builder.unique(ctx.path, local).rsplit("/", 1)[-1],)
        inner = Ctx(scope, path, (e.span, *ctx.chain), ctx.repeats, (*ctx.blocks, ref.qualname),
                    shared_path(ctx, path), in_block=True)  # fmt: skip
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
                vals = tuple(self.evaluate(v, ctx) for v in stmt.values)
                result = vals[0] if len(vals) == 1 else V.TupleVal(vals, stmt.span)
            elif allow_last_expr and last and isinstance(stmt, ast.ExprStmt):
                result = self.evaluate(stmt.value, ctx)
            else:
                self._statement(stmt, ctx)
        if result is None:
            raise CompileError("SQN0107", f"{what} returns nothing", end,
                               hint="end it with 'return <value>'")  # fmt: skip
        return result

    def _repeat(self, rep: ast.Repeat, names: tuple[str, ...], stmt: ast.Assign, ctx: Ctx):
        count = self.evaluate(rep.count, ctx)
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
                shared = shared_path(ctx, path)
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


def _block_signature(block: ast.BlockDef) -> str:
    parts = [p.name + ("=..." if p.default is not None else "") for p in block.params]
    return f"signature: {block.name}({', '.join(parts)})"
