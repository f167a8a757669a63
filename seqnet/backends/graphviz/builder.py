"""The graph walk: which display node each IR node becomes, in which cluster, and the DOT text
put together. How a node looks is its drawing rule's business (rules/); edges are edges.py's.

Everything is emitted in topological order (ties broken by creation order), so one spec always
gives byte-identical DOT. Node ids are sanitised node names, stable across runs, so tests and
scripts can find a node in the SVG by its id.
"""

from __future__ import annotations

import heapq

from seqnet.backends.graphviz.canvas import Canvas
from seqnet.backends.graphviz.clusters import (
    canonical,
    cluster_chain,
    crosses_copies,
    emit_cluster,
    levels,
)
from seqnet.backends.graphviz.dot_syntax import attr_list, edge_stmt, node_stmt, quote
from seqnet.backends.graphviz.edges import edge_label, edge_tooltip, emit_edges, output_port_name
from seqnet.backends.graphviz.labels import params_text
from seqnet.backends.graphviz.legend import Mark, graph_label
from seqnet.compiler.graph import param_count, topo_order
from seqnet.compiler.ir import node as ir_node
from seqnet.compiler.ops.catalog import load_ops

COLLAPSED = Mark("fg", "▤", "collapsed block")


def fast_topo_order(g) -> list[str]:
    """`seqnet.compiler.graph.topo_order` (creation-order ties) without networkx's view overhead."""
    idx, key, indeg, succ = {}, {}, {}, {}
    for i, (n, d) in enumerate(g.nodes(data=True)):
        idx[n], key[n], indeg[n], succ[n] = i, d.get("order", 0), 0, []
    for u, v, d in g.edges(data=True):
        if not d.get("wormhole"):
            indeg[v] += 1
            succ[u].append(v)
    heap = [(key[n], idx[n], n) for n in idx if indeg[n] == 0]
    heapq.heapify(heap)
    out = []
    while heap:
        _, _, n = heapq.heappop(heap)
        out.append(n)
        for v in succ[n]:
            indeg[v] -= 1
            if indeg[v] == 0:
                heapq.heappush(heap, (key[v], idx[v], v))
    if len(out) != len(idx):  # a cycle outside wormholes: let networkx report it
        return topo_order(g)
    return out


class Builder(Canvas):
    def __init__(self, g, opts: dict):
        load_ops()
        super().__init__(g, opts)

    def build(self) -> str:
        g = self.g
        order = fast_topo_order(g)
        rep = {n: canonical(g, n, ir_node(g, n)) for n in order}
        disp, collapsed = self.place(order, rep)
        self.tally(order, rep, collapsed)
        for info in collapsed.values():
            self.emit_collapsed(info)
        for n in order:
            if rep[n] == n and disp[n] == self.ids.get(n):
                self.rule(n).draw(self, n, disp[n], ir_node(g, n))
        emit_edges(self, self.pending_edges(order, rep, disp))
        return self.assemble(self.emit_outputs(rep, disp), order)

    def place(self, order: list[str], rep: dict) -> tuple[dict, dict]:
        """Which display node each canonical IR node becomes, and in which cluster: its own, or
        the collapsed block it is folded into when it sits deeper than `depth`."""
        depth = self.o["depth"]
        disp: dict[str, str] = {}  # canonical IR node -> display id
        collapsed: dict[tuple, dict] = {}
        for n in order:
            if rep[n] != n:
                continue
            chain = levels(ir_node(self.g, n))
            if depth is not None and len(chain) > depth:
                key = chain[depth][0]
                did = collapsed.get(key, {}).get("id")
                if did is None:
                    did = self.new_id("block_" + "/".join(key))
                    collapsed[key] = {"id": did, "level": chain[depth], "nodes": []}
                    cluster_chain(self.clusters, chain[:depth]).items.append(("node", did))
                    self.where[did] = chain[depth - 1][0] if depth else ()
                    self.entry[did] = self.exit[did] = did
                collapsed[key]["nodes"].append(n)
                disp[n] = did
            else:
                nid = self.node_id(n)
                disp[n] = nid
                cluster_chain(self.clusters, chain).items.append(("node", nid))
                self.where[nid] = chain[-1][0] if chain else ()
        return disp, collapsed

    def tally(self, order: list[str], rep: dict, collapsed: dict) -> None:
        """Parameters per cluster and collapsed block (and ops, all copies). Parameters count what
        is drawn: a cluster inside a repeat, or the repeat itself, counts the nodes of copy 0
        (every copy of a repeat nested in it included), as its nodes show."""
        copy_params: dict[tuple, int] = {}
        for n in order:
            pc = param_count(self.g, n)
            for key, *_ in levels(ir_node(self.g, n)):  # the node's own copy, not copy 0
                copy_params[key] = copy_params.get(key, 0) + pc
            for key, *_ in levels(ir_node(self.g, rep[n])):
                if key in collapsed:
                    info = collapsed[key]
                    info["total"] = info.get("total", 0) + pc
                    info["ops"] = info.get("ops", 0) + 1
        for key, c in self.clusters.items():
            c.params = copy_params.get(key, 0)
        for key, info in collapsed.items():
            info["params"] = copy_params.get(key, 0)

    def pending_edges(self, order: list[str], rep: dict, disp: dict) -> list[tuple]:
        """The IR's edges between display nodes (see edges.py), each drawn once."""
        g = self.g
        seen: set = set()
        pending: list[tuple] = []
        for v in order:
            for u, _, _k, e in g.in_edges(v, keys=True, data=True):
                du, dv = disp[rep[u]], disp[rep[v]]
                if e.get("wormhole"):
                    pending.append(("back", du, dv, u, e))
                    continue
                if crosses_copies(ir_node(g, u), ir_node(g, v)):
                    if ("carry", du, dv) not in pending:  # du == dv kept: it picks the junction
                        pending.append(("carry", du, dv))
                    continue
                if du == dv:
                    continue
                label = edge_label(self, u, v, e)
                key = (du, dv, label)
                if key in seen:
                    continue
                seen.add(key)
                pending.append(("edge", du, dv, label, edge_tooltip(u, v, e)))
        return pending

    def emit_outputs(self, rep: dict, disp: dict) -> list[str]:
        """One double ellipse per spec output, fed by the node it names."""
        g = self.g
        outs = []
        for name, (node, port) in g.graph.get("outputs", {}).items():
            oid = self.new_id("output_" + name)
            typ = ir_node(g, node).outputs[port]
            span = g.graph.get("output_spans", {}).get(name)
            self.family("io")
            _shape, fill = self.style("io")
            self.lines_nodes[oid] = [node_stmt(oid, {
                "id": oid, "label": f"{name}\n{self.type_text(typ)}", "shape": "ellipse",
                "peripheries": "2", "style": "filled,bold", "fillcolor": fill,
                "tooltip": f"{span or ''}\noutput {name}: {typ}",
            })]  # fmt: skip
            self.clusters[()].items.append(("node", oid))
            outs.append(oid)
            src = self.exit[disp[rep[node]]]
            self.edges.append(edge_stmt(src, oid, {
                "label": output_port_name(self, node, port), "penwidth": "1.4"}))  # fmt: skip
        return outs

    def emit_collapsed(self, info: dict) -> None:
        """A block (or repeat) deeper than `depth`, drawn as one 3-D box: its ops and params."""
        did = info["id"]
        key, kind, name, cnt, shared = info["level"]
        ops = info.get("ops", len(info["nodes"]))
        canon_ops = len(info["nodes"])
        pc = info["params"]  # one copy's, as everywhere a repeat is drawn once
        if kind == "repeat":
            title = f"repeat ×{cnt}" + (" shared" if shared else "")
            body = f"{canon_ops} ops ×{cnt}"
            params = f"{cnt} × {params_text(pc)}" if not shared and cnt > 1 else params_text(pc)
            total = info.get("total", 0)  # the tooltip counts every copy
        else:
            title, body = name, f"{canon_ops} op{'s' if canon_ops != 1 else ''}"
            params, total = params_text(pc), pc
            ops = canon_ops  # inside a repeat drawn once, a block is one copy's
        label = f"{title}\n{body}" + (f"\n{params}" if self.o["show_params"] else "")
        first = ir_node(self.g, info["nodes"][0])
        span = first.chain
        where = str(span[-1]) if span else str(first.span or "")
        self.feature(COLLAPSED)
        self.lines_nodes[did] = [node_stmt(did, {
            "id": did, "label": label, "shape": "box3d", "style": "filled",
            "fillcolor": self.t["clusters"][1],
            "tooltip": f"{where}\nblock {'/'.join(key)} (collapsed): {ops} ops, {total:,} params",
        })]  # fmt: skip

    def assemble(self, outs: list[str], order: list[str]) -> str:
        g, o, t = self.g, self.o, self.t
        font = self.font
        title = o["title"]
        if title is None:
            src = g.graph.get("source") or ""
            total = sum(param_count(g, n) for n in order)
            title = (f"{src}  ·  " if src else "") + params_text(total)
            # what the settings chose (compiler/choices.py): the drawing shows that choice only
            chosen = dict.fromkeys(f"{c.key} = {c.chosen}" for c in g.graph.get("choices", ()))
            title += "".join(f"  ·  {c}" for c in chosen)
        body: list[str] = []
        emit_cluster(self, (), body, "")  # first: it notes the legend's features (repeats)
        out = [
            "digraph seqnet {",
            "  graph "
            + attr_list({
                "id": "seqnet", "rankdir": o["rankdir"], "newrank": True, "compound": True,
                "fontname": font, "fontsize": "12", "fontcolor": t["fg"], "bgcolor": t["bg"],
                "label": graph_label(self, title), "labelloc": "t", "labeljust": "c",
                "nodesep": "0.3", "ranksep": "0.35",
                "outputorder": "edgesfirst", "tooltip": title or "seqnet",
            })
            + ";",
            "  node " + attr_list({"fontname": font, "fontsize": "10", "color": t["fg"],
                                   "fontcolor": t["fg"] if o["theme"] == "light" else "#f0f0f0",
                                   "penwidth": "1", "margin": "0.08,0.04"}) + ";",
            "  edge " + attr_list({"fontname": font, "fontsize": "8", "color": t["edge"],
                                   "fontcolor": t["muted"], "arrowsize": "0.7"}) + ";",
        ]  # fmt: skip
        out += body
        for n in order:  # nodes their rules draw beside another (a wormhole gate by its source)
            nid = self.ids.get(n)
            if nid not in self.lines_nodes:
                continue
            partner = self.rule(n).rank_partner(g, n, ir_node(g, n))
            src = self.ids.get(partner) if partner is not None else None
            if src in self.lines_nodes and src != nid:
                out.append(f"  {{rank=same; {quote(src)} {quote(nid)}}}")
        ins = [self.ids[n] for n in g.graph.get("inputs", []) if n in self.ids]
        if ins:
            out.append("  {rank=min; " + " ".join(quote(i) for i in ins) + "}")
        if outs:
            out.append("  {rank=max; " + " ".join(quote(i) for i in outs) + "}")
        out += self.edges
        out.append("}")
        return "\n".join(out) + "\n"
