"""Calls: binding arguments to an op's signature, checking each attribute's kind, and adding the
op's node with its inferred types, parameters and cost; blocks and segment structures are called
through here too."""

from __future__ import annotations

from seqnet.compiler import choices, mechanisms
from seqnet.compiler import values as V
from seqnet.compiler.cells import scan_cell
from seqnet.compiler.context import Ctx, prefix_of
from seqnet.compiler.expressions import INTERNAL_OPS
from seqnet.compiler.graph import is_input
from seqnet.compiler.ir import Ref
from seqnet.compiler.names import IDENT, did_you_mean
from seqnet.compiler.ops.masks import PADDING_ARGS
from seqnet.compiler.ops.registry import OPS, OpCall, OpDef, ShapeError
from seqnet.compiler.statements import too_big_axis
from seqnet.compiler.ties import tie as tie_weight
from seqnet.compiler.types import NamedInt, plain
from seqnet.errors import CompileError, Note
from seqnet.grammar import ast
from seqnet.limits import MAX_DIM
from seqnet.source import Span

# Ops made by statements (wormhole, segments) rather than calls: their call signature is no hint.
STATEMENT_OPS = INTERNAL_OPS


def _taken_by(name: str, op: OpDef) -> str:
    """The hint for an argument the op lacks; for a padding argument (`lengths=`, `mask=`), also
    which ops do take it: `lengths=` is for the recurrent ops, not dense."""
    others = sorted(n for n, d in OPS.items() if d.arg(name) is not None) if name in PADDING_ARGS else []
    if others:
        return f"{name}= is taken by {', '.join(others)}; {op.name}'s signature: {op.signature()}"
    return f"signature: {op.signature()}"


class Calls:
    """Elaborator methods for calls (a mixin of Elaborator)."""

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
        func = self.evaluate(e.func, ctx)
        if isinstance(func, V.Symbol) and func.name == "size":
            return self._size(e, ctx)
        if isinstance(func, V.Symbol) and func.name == choices.CHOOSE:
            return choices.choose(self, e, ctx, label)
        if isinstance(func, V.Symbol):
            if func.name in INTERNAL_OPS:
                raise CompileError("SQN0102", f"'{func.name}' is created by its own statement and "
                                   "cannot be called", func.span,
                                   hint="use a 'wormhole' or 'segments' statement")  # fmt: skip
            raise self._unknown(func, ctx, "op or block")
        if isinstance(func, V.OpRef) and OPS[func.name].takes_cell:
            return scan_cell(self, OPS[func.name], e, ctx, label)
        args = [self.evaluate(a, ctx) for a in e.args]
        kwargs = {kw.name: (self.evaluate(kw.value, ctx), kw) for kw in e.kwargs}
        if isinstance(func, V.OpRef):
            return self._op_call(OPS[func.name], e, args, kwargs, ctx, label)
        if isinstance(func, V.BlockRef):
            return self._block_call(func, e, args, kwargs, ctx, label)
        if isinstance(func, V.SegmentsRef):
            return self._apply_segments(func, e, args, kwargs, ctx, label)
        raise CompileError("SQN0106", f"{V.describe(func)} cannot be called", e.func.span)

    def _op_call(self, op: OpDef, e: ast.Call, args, kwargs, ctx: Ctx, label):
        tied = kwargs.pop("tie", None)  # any op with a weight takes tie= (ties.py)
        tensors, attrs, spans = self._bind(op, e, args, kwargs, ctx)
        return self._op_node(op.name, tensors, attrs, e.span, ctx, label, spans, tie=tied)

    def _bind(self, op: OpDef, e: ast.Call, args, kwargs, ctx: Ctx):
        """The call's arguments bound to the op's signature: (tensors, attributes, spans)."""
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
                                   hint=did_you_mean(name, [a.name for a in op.args if a.kind != "any"])
                                   or _taken_by(name, op))  # fmt: skip
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
        return tensors, attrs, spans

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
                return named_int(value)
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
                                   f"'{chosen}'", span, hint=did_you_mean(chosen, arg.choices))  # fmt: skip
        elif kind == "ints":
            if isinstance(value, V.ListVal) and all(isinstance(i, V.Num) and i.is_int for i in value.items):
                return tuple(named_int(i) for i in value.items)
        elif kind == "any":
            return value
        if isinstance(value, V.Symbol):
            raise self._unknown(value, ctx)
        want = {"int": "an integer", "float": "a number", "bool": "true or false", "str": "a string",
                "choice": "one of " + ", ".join(arg.choices), "ints": "a list of integers"}[kind]  # fmt: skip
        raise CompileError("SQN0106", f"{where} must be {want}, but it is {V.describe(value)}", span,
                           hint=f"signature: {op.signature()}")  # fmt: skip

    def _op_node(self, op_name: str, tensors: dict, attrs: dict, span: Span, ctx: Ctx, label,
                 arg_spans: dict | None = None, extra: dict | None = None, name: str | None = None,
                 tie: tuple | None = None):  # fmt: skip
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
                raise too_big_axis(f"{op_name}'s result", big, span)
        builder = self.builder
        extra = dict(extra or {})
        if tie is not None:  # tie=(value, keyword): the op's weight is another node's
            params, extra["ties"] = tie_weight(builder.g, op_name, params, tie[0], span, tie[1].value.span)
        name = name or builder.unique(ctx.path, label or op_name)
        owner = name
        if ctx.shared_with is not None and params:
            owner = ctx.shared_with + name[len(prefix_of(ctx)) :]
        args = []
        for arg in op.tensor_args:
            v = tensors.get(arg.name)
            if v is None:
                continue
            refs = tuple(Ref(t.node, t.port) for t in v) if isinstance(v, list) else Ref(v.node, v.port)
            args.append((arg.name, refs))
        attrs = {k: plain(v) for k, v in attrs.items()}
        builder.add(name, op=op_name, attrs=attrs, args=tuple(args), outputs=tuple(outputs),
                    params=params, param_owner=owner, flops=flops, span=span, chain=ctx.chain,
                    path=ctx.path, label=None, repeats=ctx.repeats, **extra)  # fmt: skip
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
                    how = "declared" if is_input(self.graph, ref.node) else "computed"
                    notes.append(Note(ref.span, f"'{text}' is {ref.type}, {how} here"))
        shown = op.statement or op.name
        message = err.message if err.message.startswith(shown) else f"{shown}: {err.message}"
        hint = err.hint
        if hint is None and op.name not in STATEMENT_OPS:  # at least: what the op takes
            hint = f"{op.name} takes {op.signature()}"
        return CompileError(err.code, message, where, hint=hint, notes=notes[:3])

    def _apply_segments(self, ref: V.SegmentsRef, e: ast.Call, args, kwargs, ctx: Ctx, label):
        return mechanisms.apply_segments(self, ref, e, args, kwargs, ctx, label)


def _is_none(value) -> bool:
    return isinstance(value, V.Symbol) and value.name == "none"


def _span_text(span: Span) -> str | None:
    """The source text under a one-line span, if short enough to quote in a message."""
    if span.end_line != span.line:
        return None
    text = span.source.line(span.line)[span.column - 1 : span.end_column - 1].strip()
    return text if 0 < len(text) <= 32 else None


def named_int(v: V.Num) -> int:
    """An integer attribute; one written with dims keeps its text for the shapes it makes."""
    text = v.text
    if isinstance(text, str) and IDENT.search(text) and text != str(v.value):
        return NamedInt(v.value, text)
    return v.value
