"""Recurrent cells (rnn, lstm, gru, and a user cell's scan): a bold cell with a state loop, or unrolled over time steps.

The label says how the cell is scanned ("cell scanned over T steps") instead of listing mode and
steps in the summary; the loop edge says the state's size and the mode.
"""

from __future__ import annotations

import math

from seqnet.backends.graphviz.dot_syntax import attr_list, edge_stmt, node_stmt, quote
from seqnet.backends.graphviz.labels import clip, node_tooltip
from seqnet.backends.graphviz.legend import Mark
from seqnet.backends.graphviz.rules.base import BACKEND, NodeRule
from seqnet.backends.graphviz.rules.segments import region_text
from seqnet.compiler.graph import output_type
from seqnet.compiler.ir import Node
from seqnet.compiler.ops.catalog import register_drawing

STATE = Mark("state", "⟲", "recurrent state")


class RecurrentRule(NodeRule):
    """`parts` names the pieces of the carried state: ("h",) or, for an LSTM, ("h", "c"), whose
    state is twice the hidden size."""

    shown_elsewhere = ("mode", "steps", "return_state")
    bold = True

    def __init__(self, parts: tuple[str, ...] = ("h",)):
        self.parts = parts

    def steps(self, c, data: Node) -> tuple[str, int | None]:
        """The number of time steps as the label shows it (the sequence axis as written, or
        resolved), and as a number (None when unknown)."""
        a = data.attrs
        if a.get("mode") == "one_to_many":
            steps = a.get("steps")
            return str(steps), (int(steps) if isinstance(steps, int) else None)
        ref = data.args[0][1]
        x = output_type(c.g, ref)
        if not x.rank:
            return "T", None
        d = x.shape[0]
        return (str(d.value) if c.o["resolve_dims"] else str(d)), d.value

    def scan_line(self, c, data: Node) -> str:
        a = data.attrs
        steps = self.steps(c, data)[0]
        return f"cell scanned over {steps} steps" + (", reversed" if a.get("reverse") else "")

    def extra_lines(self, c, n: str, data: Node) -> list[str]:
        return [self.scan_line(c, data)]

    def state_size(self, attrs: dict) -> int:
        return len(self.parts) * attrs.get("hidden", 0)

    def draw(self, c, n: str, nid: str, data: Node) -> None:
        label, fill = self.box(c, n, nid, data)
        if c.o["unroll"]:
            self.unrolled(c, n, nid, data, label, fill)
            return
        c.lines_nodes[nid].append(self.state_loop(c, nid, data))

    def state_loop(self, c, nid: str, data: Node) -> str:
        c.feature(STATE)
        attrs = data.attrs
        size = f"state {self.state_size(attrs)}"
        if len(self.parts) > 1:
            size += f" = ({', '.join(self.parts)})"
        mode = attrs.get("mode", "many_to_many")
        op = data.op
        return edge_stmt(nid, nid, {
            "label": f"{size}\n{mode}", "color": c.t["state"], "fontcolor": c.t["state"],
            "penwidth": "1.6", "tooltip": f"recurrent state of {op}: {size}, mode {mode}",
            "headport": "ne", "tailport": "se",
        })  # fmt: skip

    def unrolled(self, c, n: str, nid: str, data: Node, label: str, fill: str) -> None:
        """The cell drawn over its first time steps: one cell per step (the same cell, the same
        parameters), the state passed from each to the next, '…' for the rest."""
        a = data.attrs
        op = data.op
        c.feature(STATE)
        parts = self.parts[0] if len(self.parts) == 1 else f"({', '.join(self.parts)})"
        state = f"{parts} {self.state_size(a)}"
        steps_text, total = self.steps(c, data)
        shown = c.o["unroll"] if total is None else min(c.o["unroll"], total)
        mode = a.get("mode", "many_to_many")
        tooltip = node_tooltip(c.g, n, data, self.summary(data))
        cells, lines = [], []
        for t in range(1, shown + 1):
            cid = nid if t == 1 else c.new_id(f"{nid}__t{t}")
            if t == 1:
                text = label.replace(self.scan_line(c, data), f"step t=1 of {steps_text}", 1)
            else:
                text = f"{op} t={t}"
            lines.append(node_stmt(cid, {
                "id": cid, "label": text, "shape": "box", "style": "filled,rounded,bold",
                "fillcolor": fill, "tooltip": tooltip,
            }, indent="    "))  # fmt: skip
            cells.append(cid)
        if total is None or total > shown:
            more = c.new_id(f"{nid}__more")
            rest = f"… t={shown + 1}..{steps_text}"
            lines.append(node_stmt(more, {"id": more, "label": rest, "shape": "plaintext"},
                                   indent="    "))  # fmt: skip
            cells.append(more)
        for u, v in zip(cells, cells[1:]):
            lines.append(edge_stmt(u, v, {
                "label": state, "color": c.t["state"], "fontcolor": c.t["state"],
                "penwidth": "1.6", "tooltip": f"{op} state carried to the next step",
            }, indent="    "))  # fmt: skip
        title = f"{data.label or n}: {op} unrolled ({mode})"
        c.lines_nodes[nid] = [
            f"  subgraph {quote('cluster_' + nid)} {{",
            "    graph " + attr_list({"id": "cluster_" + nid, "label": title,
                                      "style": "rounded,dashed", "color": c.t["state"],
                                      "fontcolor": c.t["state"]}) + ";",
            *lines,
            "  }",
        ]  # fmt: skip
        c.entry[nid], c.exit[nid] = cells[0], cells[-1]


class CellRule(RecurrentRule):
    """A user cell (`scan`): drawn like the built-in cells, with its state loop (or unrolled);
    the label lists the cell's ops, the loop says the state's shape."""

    shown_elsewhere = ("mode", "state", "reverse", "out_type")

    def extra_lines(self, c, n: str, data: Node) -> list[str]:
        region = data.regions["cell"]
        ops = len(region.nodes) - len(region.graph["inputs"])
        return [self.scan_line(c, data), f"cell {region.graph.get('cell', '')}: {ops} ops",
                clip(region_text(data.regions, "cell"), 40)]

    def state_size(self, attrs: dict) -> int:
        return math.prod(int(d) for d in attrs.get("state", ()))


register_drawing("scan", BACKEND)(CellRule(("state",)))
register_drawing("rnn", BACKEND)(RecurrentRule())
register_drawing("gru", BACKEND)(RecurrentRule())
register_drawing("lstm", BACKEND)(RecurrentRule(("h", "c")))
