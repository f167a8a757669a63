"""The default drawing rule, and the one default per op family.

A rule draws one IR node onto the canvas (canvas.Canvas): `draw` writes the node's DOT lines and
where edges attach; the other members answer what the builder asks about the node's edges and
rank. Rules for particular ops subclass NodeRule and override only what differs.
"""

from __future__ import annotations

from seqnet.backends.graphviz.dot_syntax import edge_stmt, node_stmt
from seqnet.backends.graphviz.labels import node_tooltip, op_summary, params_text, wrap
from seqnet.compiler.graph import param_count
from seqnet.compiler.ir import Node
from seqnet.compiler.ops.registry import OPS
from seqnet.compiler.ties import describe as describe_ties

BACKEND = "graphviz"  # the key of these rules in OpDef.drawings


class NodeRule:
    """A box (a circle for elementwise ops) in the family's colours: the spec variable's name,
    the op summary (wrapped, never clipped), any extra lines, and the parameters it owns."""

    shown_elsewhere: tuple[str, ...] = ()  # attributes `extra_lines` shows instead of the summary
    bold = False  # a bold outline (recurrent cells)
    names_args = True  # edges into the node say which argument they feed, past the first tensor
    labels_outputs = True  # edges out of the node carry their tensor type

    def family(self, data: Node) -> str:
        d = OPS.get(data.op)
        return d.family if d is not None else "io"

    def summary(self, data: Node) -> str:
        """The op and its attributes, for the tooltip."""
        return op_summary(data.op, data.attrs, whole=True)

    def extra_lines(self, c, n: str, data: Node) -> list[str]:
        """Label lines after the summary (what `shown_elsewhere` leaves out of it)."""
        return []

    def label(self, c, n: str, data: Node) -> str:
        lines = []
        name = data.label
        if name:
            lines.append(name)
        attrs = data.attrs
        lines.append(wrap(op_summary(data.op, attrs, skip=self.shown_elsewhere, whole=True)))
        lines += self.extra_lines(c, n, data)
        pc = param_count(c.g, n)
        if c.o["show_params"] and pc:
            lines.append(params_text(pc))
        elif data.param_owner != n:
            lines.append("shared params")
        if data.ties:
            lines.append(wrap("tied: " + describe_ties(data.ties)))
        return "\n".join(lines)

    def box(self, c, n: str, nid: str, data: Node) -> tuple[str, str]:
        """Draw the node as one DOT node; returns its label and fill colour."""
        c.entry[nid] = c.exit[nid] = nid
        fam = self.family(data)
        label = self.label(c, n, data)
        shape, fill = c.style(fam)
        if c.splits is None or fam == "io":  # inputs and outputs keep their colour
            c.family(fam)
        else:  # coloured by how the node's parameters split over the mesh
            fill = c.splits.fill(n)
        style = "filled,rounded" if shape == "box" else "filled"
        if self.bold:
            style += ",bold"
        if shape == "circle" and len(label) > 3:
            shape = "ellipse"  # a circle around a long label is mostly white space
        c.lines_nodes[nid] = [node_stmt(nid, {
            "id": nid, "label": label, "shape": shape, "style": style, "fillcolor": fill,
            "tooltip": node_tooltip(c.g, n, data, self.summary(data)),
        })]  # fmt: skip
        return label, fill

    def draw(self, c, n: str, nid: str, data: Node) -> None:
        """Draw IR node `n` (data: its attributes) as display id `nid`."""
        self.box(c, n, nid, data)

    def rank_partner(self, g, n: str, data: Node) -> str | None:
        """An IR node this one is drawn beside (in the same rank), or None."""
        return None

    def back_edge(self, c, src: str, dst: str, e: dict) -> None:
        """A back-edge out of this node (an IR edge with `wormhole` set), from DOT node `src` to
        `dst`: drawn dashed, and left out of the ranking so the forward flow stays straight."""
        c.edges.append(edge_stmt(src, dst, {
            "style": "dashed", "constraint": False, "tooltip": f"{e.get('span') or ''}\nback-edge",
        }))  # fmt: skip


class ElementwiseRule(NodeRule):
    """`a + b`: both operands are alike, so edges into it name no argument."""

    names_args = False


# The default rule of each op family (FAMILY_STYLES): a family without one here is an error the
# registry test reports, not a silently unstyled node.
FAMILY_RULES: dict[str, NodeRule] = {
    "io": NodeRule(),
    "dense": NodeRule(),
    "embedding": NodeRule(),
    "conv": NodeRule(),
    "activation": NodeRule(),
    "norm": NodeRule(),
    "regularization": NodeRule(),
    "elementwise": ElementwiseRule(),
    "shape": NodeRule(),
    "pool": NodeRule(),
    "attention": NodeRule(),
    "recurrent": NodeRule(),
    "mechanism": NodeRule(),
    "encoding": NodeRule(),
    "parameter": NodeRule(),
}
