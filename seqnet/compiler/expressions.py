"""Expressions: numbers and their compile-time arithmetic, names, operators on tensors (which
become affine, add, matmul ... nodes), attributes and size(x); choose(KEY, name=value, ...) is
compiler/choices.py's."""

from __future__ import annotations

import math
from dataclasses import replace

from seqnet.compiler import values as V
from seqnet.compiler.context import Cascade, Ctx
from seqnet.compiler.names import did_you_mean
from seqnet.compiler.ops.catalog import load_ops
from seqnet.compiler.ops.core import TENSOR_OPERATORS, constant_operator
from seqnet.compiler.ops.registry import OPS
from seqnet.errors import CompileError
from seqnet.grammar import ast
from seqnet.limits import MAX_INT, MAX_NUMBER_CHARS

# created by statements (wormhole, segments), not callable by name
INTERNAL_OPS = frozenset(n for n, d in load_ops().items() if d.statement)
BUILTIN_CONSTANTS = {"true": V.Bool(True), "false": V.Bool(False)}


class Expressions:
    """Elaborator methods for expressions (a mixin of Elaborator)."""

    def evaluate(self, e, ctx: Ctx, label: str | None = None):
        """The value of expression `e` in `ctx`: the one entry to expression evaluation that every
        part of elaboration (blocks, calls, cells, choices, the train section) goes through;
        `label` names the node a tensor value becomes."""
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
            return V.ListVal(tuple(self.evaluate(i, ctx) for i in e.items), e.span)
        if isinstance(e, ast.Neg):
            v = self.evaluate(e.operand, ctx)
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
            base = self.evaluate(e.value, ctx)
            if isinstance(base, V.Namespace):
                if e.attr not in base.members:
                    raise CompileError("SQN0101", f"'{base.name}' has no block or dim '{e.attr}'",
                                       e.attr_span, hint=did_you_mean(e.attr, base.members))  # fmt: skip
                return base.members[e.attr]
            if isinstance(base, V.Symbol) and base.name in ("task", "data"):
                return V.Symbol(f"{base.name}.{e.attr}", e.span)
            raise CompileError("SQN0106", f"{V.describe(base)} has no attribute '{e.attr}'", e.attr_span)
        if isinstance(e, ast.Subscript):
            return self._subscript(e, ctx, label)
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
        ops = set(OPS) - INTERNAL_OPS if what != "name" else ()
        return CompileError("SQN0101" if what == "name" else "SQN0102",
                            f"unknown {what} '{sym.name}'", sym.span,
                            hint=ctx.scope.suggest(sym.name, ops))  # fmt: skip

    def _binop(self, e: ast.BinOp, ctx: Ctx, label):
        a, b = self.evaluate(e.left, ctx), self.evaluate(e.right, ctx)
        for v in (a, b):
            if isinstance(v, V.Symbol):
                raise self._unknown(v, ctx)
        if isinstance(a, V.Num) and isinstance(b, V.Num):
            return _num_arith(e, a, b)
        if isinstance(a, V.TensorRef) and isinstance(b, V.TensorRef):
            op = TENSOR_OPERATORS.get(e.op)
            if op is None:
                raise CompileError("SQN0106", f"'{e.op}' is not defined between tensors", e.span)
            return self._op_node(op, {"x": a, "y": b}, {}, e.span, ctx, label,
                                 {"x": e.left.span, "y": e.right.span})  # fmt: skip
        if isinstance(a, V.TensorRef) and isinstance(b, V.Num) or isinstance(b, V.TensorRef) and isinstance(a, V.Num):
            t, n = (a, b) if isinstance(a, V.TensorRef) else (b, a)
            c = float(n.value)
            try:
                made = constant_operator(e.op, c, tensor_left=t is a)
            except ZeroDivisionError:
                raise CompileError("SQN0604", "division by zero", e.right.span) from None
            if made is None:
                raise CompileError("SQN0106", f"'{e.op}' is not defined between {V.describe(a)} and "
                                   f"{V.describe(b)}", e.span)  # fmt: skip
            op, attrs = made
            return self._op_node(op, {"x": t}, attrs, e.span, ctx, label)
        raise CompileError("SQN0106", f"'{e.op}' is not defined between {V.describe(a)} and "
                           f"{V.describe(b)}", e.span)  # fmt: skip

    def _size(self, e: ast.Call, ctx: Ctx) -> V.Num:
        """`size(x)` / `size(x, axis)`: a tensor's size along an axis, known at compile time."""
        args = [self.evaluate(a, ctx) for a in e.args]
        if not args or len(args) > 2 or e.kwargs or not isinstance(args[0], V.TensorRef):
            raise CompileError("SQN0106", "size takes a tensor and optionally an axis: size(x, -1)",
                               e.span)  # fmt: skip
        t = args[0].type
        axis = args[1] if len(args) == 2 else V.Num(-1, "-1")
        if not (isinstance(axis, V.Num) and axis.is_int and -t.rank <= axis.value < t.rank):
            raise CompileError("SQN0303", f"axis out of range for {t}", e.span)
        d = t.shape[axis.value]
        return V.Num(d.value, str(d), e.span)


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
