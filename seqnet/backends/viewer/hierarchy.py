"""The diagram as data for the HTML viewer: drawn nodes, the block/repeat tree, and each edge
filed under the one cluster whose layout it takes part in.

The page lays out one cluster level at a time (viewer.js), so expanding a block re-lays out that
block and its ancestors' levels, never the whole graph. For that every edge is stored with the
level it belongs to: the innermost cluster holding both ends, and the two items of that cluster
(a node, or a child cluster) that contain them. That is fixed by the graph, whatever is expanded.

What a node says (label, colours, tooltip, edge types) comes from the graphviz drawing rules, so
the page and the static diagram describe a node in the same words. Repeats are drawn once, as
copy 0, as in the static diagram.
"""

from __future__ import annotations

from seqnet.backends.graphviz.builder import fast_topo_order
from seqnet.backends.graphviz.canvas import Canvas
from seqnet.backends.graphviz.clusters import canonical, crosses_copies, levels
from seqnet.backends.graphviz.dot import check_options
from seqnet.backends.graphviz.edges import edge_label
from seqnet.backends.graphviz.labels import node_tooltip, params_text
from seqnet.compiler.graph import param_count
from seqnet.compiler.ir import node as ir_node
from seqnet.compiler.ops.catalog import load_ops

SHAPES = {"box": "box", "circle": "circle", "ellipse": "ellipse"}  # others are drawn as boxes


class _Files:
    """The source files the spans point into, each stored once: name -> index, and the texts."""

    def __init__(self):
        self.index: dict[str, int] = {}
        self.items: list[dict] = []

    def span(self, span) -> list | None:
        if span is None:
            return None
        name = span.source.name
        i = self.index.get(name)
        if i is None:
            i = self.index[name] = len(self.items)
            self.items.append({"name": name, "text": span.source.text})
        return [i, span.line, span.column]


def build(graph, **options) -> dict:
    """The page's data for `graph`. Options are the diagram's (theme, resolve_dims, ...)."""
    load_ops()
    o = check_options(options)
    c = Canvas(graph, o)
    g = graph
    files = _Files()
    order = fast_topo_order(g)
    rec = {n: ir_node(g, n) for n in order}  # each record made once: they are rebuilt per call
    rep = {n: canonical(g, n, rec[n]) for n in order}
    clusters = [{"parent": -1, "kind": "root", "title": "", "params": 0, "span": None}]
    ckey: dict[tuple, int] = {(): 0}
    nodes: list[dict] = []
    nindex: dict[str, int] = {}
    for n in order:
        if rep[n] != n:
            continue
        data = rec[n]
        parent = 0
        chain = levels(data)
        sites = _call_sites(data, chain)
        for depth, (key, kind, name, cnt, shared) in enumerate(chain):
            ci = ckey.get(key)
            if ci is None:
                ci = ckey[key] = len(clusters)
                title = f"repeat ×{cnt}" + (", shared" if shared else "") if kind == "repeat" else name
                clusters.append({"parent": parent, "kind": kind, "title": title, "name": name,
                                 "count": cnt, "shared": bool(shared), "params": 0,
                                 "span": files.span(sites[depth])})  # fmt: skip
            parent = ci
        rule = c.rule(n)
        shape, fill = c.style(rule.family(data))
        pc = param_count(g, n)
        nindex[n] = len(nodes)
        nodes.append({
            "name": n, "label": rule.label(c, n, data), "fill": fill,
            "shape": SHAPES.get(shape, "box"), "cluster": parent, "params": pc,
            "tip": node_tooltip(g, n, data, rule.summary(data)), "span": files.span(data.span),
        })  # fmt: skip
        ci = parent
        while ci > 0:  # what a cluster shows: copy 0 of the repeats in it
            clusters[ci]["params"] += pc
            ci = clusters[ci]["parent"]
    for cl in clusters[1:]:
        p = cl["params"]
        cl["paramsText"] = (f"{cl['count']} × {params_text(p)}" if cl["kind"] == "repeat"
                            and not cl["shared"] and cl["count"] > 1 else params_text(p))  # fmt: skip
    edges = _edges(c, g, order, rec, rep, nindex, nodes, clusters)
    _outputs(c, g, rep, nindex, nodes, clusters, edges, files)
    return {"title": _title(g, order), "theme": c.t, "nodes": nodes, "clusters": clusters,
            "edges": edges, "files": files.items, "depth": o["depth"]}  # fmt: skip


def _call_sites(data, chain: list[tuple]) -> list:
    """Where each level of a node's cluster chain is written: a block level, its call site (the
    node's `chain` lists them innermost first); a repeat, the call site of the block it repeats
    (the node's own span when it repeats no block)."""
    calls = list(reversed(data.chain))
    out, k = [], 0
    for _key, kind, *_ in chain:
        if kind == "block" and k < len(calls):
            out.append(calls[k])
            k += 1
        else:
            out.append(None)
    for i in range(len(out) - 1, -1, -1):  # a repeat: the next site inward, else the node's
        if out[i] is None:
            out[i] = out[i + 1] if i + 1 < len(out) else data.span
    return out


def _chain(clusters: list[dict], ci: int) -> list[int]:
    """Cluster `ci` and its ancestors, innermost first, the root (0) last."""
    out = [ci]
    while ci > 0:
        ci = clusters[ci]["parent"]
        out.append(ci)
    return out


def _level(clusters: list[dict], a: int, b: int) -> tuple[int, int, int]:
    """Where an edge between clusters a and b is laid out: (the innermost cluster holding both,
    the item of it holding a, the item holding b), items as cluster indices, -1 for the end
    node itself (it sits directly in that cluster)."""
    ca, cb = _chain(clusters, a), _chain(clusters, b)
    common = set(cb)
    lca = next(x for x in ca if x in common)
    ia = ca[ca.index(lca) - 1] if ca.index(lca) else -1
    ib = cb[cb.index(lca) - 1] if cb.index(lca) else -1
    return lca, ia, ib


def _edges(c, g, order, rec, rep, nindex, nodes, clusters) -> list[dict]:
    """Each edge between two drawn nodes once: ends, level, type label; wormholes as back-edges
    (drawn, not laid out). An edge from one repeat copy into the next is copy 0's own business
    and is not drawn (the repeat's title says it repeats); so are the edges into later copies."""
    seen: set = set()
    out = []
    for v in order:
        if rep[v] != v:  # a later repeat copy: its edges are copy 0's, or carries between copies
            continue
        for u, _, _k, e in g.in_edges(v, keys=True, data=True):
            a, b = nindex[rep[u]], nindex[rep[v]]
            back = bool(e.get("wormhole"))
            if a == b or (not back and crosses_copies(rec[u], rec[v])):
                continue
            label = None if back else edge_label(c, u, v, e)
            if (a, b, label) in seen:
                continue
            seen.add((a, b, label))
            lvl, ia, ib = _level(clusters, nodes[a]["cluster"], nodes[b]["cluster"])
            out.append({"from": a, "to": b, "label": label, "back": back, "level": lvl,
                        "itemFrom": ia, "itemTo": ib})  # fmt: skip
    return out


def _outputs(c, g, rep, nindex, nodes, clusters, edges, files: _Files) -> None:
    """One node per spec output, fed by the node it names (as in the static diagram)."""
    spans = g.graph.get("output_spans", {})
    _shape, fill = c.style("io")
    for name, (node, port) in g.graph.get("outputs", {}).items():
        typ = ir_node(g, node).outputs[port]
        span = spans.get(name)
        src = nindex[rep[node]]
        nodes.append({"name": f"output {name}", "label": f"{name}\n{c.type_text(typ)}",
                      "fill": fill, "shape": "ellipse", "cluster": 0, "params": 0,
                      "tip": f"{span or '(no source)'}\noutput {name}: {typ}",
                      "span": files.span(span)})  # fmt: skip
        lvl, ia, ib = _level(clusters, nodes[src]["cluster"], 0)
        edges.append({"from": src, "to": len(nodes) - 1, "label": None, "back": False,
                      "level": lvl, "itemFrom": ia, "itemTo": ib})  # fmt: skip


def _title(g, order) -> str:
    src = g.graph.get("source") or ""
    total = sum(param_count(g, n) for n in order)
    return (f"{src}  ·  " if src else "") + params_text(total)
