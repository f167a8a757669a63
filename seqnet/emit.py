"""`seqnet check FILE --emit STAGE`: print what a pipeline stage produced.

ast: the syntax tree; graph: the graph IR, one line per node with its types and source location;
stablehlo: the program XLA compiles for `apply` (batch 1), whose op locations carry the spec's
node names (from `jax.named_scope`), so any XLA message can be traced back to a line.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from seqnet.source import SourceFile, Span

if TYPE_CHECKING:  # the compiler is imported where a graph is printed: `seqnet check` reads
    import networkx as nx  # EMITTERS for its options before it pauses the collector (cli.main)

# what --emit can print: {name: (the pipeline stage it needs, its text, or None when the stage
# produced nothing to print)}. A syntax tree recovered past syntax errors is still printed.
EMITTERS = {
    "ast": ("parse", lambda c: None if c.module is None else emit_ast(c.module)),
    "graph": ("verify", lambda c: None if c.failed else emit_graph(c.graph)),
    "stablehlo": ("verify", lambda c: None if c.failed else emit_stablehlo(c.graph)),
}
STAGES = tuple(EMITTERS)


def emit_ast(module) -> str:
    from seqnet.grammar.parser import recursion_room

    with recursion_room():  # the walk recurses as deep as the parser allows expressions to nest
        return _emit_ast(module)


def _emit_ast(module) -> str:
    lines: list[str] = []

    def walk(node, indent: int, label: str = "") -> None:
        pad = "  " * indent + (f"{label}: " if label else "")
        if dataclasses.is_dataclass(node) and not isinstance(node, (Span, SourceFile)):
            fields = [f for f in dataclasses.fields(node) if f.name not in ("span", "source")]
            simple = {f.name: getattr(node, f.name) for f in fields
                      if isinstance(getattr(node, f.name), (str, int, float, bool, type(None)))}  # fmt: skip
            where = f"  @{node.span.line}:{node.span.column}" if hasattr(node, "span") else ""
            text = ", ".join(f"{k}={v!r}" for k, v in simple.items() if not k.endswith("_span"))
            lines.append(f"{pad}{type(node).__name__}({text}){where}")
            for f in fields:
                value = getattr(node, f.name)
                if f.name in simple or f.name.endswith("_span") or isinstance(value, Span):
                    continue
                walk(value, indent + 1, f.name)
        elif isinstance(node, tuple):
            if not node:
                return
            lines.append(f"{pad}[{len(node)}]")
            for item in node:
                walk(item, indent + 1)
        else:
            lines.append(f"{pad}{node!r}")

    for stmt in module.body:
        walk(stmt, 0)
    return "\n".join(lines) + "\n"


def _ref(ref) -> str:
    if isinstance(ref, tuple) and len(ref) == 2 and isinstance(ref[0], str):
        node, port = ref
        return node if port == 0 else f"{node}#{port}"
    return "[" + ", ".join(_ref(r) for r in ref) + "]"


def emit_graph(g: nx.MultiDiGraph, indent: str = "") -> str:
    from seqnet.compiler.graph import topo_order
    from seqnet.compiler.ir import node as ir_node
    from seqnet.compiler.summary import choice_line, summarize_choices
    from seqnet.compiler.ties import describe as describe_ties
    from seqnet.compiler.values import spell

    lines = []
    for n in topo_order(g):
        rec = ir_node(g, n)
        types = ", ".join(str(t) for t in rec.outputs)
        args = [f"{a}={_ref(r)}" for a, r in rec.args]
        attrs = [f"{k}={spell(v)}" for k, v in sorted(rec.attrs.items())
                 if k not in ("structure", "out_type", "target_shape")]  # fmt: skip
        shared = f"  shares {rec.param_owner}" if rec.param_owner != n else ""
        shared += f"  ties {describe_ties(rec.ties)}" if rec.ties else ""
        lines.append(f"{indent}{n} = {rec.op}({', '.join(args + attrs)}) : {types}{shared}  # {rec.span}")
        for role, region in (rec.regions or {}).items():
            lines.append(f"{indent}  region {role} (x{region.graph.get('copies', 1)} parameter sets):")
            lines.append(emit_graph(region, indent + "    ").rstrip("\n"))
    for u, v, e in g.edges(data=True):
        if e.get("wormhole"):
            s = e.get("settings") or {}
            lines.append(f"{indent}wormhole {u} -> {v} ({', '.join(f'{k}={s[k]}' for k in sorted(s))})")
    if not indent:  # what the settings chose, and what each choice would build
        lines += [f"choice {choice_line(c)}" for c in summarize_choices(g)]
        outs = ", ".join(f"{k} = {_ref(r)}" for k, r in g.graph["outputs"].items())
        lines.append(f"outputs: {outs}")
    return "\n".join(lines) + "\n"


def emit_stablehlo(g: nx.MultiDiGraph) -> str:
    import jax
    import jax.numpy as jnp

    from seqnet.backends.jax.lower import lower
    from seqnet.compiler.graph import output_type, topo_order
    from seqnet.compiler.ir import node as ir_node

    lowered = lower(g)
    params = jax.eval_shape(lowered.init, jax.random.key(0))  # shapes only: nothing allocated
    types = {n: output_type(g, (n, 0)) for n in g.graph["inputs"]}
    inputs = {n: jax.ShapeDtypeStruct((1, *t.dims), jnp.dtype(t.dtype)) for n, t in types.items()}
    traced = jax.jit(lambda p, x: lowered.apply(p, x)).lower(params, inputs)
    legend = ["// op locations read jit(<lambda>)/<node>/<op>; the nodes come from:"]
    legend += [f"//   {n}: {ir_node(g, n).op} at {ir_node(g, n).span}" for n in topo_order(g)]
    return "\n".join(legend) + "\n" + traced.as_text(debug_info=True)
