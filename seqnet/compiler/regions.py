"""Regions: a block (or op) call template elaborated into its own graph, fed by placeholder
inputs. A segment structure's roles and a scanned cell are regions of the node that owns them."""

from __future__ import annotations

from seqnet.compiler import values as V
from seqnet.compiler.context import Builder, Ctx, Scope
from seqnet.compiler.graph import new_graph
from seqnet.compiler.ops.registry import OPS
from seqnet.errors import CompileError
from seqnet.grammar import ast


def elaborate_region(el, scope: Scope, role: str, template: ast.Call, inputs: list,
                     path: tuple[str, ...], ctx, join: bool = True):  # fmt: skip
    """Elaborate `template` into a new graph whose inputs in0.. have the types `inputs`; the
    template's tensor parameters left out receive them (with `join`, one left out receives
    their concatenation). Returns (region, result value); the caller names the region's outputs.
    The template is evaluated in `scope` (the names where the structure or cell was written)."""
    region = new_graph()
    builder = Builder(region, el.builder.counter)
    saved = el.graph, el.builder
    el.graph, el.builder = region, builder
    try:
        scope = Scope(scope)
        refs = []
        rpath = path + (role,)
        for i, t in enumerate(inputs):
            name = builder.unique(rpath, f"in{i}")
            builder.add(name, op="input", attrs={}, args=(), outputs=(t,), params={},
                        param_owner=name, flops=0, span=template.span, chain=ctx.chain,
                        path=rpath, label=f"in{i}", repeats=())  # fmt: skip
            region.graph["inputs"].append(name)
            refs.append(V.TensorRef(name, 0, t, template.span))
        func = el.evaluate(template.func, Ctx(scope))
        free = free_params(func, template)
        if join and free == 1 and len(refs) > 1:
            joined = el._op_node("concat", {"xs": refs}, {"axis": -1}, template.span,
                                 Ctx(scope, rpath, ctx.chain), "inputs")  # fmt: skip
            lead = [joined]
        else:
            lead = refs
        args = lead + [el.evaluate(a, Ctx(scope)) for a in template.args]
        kwargs = {kw.name: (el.evaluate(kw.value, Ctx(scope)), kw) for kw in template.kwargs}
        inner = Ctx(scope, rpath, (template.span, *ctx.chain), blocks=ctx.blocks)  # recursion check
        fake = ast.Call(template.func, tuple(template.args), template.kwargs, template.span)
        if isinstance(func, V.OpRef):
            out = el._op_call(OPS[func.name], _with_lead(fake, len(lead)), args, kwargs, inner, role)
        elif isinstance(func, V.BlockRef):  # the block call adds the template to the chain itself
            inner = Ctx(scope, rpath, ctx.chain, blocks=ctx.blocks)
            out = el._block_call(func, _with_lead(fake, len(lead)), args, kwargs, inner, role)
        else:
            raise CompileError("SQN0106", f"'{role}' must call a block or an op, not "
                               f"{V.describe(func)}", template.func.span)  # fmt: skip
        return region, out
    finally:
        el.graph, el.builder = saved


def free_params(func, template: ast.Call) -> int:
    """Parameters a template leaves for the structure's tensors (required, not given)."""
    if isinstance(func, V.BlockRef):
        given = {kw.name for kw in template.kwargs}
        required = [p for p in func.block.params if p.default is None and p.name not in given]
        return len(required) - len(template.args)
    if isinstance(func, V.OpRef):
        return len([a for a in OPS[func.name].tensor_args if a.required])
    return 0


def _with_lead(call: ast.Call, n: int) -> ast.Call:
    """The template call with n placeholder arguments in front (spans point at the template)."""
    placeholders = tuple(ast.Name(f"<{i}>", call.span) for i in range(n))
    return ast.Call(call.func, placeholders + call.args, call.kwargs, call.span)
