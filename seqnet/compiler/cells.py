"""User-defined recurrent cells: `scan(cell(...), x, state=[S])`.

The cell is a block (or op) call with its first two tensor parameters left out: scan passes the
step's input x_t (x without its first axis) and the previous state, and the cell returns
`out, new_state` (or one tensor, which is both). The cell is elaborated once, as the scan node's
region "cell", typed with the per-step input; its parameters are one set shared by every step,
and its cost counts once per step (summary.py, `uses`).
"""

from __future__ import annotations

from seqnet.compiler import values as V
from seqnet.compiler.ir import Ref
from seqnet.compiler.ops.registry import OpDef
from seqnet.compiler.regions import elaborate_region
from seqnet.compiler.statements import too_big_axis
from seqnet.compiler.types import Dim, TensorType
from seqnet.errors import CompileError, Note
from seqnet.grammar import ast
from seqnet.limits import MAX_DIM

ROLE = "cell"


def scan_cell(el, op: OpDef, e: ast.Call, ctx, label):
    """Elaborate `scan(cell, x, ...)` into one scan node owning the cell's region."""
    if not e.args or e.misplaced:
        raise CompileError("SQN0104", f"{op.name} needs a cell first: {op.name}(cell(...), x, "
                           "state=[S])", e.span,
                           hint="the cell is a block `block cell(x, state) { ... return out, "
                           "new_state }`")  # fmt: skip
    template = _template(e.args[0])
    rest = ast.Call(e.func, e.args[1:], e.kwargs, e.span)
    args = [el.evaluate(a, ctx) for a in rest.args]
    kwargs = {kw.name: (el.evaluate(kw.value, ctx), kw) for kw in rest.kwargs}
    tensors, attrs, spans = el._bind(op, rest, args, kwargs, ctx)
    x: V.TensorRef = tensors["x"]
    if x.type.rank < 1:
        raise CompileError("SQN0303", f"{op.name} runs over the first axis of x, but x is {x.type}",
                           spans.get("x", e.span), hint="x is a sequence: (steps, features...)")  # fmt: skip
    state_shape = attrs["state"]
    if not state_shape or any(int(d) <= 0 for d in state_shape):
        raise CompileError("SQN0108", f"the state shape must list positive sizes, got "
                           f"{list(state_shape)}", spans.get("state", e.span),
                           hint="for an LSTM cell of hidden size H: state=[2 * H]")  # fmt: skip
    big = next((int(d) for d in state_shape if int(d) > MAX_DIM), None)
    if big is not None:
        raise too_big_axis("the scan's state", big, spans.get("state", e.span))
    step_in = TensorType(x.type.dtype, x.type.shape[1:], x.type.vocab)
    state_in = TensorType.of("float32", tuple(state_shape))
    node_name = el.builder.unique(ctx.path, label or op.name)
    path = ctx.path + (node_name.rsplit("/", 1)[-1],)
    region, result = elaborate_region(el, ctx.scope, ROLE, template, [step_in, state_in], path,
                                      ctx, join=False)  # fmt: skip
    out, new_state = _results(result, template)
    if new_state.type != state_in:
        raise CompileError(
            "SQN0301", f"the cell takes a state {state_in} but returns a new state {new_state.type}",
            new_state.span, notes=(Note(spans.get("state", e.span), f"the state is {state_in} here"),),
            hint="a cell returns `out, new_state` with new_state of the shape it was given",
        )  # fmt: skip
    region.graph["outputs"]["out"] = Ref(out.node, out.port)
    region.graph["outputs"]["state"] = Ref(new_state.node, new_state.port)
    region.graph["uses"] = int(x.type.dims[0])
    region.graph["cell"] = _cell_name(template)
    # the step's sizes, named by a dim where the cell's code gave one, not by the arithmetic
    # of its subscripts (4*H-96)
    shape = tuple(Dim(d.value, d.expr if d.expr and d.expr.isidentifier() else None)
                  for d in out.type.shape)  # fmt: skip
    attrs["out_type"] = TensorType(out.type.dtype, shape, out.type.vocab)
    if "initial" in tensors and tensors["initial"] is None:
        del tensors["initial"]
    return el._op_node(op.name, tensors, attrs, e.span, ctx, label, spans, name=node_name,
                       extra={"regions": {ROLE: region}})  # fmt: skip


def _template(arg) -> ast.Call:
    """The cell as a call template: `lstm_cell(hidden=H)`, or a bare block name."""
    if isinstance(arg, ast.Call):
        return arg
    if isinstance(arg, (ast.Name, ast.Attribute)):
        return ast.Call(arg, (), (), arg.span)
    raise CompileError("SQN0106", "the cell must be a block, or a block call with the step input "
                       "and state left out", arg.span, hint="scan(lstm_cell(hidden=H), x, state=[2 * H])")  # fmt: skip


def _results(result, template: ast.Call) -> tuple[V.TensorRef, V.TensorRef]:
    """(out, new_state) from what the cell returned."""
    items = result.items if isinstance(result, V.TupleVal) else (result,)
    if len(items) > 2 or not all(isinstance(v, V.TensorRef) for v in items):
        raise CompileError("SQN0106", f"a cell returns `out, new_state` (or one tensor, both), but "
                           f"this one returns {V.describe(result)}", template.span,
                           hint="end the cell's block with `return out, new_state`")  # fmt: skip
    return items[0], items[-1]


def _cell_name(template: ast.Call) -> str:
    func = template.func
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        return f"{func.value.id}.{func.attr}"
    return func.id if isinstance(func, ast.Name) else "cell"
