"""Subscripts: `x[1:]`, `x[:, -1]`, `x[0:N-1, ::2]` on one example's axes (the batch axis is
implicit), elaborated into `slice` nodes (ranges) and `take` nodes (indices, which remove their
axis). Bounds are compile-time integers (dims included); the ops' shape rules check them, and a
mistake is reported at the bound that is wrong."""

from __future__ import annotations

from seqnet.compiler import values as V
from seqnet.compiler.calls import named_int
from seqnet.compiler.context import Ctx
from seqnet.errors import CompileError
from seqnet.grammar import ast


class Subscripts:
    """Elaborator methods for subscripts (a mixin of Elaborator)."""

    def _subscript(self, e: ast.Subscript, ctx: Ctx, label):
        base = self.evaluate(e.value, ctx)
        if isinstance(base, V.Symbol):
            raise self._unknown(base, ctx)
        if not isinstance(base, V.TensorRef):
            raise CompileError("SQN0106", f"{V.describe(base)} cannot be subscripted", e.value.span,
                               hint="subscripts select from tensors: x[1:], x[:, -1]")  # fmt: skip
        rank = base.type.rank
        if len(e.items) > rank:
            raise CompileError("SQN0303", f"too many indices: {len(e.items)} for {base.type}, which "
                               f"has {rank} ax{'is' if rank == 1 else 'es'}", e.items[rank].span,
                               hint="the batch axis is implicit: a subscript indexes one example's "
                               "axes")  # fmt: skip
        slices, takes = [], []
        for axis, item in enumerate(e.items):
            if isinstance(item, ast.Slice):
                parts = {"start": item.start, "stop": item.stop, "step": item.step}
                attrs = {k: self._bound(v, ctx) for k, v in parts.items() if v is not None}
                if attrs.get("start", 0) == 0 and "stop" not in attrs and attrs.get("step", 1) == 1:
                    continue  # `:` keeps the whole axis
                spans = {k: v.span for k, v in parts.items() if v is not None}
                slices.append(("slice", {"start": 0, "stop": None, "step": 1, **attrs, "axis": axis},
                               spans))  # fmt: skip
            else:
                takes.append(("take", {"index": self._bound(item, ctx), "axis": axis},
                              {"index": item.span}))  # fmt: skip
        # Slices keep their axes, and indices go from the last axis back: every node's axis is
        # the axis the user wrote, so its errors name it.
        steps = slices + takes[::-1]
        value = base
        for i, (op, attrs, spans) in enumerate(steps):
            last = i == len(steps) - 1
            value = self._op_node(op, {"x": value}, attrs, e.span, ctx, label if last else None, spans)
        return value

    def _bound(self, part, ctx: Ctx) -> int:
        value = self.evaluate(part, ctx)
        if isinstance(value, V.Num) and value.is_int:
            return named_int(value)
        if isinstance(value, V.Symbol):
            raise self._unknown(value, ctx)
        raise CompileError("SQN0106", f"a subscript takes integers, but this is {V.describe(value)}",
                           part.span, hint="bounds and indices are numbers or dims: x[1:], "
                           "x[0:N-1], x[:, -1]")  # fmt: skip
