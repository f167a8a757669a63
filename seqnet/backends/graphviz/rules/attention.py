"""2-simplicial attention (Clift et al.): the label spells out its 1- and 2-simplices."""

from __future__ import annotations

from seqnet.backends.graphviz.rules.base import BACKEND, NodeRule
from seqnet.compiler.graph import output_type
from seqnet.compiler.ir import Node
from seqnet.compiler.ops.catalog import register_drawing


class SimplicialRule(NodeRule):
    shown_elsewhere = ("virtual", "window", "variant")

    def extra_lines(self, c, n: str, data: Node) -> list[str]:
        a = data.attrs
        ref = data.args[0][1]
        e = output_type(c.g, ref)
        ents = str(e.shape[0]) if e.rank else "N"
        m = a.get("virtual", 0)
        lines = []
        if m:
            lines.append(f"1-simplicial: {ents} + {m} virtual entities")
            lines.append(f"2-simplicial: i → (j, k), {m}×{m} virtual")
        else:
            w = a.get("window", 0)
            pairs = f"window {w}" if w else f"all {ents}×{ents} pairs"
            lines.append(f"1-simplicial: {ents} entities → keys")
            lines.append(f"2-simplicial: i → (j, k), {pairs}")
        lines.append(f"⟨p_i, l¹_j, l²_k⟩, {a.get('variant', 'triple')}")
        return lines


register_drawing("simplicial_attention", BACKEND)(SimplicialRule())
