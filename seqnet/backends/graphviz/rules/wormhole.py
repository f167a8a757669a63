"""Wormholes (`wormhole h3 -> h1`): the gate node sits beside the node it reads, and its back-edge
into the target is drawn dashed and red, labelled with the solver's settings."""

from __future__ import annotations

from seqnet.backends.graphviz.dot_syntax import edge_stmt
from seqnet.backends.graphviz.labels import fmt_value
from seqnet.backends.graphviz.legend import Mark
from seqnet.backends.graphviz.rules.base import BACKEND, NodeRule
from seqnet.compiler.ir import Node
from seqnet.compiler.ops.catalog import register_drawing

WORMHOLE = Mark("wormhole", "- - ▶", "wormhole (back-edge)")


class WormholeGateRule(NodeRule):
    def rank_partner(self, g, n: str, data: Node) -> str | None:
        return data.args[0][1][0]  # the later node h_b it reads: the loop stays short

    def back_edge(self, c, src: str, dst: str, e: dict) -> None:
        c.feature(WORMHOLE)
        s = e.get("settings") or {}
        tol = f"tol={fmt_value(s.get('tol', '?'))}"
        if s.get("rtol"):
            tol += f", rtol={fmt_value(s['rtol'])}"
        label = f"wormhole: gate={s.get('gate', '?')}\n{tol}, max_iter={s.get('max_iter', '?')}"
        port = "e" if c.o["rankdir"] == "TB" else "s"
        c.edges.append(edge_stmt(src, dst, {
            "label": label, "color": c.t["wormhole"], "fontcolor": c.t["wormhole"],
            "style": "dashed", "penwidth": "1.6", "constraint": False,
            "tailport": port, "headport": port,
            "tooltip": f"{e.get('span') or ''}\nwormhole (back-edge): "
            + ", ".join(f"{k}={fmt_value(v)}" for k, v in s.items()),
        }))  # fmt: skip


register_drawing("wormhole_gate", BACKEND)(WormholeGateRule())
