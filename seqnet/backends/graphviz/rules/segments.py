"""Segment structures (`segments tree = binary_tree(N) {...}`): the fusion encoder network drawn
as its tree, in a cluster of its own.

The tokens form one strip of cells, each feeding its token encoder; fusion encoders join
segments bottom-up; the decoder reads the root with the two empty segments (zeros) beside it. A
tree wider than `max_leaves` is drawn with its deeper subtrees as ellipses. A table beside the
decoder lists the three regions (token, fusion, decoder) with their copies and parameters.
"""

from __future__ import annotations

from seqnet.backends.graphviz.dot_syntax import (
    Html,
    attr_list,
    edge_stmt,
    html_text,
    node_stmt,
    quote,
)
from seqnet.backends.graphviz.labels import clip, count, op_summary, params_text, wrap
from seqnet.backends.graphviz.legend import Mark
from seqnet.backends.graphviz.rules.base import BACKEND, NodeRule
from seqnet.compiler.graph import param_count, topo_order
from seqnet.compiler.ir import Node
from seqnet.compiler.ir import node as ir_node
from seqnet.compiler.ops.catalog import register_drawing

ELLIPSIS = Mark("muted", "⋯", "subtree not drawn")
ROLES = ("token", "fusion", "decoder")


def region_text(regions: dict, role: str) -> str:
    """A region's ops in order, `concat → dense 16, relu` (its inputs left out)."""
    r = regions.get(role)
    if r is None:
        return ""
    inputs = set(r.graph.get("inputs", ()))
    return " → ".join(op_summary(ir_node(r, x).op, ir_node(r, x).attrs)
                      for x in topo_order(r) if x not in inputs)  # fmt: skip


def region_params(regions: dict, role: str) -> int:
    r = regions.get(role)
    return 0 if r is None else sum(param_count(r, x) for x in r.nodes)


def visible_tree(nn: int, splits: dict, max_leaves) -> tuple[list, set]:
    """The drawn part of the tree: segments expanded breadth-first while at most max_leaves are
    visible. Returns the visible leaves (segments, in token order) and the expanded segments."""
    limit = max(2, int(max_leaves))
    frontier = [(1, nn)] if nn else []
    expanded: set = set()
    changed = True
    while changed:
        changed = False
        nxt = []
        for i, (lo, hi) in enumerate(frontier):
            if lo < hi and (lo, hi) in splits and len(nxt) + (len(frontier) - i) + 1 <= limit:
                s = splits[(lo, hi)]
                expanded.add((lo, hi))
                nxt += [(lo, s), (s + 1, hi)]
                changed = True
            else:
                nxt.append((lo, hi))
        frontier = nxt
    return frontier, expanded


class SegmentsRule(NodeRule):
    def draw(self, c, n: str, nid: str, data: Node) -> None:
        _Tree(c, n, nid, data).draw()


class _Tree:
    """One segment structure being drawn: its nodes go into `lines` (the cluster's body)."""

    def __init__(self, c, n: str, nid: str, data: Node):
        self.c, self.n, self.nid, self.data = c, n, nid, data
        a = data.attrs
        self.st = a.get("structure")
        self.share = a.get("share")
        self.regions = data.regions or {}
        c.family("mechanism")
        c.family("io")
        self.fam_fill = c.style("mechanism")[1]
        self.io_fill = c.style("io")[1]
        self.nn = self.st.n if self.st is not None else 0
        self.splits = dict(self.st.splits) if self.st is not None else {}
        for lo, hi, s in getattr(self.st, "vertices", ()) or ():
            self.splits[(lo, hi)] = s
        self.span = str(data.span or "")
        self.tb = c.o["rankdir"] == "TB"
        self.lines: list[str] = []

    def add(self, suffix: str, label: str, tooltip: str, **kw) -> str:
        sid = self.c.new_id(f"{self.nid}__{suffix}")
        style = kw.pop("style", "filled,rounded")
        self.lines.append(node_stmt(sid, {
            "id": sid, "label": label, "shape": kw.pop("shape", "box"), "style": style,
            "fillcolor": kw.pop("fillcolor", self.fam_fill), "tooltip": tooltip, **kw,
        }, indent="    "))  # fmt: skip
        return sid

    def edge(self, src: str, dst: str, attrs: dict) -> None:
        self.c.edges.append(edge_stmt(src, dst, attrs))

    def same_rank(self, ids: list[str]) -> None:
        """Side by side in this order (reversed in LR, which lays a rank out bottom to top)."""
        if not self.tb:
            ids = ids[::-1]
        self.lines.append("    {rank=same; " + " ".join(quote(x) for x in ids) + "}")
        self.lines.append("    " + " -> ".join(quote(x) for x in ids) + " [style=invis];")

    def draw(self) -> None:
        c, nn, splits, span = self.c, self.nn, self.splits, self.span
        token_txt = region_text(self.regions, "token")
        fusion_txt = region_text(self.regions, "fusion")
        frontier, expanded = visible_tree(nn, splits, c.o["max_leaves"])
        entry = self.token_strip(frontier)
        ids: dict = {}
        # leaves and ellipses first (in token order), then fusion vertices bottom-up
        for i, (lo, hi) in enumerate(frontier):
            if lo == hi:
                ids[(lo, hi)] = self.add(f"t{lo}", f"token enc\nx{lo}",
                                         f"{span}\ntoken encoder on x{lo}: {token_txt}")  # fmt: skip
            else:
                c.feature(ELLIPSIS)
                ids[(lo, hi)] = self.add(
                    f"e{lo}_{hi}", f"⋯\n[{lo}..{hi}]\n{hi - lo + 1} tokens",
                    f"subtree over x{lo}..x{hi} ({hi - lo + 1} tokens) not drawn",
                    style="dashed", fillcolor="none", shape="box",
                )  # fmt: skip
            self.edge(entry, ids[(lo, hi)],
                      {"tailport": f"p{i}:{'s' if self.tb else 'e'}", "arrowsize": "0.5"})  # fmt: skip
        for lo, hi in sorted(expanded, key=lambda s: (s[1] - s[0], s[0])):
            s = splits[(lo, hi)]
            lvl = f", level {self.st.level((lo, hi))}" if self.share == "per_level" else ""
            ids[(lo, hi)] = self.add(
                f"f{lo}_{hi}", f"fusion [{lo}..{hi}]\nsplit {s}{lvl}",
                f"{span}\nfusion encoder of segment ({lo}, {hi}) split at {s}: {fusion_txt}",
            )  # fmt: skip
            for child in ((lo, s), (s + 1, hi)):
                if child in ids:
                    self.edge(ids[child], ids[(lo, hi)], {"tooltip": f"segment {child}"})
        # the final network's decoder: omega_(1,N)(0, eps(1,N), 0); prefix eps(1,0) and suffix
        # eps(N+1,N) are the empty segments, i.e. zero (mechanisms.md section 1)
        dec_txt = region_text(self.regions, "decoder")
        dec = self.add("decoder", f"decoder ω(1,{nn})\n{wrap(dec_txt)}",
                       f"{span}\noutput decoder ω(1,{nn})(0, ε(1,{nn}), 0): {dec_txt}")  # fmt: skip
        if frontier:
            self.decoder_inputs(ids[(1, nn)], dec)
        s_note = self.segment_list() if c.o["show_segments"] and self.st is not None else None
        # the regions table sits beside the decoder, in its rank: nothing is routed through a
        # node, so no edge crosses it (in the cluster's label, the entering edge ran over it)
        tab = c.new_id(f"{self.nid}__regions")
        self.lines.append(node_stmt(tab, {"id": tab, "label": self.regions_table(),
                                          "shape": "plaintext", "fontsize": "8"}, indent="    "))  # fmt: skip
        self.same_rank([tab, dec] + ([s_note] if s_note else []))  # the list S on the other side
        self.close(entry, dec)

    def token_strip(self, frontier: list) -> str:
        """The tokens as one strip of cells, each feeding its own token encoder straight below it
        (one port per cell: no fan of crossing curves, and the leaves keep their order)."""
        cells = []
        for i, (lo, hi) in enumerate(frontier):
            text = f"x{lo}" if lo == hi else f"x{lo}…x{hi}"
            # about one leaf apart, so each edge drops straight to its encoder
            size = 'WIDTH="78"' if self.tb else 'HEIGHT="56"'
            cells.append(f'<TD PORT="p{i}" {size}>{html_text(text)}</TD>')
        sep = "" if self.tb else "</TR><TR>"
        strip = Html(
            '<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="3" '
            f'BGCOLOR="{self.io_fill}"><TR>' + sep.join(cells or ["<TD>x</TD>"]) + "</TR></TABLE>"
        )  # fmt: skip
        entry = self.c.new_id(f"{self.nid}__tokens")
        self.lines.append(node_stmt(entry, {
            "id": entry, "label": strip, "shape": "plaintext", "fontsize": "9",
            "tooltip": f"{self.span}\nthe {self.nn} tokens x1 … x{self.nn} of x",
        }, indent="    "))  # fmt: skip
        return entry

    def decoder_inputs(self, root_id: str, dec: str) -> None:
        """The root segment and the two empty segments (prefix, suffix) into the decoder."""
        nn = self.nn
        zeros = []
        for role, seg in (("prefix", "ε(1,0)"), ("suffix", f"ε({nn + 1},{nn})")):
            z = self.add(f"{role}_zero", "0", f"{role} {seg} = 0: the empty segment",
                         shape="circle", style="filled,dashed", fillcolor=self.io_fill,
                         width="0.3", fixedsize=True, fontsize="9")  # fmt: skip
            zeros.append(z)
            self.edge(z, dec, {"label": f"{role} {seg}", "style": "dashed",
                               "tooltip": f"{role}: the empty segment {seg} encodes to 0"})  # fmt: skip
        self.edge(root_id, dec, {"label": f"ε(1,{nn})", "tooltip": f"segment {(1, nn)}"})
        self.same_rank([zeros[0], root_id, zeros[1]])  # the prefix on top in LR

    def regions_table(self) -> Html:
        """The regions as a table: role, ops, copies, parameters."""
        rows = [
            '<TR><TD ALIGN="LEFT"><B>region</B></TD><TD ALIGN="LEFT"><B>ops</B></TD>'
            '<TD><B>copies</B></TD><TD ALIGN="RIGHT"><B>params</B></TD></TR>'
        ]
        for role in ROLES:
            if role in self.regions:
                copies = self.regions[role].graph.get("copies", 1)
                params = region_params(self.regions, role) * copies
                rows.append(
                    f'<TR><TD ALIGN="LEFT">{html_text(role)}</TD><TD ALIGN="LEFT">'
                    f"{html_text(clip(region_text(self.regions, role), 40))}</TD><TD>{copies}</TD>"
                    f'<TD ALIGN="RIGHT">{html_text(count(params))}</TD></TR>'
                )
        return Html('<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="3">'
                    + "".join(rows) + "</TABLE>")  # fmt: skip

    def segment_list(self) -> str:
        """A note listing the full segment set S, each segment with its split point."""
        segs, splits = self.st.segments, self.splits
        chunks = []
        for i in range(0, len(segs), 6):
            chunks.append("  ".join(
                f"({a_},{b_})" + (f"|{splits[(a_, b_)]}" if (a_, b_) in splits else "")
                for a_, b_ in segs[i : i + 6]))  # fmt: skip
        text = f"S: {len(segs)} segments, (i,j)|split\\l" + "\\l".join(chunks) + "\\l"
        sid = self.c.new_id(f"{self.nid}__S")
        self.lines.append(f"    {quote(sid)} [id={quote(sid)}, shape=note, fontsize=8, "
                          f"style=filled, fillcolor={quote(self.io_fill)}, label=\"{text}\"];")  # fmt: skip
        return sid

    def close(self, entry: str, dec: str) -> None:
        """The cluster around it all, titled with the statement's name, kind, N and sharing."""
        c, data, nid = self.c, self.data, self.nid
        kind = getattr(self.st, "kind", "custom")
        name = data.structure_name or data.label or self.n
        title = f"segments {name} = {kind}(N={self.nn})"
        title += f"  ·  share={self.share}" if self.share else ""
        if c.o["show_params"]:
            title += f"  ·  {params_text(param_count(c.g, self.n))}"
        c.lines_nodes[nid] = [
            f"  subgraph {quote('cluster_' + nid)} {{",
            "    graph " + attr_list({
                "id": "cluster_" + nid, "label": title, "style": "rounded,filled",
                "fillcolor": c.t["segments_fill"], "color": c.t["cluster_line"],
                "tooltip": f"{self.span}\nsegment structure {kind} over {self.nn} tokens",
            }) + ";",
            *self.lines,
            "  }",
        ]  # fmt: skip
        c.entry[nid], c.exit[nid] = entry, dec


register_drawing("segments", BACKEND)(SegmentsRule())
