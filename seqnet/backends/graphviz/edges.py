"""Edges between drawn nodes: tensor-type labels, junctions where a fan-out enters a block, the
"next copy" carries of a repeat, and back-edges (drawn by the source node's rule).

Functions here take the canvas (canvas.Canvas) the nodes were drawn on. Edges are collected
first as `pending` items, so that a fan-out into a block can share one junction inside it:
("edge", du, dv, label, tooltip) | ("carry", du, dv) | ("back", du, dv, source node, e).
"""

from __future__ import annotations

from seqnet.backends.graphviz.dot_syntax import edge_stmt, node_stmt
from seqnet.backends.graphviz.legend import Mark
from seqnet.compiler.ir import node as ir_node
from seqnet.compiler.ops.registry import OPS

CARRY = Mark("carry", "··▶", "into next copy")


def port_name(g, node: str, port: int) -> str:
    """An output port's name from the op's definition (`state` of an lstm), else `out<port>`."""
    d = OPS.get(ir_node(g, node).op)
    return (d.outputs[port] if d and port < len(d.outputs) else f"out{port}").rstrip(".")


def port_label(c, node: str, port: int, typ) -> str | None:
    if not c.o["show_shapes"]:
        return None
    text = c.type_text(typ)
    if port or len(ir_node(c.g, node).outputs) > 1:
        text = f"{port_name(c.g, node, port)}: {text}"
    return text


def output_port_name(c, node: str, port: int) -> str | None:
    """The edge into an output node is labelled only with the port's name, when the source
    has several outputs: the output node itself shows the type."""
    if not c.o["show_shapes"] or len(ir_node(c.g, node).outputs) < 2:
        return None
    return port_name(c.g, node, port)


def edge_label(c, u: str, v: str, e: dict) -> str | None:
    """The tensor type on the edge, with the output port's name when the source has several
    and the argument's name when it is not the consumer's main input (`→ initial`). Edges
    out of a node whose rule says it shows its type itself (a spec input) carry none."""
    if not c.o["show_shapes"] or not c.rule(u).labels_outputs:
        return None
    typ = e.get("type") or ir_node(c.g, u).outputs[e.get("port", 0)]
    text = port_label(c, u, e.get("port", 0), typ)
    d = OPS.get(ir_node(c.g, v).op)
    arg = e.get("arg")
    if d is not None and arg and c.rule(v).names_args:
        tensors = [a.name for a in d.args if a.kind == "tensor"]
        if len(tensors) > 1 and arg != tensors[0]:
            text += f"\n→ {arg}"
    return text


def edge_tooltip(u: str, v: str, e: dict) -> str:
    typ = e.get("type")
    return f"{u} → {v}.{e.get('arg', '')}: {typ}" if typ is not None else f"{u} → {v}"


def ancestors(c, did: str) -> list[tuple]:
    """The cluster keys around a display node, outermost first (the root excluded)."""
    key = c.where.get(did, ())
    return [key[:i] for i in range(1, len(key) + 1) if key[:i] in c.clusters]


def junctions(c, pending: list[tuple]) -> dict:
    """Fan-outs into a block: when one source feeds two or more nodes of a cluster it is not
    in, its edge enters the cluster once, at a junction point in the innermost cluster holding
    all of them, and branches there. Otherwise dot routes every branch around the outside of
    the cluster (a residual edge bending out of its block) and lets them cross.
    Returns {(du, label, entered cluster): (junction id, cluster key, [dv, ...])}."""
    groups: dict = {}
    for item in pending:
        if item[0] != "edge":
            continue
        _, du, dv, label, _tip = item
        outer = set(ancestors(c, du))
        entered = next((k for k in ancestors(c, dv) if k not in outer), None)
        if entered is None:
            continue
        groups.setdefault((du, label, entered), []).append(dv)
    out = {}
    for (du, label, entered), heads in groups.items():
        if len(heads) < 2:
            continue
        common = [k for k in ancestors(c, heads[0]) if all(
            k in ancestors(c, h) for h in heads[1:])]  # fmt: skip
        home = common[-1] if common else entered
        jid = c.new_id(f"{du}__into__{'_'.join(home)}")
        c.clusters[home].items.insert(0, ("node", jid))
        c.where[jid] = home
        c.lines_nodes[jid] = [node_stmt(jid, {
            "id": jid, "label": "", "shape": "point", "width": "0.07",
            "color": c.t["edge"], "fillcolor": c.t["edge"],
            "tooltip": f"{du} feeds {len(heads)} nodes of {'/'.join(home)}",
        })]  # fmt: skip
        out[(du, label, entered)] = (jid, home, heads)
    return out


def emit_edges(c, pending: list[tuple]) -> None:
    """The pending edges as DOT lines, in order, through the junctions they share."""
    found = junctions(c, pending)
    by_edge = {}
    for (du, label, _entered), (jid, _home, heads) in found.items():
        for dv in heads:
            by_edge[(du, dv, label)] = jid
    heads_of = {frozenset(heads): jid for jid, _h, heads in found.values()}
    done: set = set()
    carries: dict = {}  # du -> [dv, ...]
    for item in pending:
        if item[0] == "carry":
            carries.setdefault(item[1], []).append(item[2])
    first_carry = True
    for item in pending:
        kind = item[0]
        if kind == "back":
            _, du, dv, u, e = item
            c.rule(u).back_edge(c, c.exit[du], c.entry[dv], e)
        elif kind == "carry":
            du = item[1]
            if du in done:
                continue
            done.add(du)
            jid = heads_of.get(frozenset(carries[du]))
            targets = [jid] if jid else [c.entry[dv] for dv in carries[du] if dv != du]
            for tgt in targets:
                emit_carry(c, c.exit[du], tgt, first_carry)
                first_carry = False
        else:
            _, du, dv, label, tip = item
            jid = by_edge.get((du, dv, label))
            if jid is None:
                c.edges.append(edge_stmt(c.exit[du], c.entry[dv], {"label": label, "tooltip": tip}))
                continue
            if jid not in done:
                done.add(jid)
                c.edges.append(edge_stmt(c.exit[du], jid,
                                         {"label": label, "arrowhead": "none", "tooltip": tip}))  # fmt: skip
            c.edges.append(edge_stmt(jid, c.entry[dv], {"tooltip": tip}))


def emit_carry(c, src: str, dst: str, first: bool) -> None:
    """A repeat copy's output into the next copy's input, round the side of the repeat."""
    c.feature(CARRY)
    # Round the side, not through the body: east in TB; in LR over the top, clear of the
    # residual edges that run along the block's upper side (its label by the arrowhead, so
    # the arc stays as low as graphviz can make it).
    tb = c.o["rankdir"] == "TB"
    port = "e" if tb else "n"
    label = "next copy" if first else None
    c.edges.append(edge_stmt(src, dst, {
        "label": label if tb else None, "headlabel": None if tb else label,
        "labelangle": None if tb or not first else "-30",
        "labeldistance": None if tb or not first else "3",
        "style": "dotted", "penwidth": "1.3",
        "color": c.t["carry"], "fontcolor": c.t["carry"], "constraint": False,
        "tailport": port, "headport": port,
        "tooltip": "feeds the next repeat copy",
    }))  # fmt: skip
