"""The diagram being drawn: node ids, each drawn node's DOT lines, edges, clusters, and the
families and features the legend will list. The builder and the drawing rules write into it.
"""

from __future__ import annotations

from seqnet.backends.graphviz.clusters import Cluster
from seqnet.backends.graphviz.dot_syntax import sanitize
from seqnet.backends.graphviz.legend import Mark
from seqnet.backends.graphviz.rules.lookup import INPUT_RULE, rule_for_op
from seqnet.backends.graphviz.splits import SplitColours
from seqnet.backends.graphviz.themes import THEMES, default_font, family_style
from seqnet.compiler.ir import node as ir_node


class Canvas:
    """What a drawing rule may read and write.

    g, o, t: the graph IR, the checked options, the theme's colours. lines_nodes: display id ->
    DOT lines drawn in that node's place (a node, or a whole subgraph). edges: DOT edge lines.
    entry / exit: display id -> the DOT node an edge into / out of it attaches to (a segment
    structure is entered at its token strip and left at its decoder). clusters / where: the
    cluster tree and which cluster each display id sits in.
    """

    def __init__(self, g, opts: dict):
        self.g = g
        self.o = opts
        self.t = THEMES[opts["theme"]]
        self.font = opts["font"] or default_font()
        self.ids: dict[str, str] = {}
        self.used: set[str] = set()
        self.lines_nodes: dict[str, list[str]] = {}
        self.edges: list[str] = []
        self.families: list[str] = []
        self.features: list[Mark] = []
        self.entry: dict[str, str] = {}
        self.exit: dict[str, str] = {}
        self.clusters: dict[tuple, Cluster] = {(): Cluster((), "root", "")}
        self.where: dict[str, tuple] = {}
        self.inputs = frozenset(g.graph.get("inputs", ()))
        self.splits = SplitColours(g, opts["theme"]) if opts["color_by"] == "sharding" else None
        self.rules: dict[str, object] = {}  # op -> its drawing rule (looked up once)

    def rule(self, n: str):
        """The drawing rule of graph node `n`: the input rule for a spec input, else its op's."""
        if n in self.inputs:
            return INPUT_RULE
        op = ir_node(self.g, n).op
        r = self.rules.get(op)
        if r is None:
            r = self.rules[op] = rule_for_op(op)
        return r

    def new_id(self, name: str) -> str:
        """A fresh DOT id made from `name` (suffixed _2, _3, ... when taken)."""
        base = sanitize(name)
        nid, k = base, 2
        while nid in self.used:
            nid = f"{base}_{k}"
            k += 1
        self.used.add(nid)
        return nid

    def node_id(self, name: str) -> str:
        """The DOT id of graph node `name` (the same id every time it is asked for)."""
        nid = self.ids.get(name)
        if nid is None:
            nid = self.ids[name] = self.new_id(name)
        return nid

    def family(self, fam: str) -> None:
        if fam not in self.families:
            self.families.append(fam)

    def feature(self, mark: Mark) -> None:
        if mark not in self.features:
            self.features.append(mark)

    def style(self, fam: str) -> tuple[str, str]:
        return family_style(fam, self.o["theme"])

    def type_text(self, t) -> str:
        return t.resolved() if self.o["resolve_dims"] else str(t)
