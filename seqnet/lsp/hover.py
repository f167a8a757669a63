"""What hovering over a name shows, as Markdown: a tensor's type (dims as written and resolved),
the op or block a call applies (signature, doc, and the parameters and FLOPs of what it built), a
keyword argument's kind and choices, a dim's or const's value."""

from __future__ import annotations

from seqnet.compiler.graph import param_count
from seqnet.compiler.ir import INPUT
from seqnet.compiler.summary import choice_line, summarize_choices
from seqnet.grammar import ast
from seqnet.grammar.format import expr as spell_expr
from seqnet.lsp import symbols as S
from seqnet.lsp.analysis import Analysis, span_key
from seqnet.lsp.vocabulary import BUILTINS, OPS, setting_doc


def hover_text(a: Analysis, line: int, column: int) -> str | None:
    if a.index is None:
        return None
    occ = a.index.at(line, column)
    if occ is None:
        return None
    if occ.keyword_of is not None:
        return _keyword(occ.keyword_of, occ.name, a)
    if occ.setting_of is not None:
        return setting_doc(occ.setting_of, occ.name)
    if occ.call is not None:
        return _call(a, occ)
    if occ.symbol is not None:
        return _symbol(a, occ.symbol)
    return None


def _code(text: str) -> str:
    return f"```seqnet\n{text}\n```"


def _call(a: Analysis, occ: S.Occurrence) -> str | None:
    call, sym = occ.call, occ.symbol
    if sym is not None and sym.kind == S.BLOCK:
        head = _code(_block_signature(sym.stmt)) + f"\n\nblock defined at {sym.span}"
        built = _block_nodes(a, call)
    elif sym is None and occ.name in OPS:
        op = OPS[occ.name]
        head = _code(op.signature()) + (f"\n\n{op.doc}" if op.doc else "")
        built = [(n, i) for i, n in enumerate(a.nodes_at(call.span))]
    elif sym is None and occ.name in BUILTINS:
        word = BUILTINS[occ.name]
        return _code(word.detail) + f"\n\n{word.doc}" + "".join(
            f"\n\n{choice_line(c)}" for c in _choices_at(a, call.span))
    else:
        return _symbol(a, sym) if sym is not None else None
    return head + _built(a, built)


def _block_nodes(a: Analysis, call: ast.Call) -> list[str]:
    """The nodes a block call built, each with the copy it belongs to (a repeat or an outer
    block calls it more than once): its path above the call."""
    if a.graph is None:
        return []
    key, out = span_key(call.span), []
    for name, data in a.graph.nodes(data=True):
        chain = [span_key(site) for site in data.get("chain") or ()]
        if key in chain:
            path = data.get("path") or ()
            out.append((name, path[: len(path) - chain.index(key) - 1]))
    return out


def _built(a: Analysis, built: list[tuple[str, object]]) -> str:
    """The type, parameters and FLOPs of what a call or statement built: (node, copy) pairs,
    the figures summed over the copies."""
    if not built:
        return ""
    g = a.graph
    nodes = [n for n, _ in built]
    params = sum(param_count(g, n) for n in nodes)
    flops = sum(g.nodes[n].get("flops", 0) for n in nodes)
    lines = [f"output: `{_types(g.nodes[nodes[-1]]['outputs'])}`"]
    copies = len({copy for _, copy in built})
    if copies > 1:
        lines.append(f"built {copies} times (the figures below are summed)")
    lines.append(f"parameters: {params:,} · FLOPs per example: {flops:,}")
    return "\n\n" + "\n\n".join(lines)


def _types(outputs) -> str:
    written = ", ".join(str(t) for t in outputs)
    resolved = ", ".join(t.resolved() for t in outputs)
    return written if written == resolved else f"{written}` = `{resolved}"


def _block_signature(b: ast.BlockDef) -> str:
    params = [p.name if p.default is None else f"{p.name}={spell_expr(p.default)}" for p in b.params]
    return f"block {b.name}({', '.join(params)})"


def _keyword(call: ast.Call, name: str, a: Analysis) -> str | None:
    func = call.func
    callee = a.index.at(func.span.line, func.span.column) if isinstance(func, ast.Name) else None
    if callee is not None and callee.symbol is not None and callee.symbol.kind == S.BLOCK:
        block = callee.symbol.stmt
        param = next((p for p in block.params if p.name == name), None)
        if param is None:
            return None
        default = f", default `{spell_expr(param.default)}`" if param.default is not None else ""
        return f"`{name}`: parameter of `{_block_signature(block)}`{default}"
    if isinstance(func, ast.Name) and func.id == "choose" and (callee is None or callee.symbol is None):
        for c in _choices_at(a, call.span):
            if name in c["params"]:
                chosen = "chosen" if name == c["chosen"] else f"not chosen: {c['key']} = {c['chosen']}"
                return f"choice `{name}` of `{c['what']}` ({chosen}): {c['params'][name]:,} parameters"
        return None
    op = OPS.get(func.id) if isinstance(func, ast.Name) else None
    if op is None:
        return None
    arg = op.arg(name)
    if arg is None:
        return None
    text = f"`{name}`: {arg.kind}" + ("" if arg.required else f", default `{_default(arg)}`")
    if arg.choices:
        text += "\n\none of: " + ", ".join(f"`{c}`" for c in arg.choices)
    if arg.doc:
        text += f"\n\n{arg.doc}"
    return f"{text}\n\n(argument of `{op.signature()}`)"


def _choices_at(a: Analysis, span) -> list[dict]:
    """The choices (summary's records) made by the `choose` call at `span`."""
    if a.graph is None:
        return []
    key = span_key(span)
    return [c for c in summarize_choices(a.graph) if span_key(c["span"]) == key]


def _default(arg) -> str:
    from seqnet.compiler.values import spell

    return f'"{arg.default}"' if isinstance(arg.default, str) and arg.kind == "str" else spell(arg.default)


def _symbol(a: Analysis, sym: S.Symbol) -> str | None:
    if sym.kind in (S.DIM, S.CONST):
        value = spell_expr(sym.value)
        known = a.graph.graph.get("dims", {}).get(sym.name) if a.graph is not None else None
        shown = f"{sym.kind} {sym.name} = {value}"
        if known is not None and str(known) != value:
            shown += f"  # = {known}"
        return _code(shown) + f"\n\ndefined at {sym.span}"
    if sym.kind == S.BLOCK:
        return _code(_block_signature(sym.stmt)) + f"\n\nblock defined at {sym.span}"
    if sym.kind == S.IMPORT:
        return f"imports `{sym.target}`" if sym.target else None
    if sym.kind == S.PARAM:
        default = f" (default `{spell_expr(sym.value)}`)" if sym.value is not None else ""
        return f"parameter `{sym.name}` of block `{sym.block}`{default}"
    nodes = _tensor_nodes(a, sym)
    what = {S.INPUT: "input", S.OUTPUT: "output", S.SEGMENTS: "segments"}.get(sym.kind, "tensor")
    if not nodes:
        return f"{what} `{sym.name}`" + ("" if a.graph is not None else " (not elaborated: see the errors)")
    d = a.graph.nodes[nodes[-1]]
    text = f"{what} `{sym.name} : {_types(d['outputs'])}`"
    if d["op"] != INPUT:
        text += f"\n\nmade by `{d['op']}` at {d['span']}" + _built(a, [(n, i) for i, n in enumerate(nodes)])
    return text


def _tensor_nodes(a: Analysis, sym: S.Symbol) -> list[str]:
    """The node(s) that compute what a name is bound to."""
    g = a.graph
    if g is None:
        return []
    if sym.kind == S.INPUT:
        return [n for n, d in g.nodes(data=True) if d["op"] == INPUT and d.get("label") == sym.name][:1]
    if sym.kind == S.OUTPUT and sym.block is None and sym.name in g.graph.get("outputs", {}):
        return [g.graph["outputs"][sym.name][0]]
    if sym.value is None:
        return []
    if isinstance(sym.value, ast.Name):
        ref = a.index.at(sym.value.span.line, sym.value.span.column)
        return _tensor_nodes(a, ref.symbol) if ref is not None and ref.symbol not in (None, sym) else []
    direct = a.nodes_at(sym.value.span)
    if direct:
        return direct
    within = a.nodes_within(sym.value.span)
    return within[-1:]
