"""Colouring nodes by how their parameters are split over the device mesh (`color_by="sharding"`):
one colour per set of mesh axes a node's parameters use, from the compiler's sharding plan.

A node with no parameters is drawn plain; one whose parameters all stay whole is "replicated".
Mesh axes of size -1 are unknown to a drawing, so fsdp over one is drawn as it would split.
"""

from __future__ import annotations

from seqnet.compiler import sharding

# fills for the split kinds, in order of first use: (light, dark)
PALETTE = (("#fde0c5", "#6b4220"), ("#c9e4f5", "#1f4760"), ("#d9f2c7", "#2f5522"),
           ("#ecd5f5", "#4c2a5c"), ("#f9f3b8", "#5a5420"), ("#f5c9d0", "#5c2630"))  # fmt: skip
WHOLE = ("#dfe3e8", "#3b4048")
PLAIN = ("#ffffff", "#262626")


class SplitColours:
    """The split kind of each node of a graph, and a fill per kind."""

    def __init__(self, g, theme: str):
        self.dark = theme == "dark"
        config = g.graph.get("train")
        self.kinds: dict[str, tuple[str, ...]] = {}
        if config is not None:
            sizes = sharding.resolve_mesh(config.mesh, None)  # None: a -1 axis, size unknown
            placements, _ = sharding.plan(g, config.sharding, sizes)
            for p in placements.values():  # p.node: the node itself, in a region or not
                axes = set(self.kinds.get(p.node, ())) | {a for a in p.spec if a is not None}
                self.kinds[p.node] = tuple(sorted(axes))
        self.used: list[tuple[str, ...]] = []

    def fill(self, node: str) -> str:
        """The node's fill; the kinds drawn are remembered for the legend."""
        kind = self.kinds.get(node)
        if kind is None:
            return PLAIN[self.dark]
        if kind not in self.used:
            self.used.append(kind)
        return self.colour(kind)

    def colour(self, kind: tuple[str, ...]) -> str:
        if not kind:
            return WHOLE[self.dark]
        split = [k for k in self.used if k]
        return PALETTE[split.index(kind) % len(PALETTE)][self.dark]

    def legend(self) -> list[tuple[str, str]]:
        """(text, fill) of every kind drawn: "replicated", "split over model", ..."""
        return [("replicated" if not k else "split over " + " x ".join(k), self.colour(k)) for k in self.used]
