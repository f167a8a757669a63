"""Block and repeat clusters: which cluster a node is drawn in, copy 0 standing for every copy of
a repeat, and the clusters' DOT text.

A repeat is drawn once, as its copy 0. Everything a cluster's title says about parameters is
about what the cluster shows: one copy. A repeat with its own weights per copy says how many
copies there are ("3 × 1,072 params"); a shared repeat has one set ("1,072 params").
"""

from __future__ import annotations

from seqnet.backends.graphviz.dot_syntax import attr_list, quote, sanitize
from seqnet.backends.graphviz.labels import params_text
from seqnet.backends.graphviz.legend import Mark
from seqnet.compiler.ir import Node

REPEAT = Mark("repeat_line", "▭", "repeat, drawn once")


class Cluster:
    __slots__ = ("key", "kind", "name", "count", "shared", "items", "params", "depth")

    def __init__(self, key, kind, name, count_=1, shared=False, depth=0):
        self.key, self.kind, self.name = key, kind, name
        self.count, self.shared, self.depth = count_, shared, depth
        self.items: list = []  # ("node", id) | ("cluster", key), in order of first appearance
        self.params = 0  # parameters owned by the nodes it shows: copy 0 of any repeat around it

    def title(self) -> str:
        if self.kind == "repeat":
            return f"repeat ×{self.count}" + (", shared" if self.shared else "")
        return self.name

    def params_label(self) -> str:
        """The parameters of what the cluster shows; a repeat with weights per copy, times its
        copies (its nodes show one copy's)."""
        if self.kind == "repeat" and not self.shared and self.count > 1:
            return f"{self.count} × {params_text(self.params)}"
        return params_text(self.params)


def levels(data: Node) -> list[tuple]:
    """The cluster chain of a node: [(key, kind, name, count, shared), ...] outermost first.
    A key is the node's block path up to that level; a repeat's level keeps the copy index."""
    groups = {r[0]: (r[2], r[3]) for r in data.repeats}
    path = data.path
    out, i = [], 0
    while i < len(path):
        p = path[i]
        if p in groups and i + 1 < len(path) and path[i + 1].isdigit():
            out.append((tuple(path[: i + 2]), "repeat", p, *groups[p]))
            i += 2
        else:
            out.append((tuple(path[: i + 1]), "block", p, 1, False))
            i += 1
    return out


def canonical(g, name: str, data: Node) -> str:
    """The copy-0 twin of a node in a later repeat copy (the node itself when it has none)."""
    reps = data.repeats
    if all(r[1] == 0 for r in reps):
        return name
    path = list(data.path)
    new = path[:]
    for group, index, _count, _shared in reps:
        if index == 0:
            continue
        for i in range(len(new) - 1):
            if new[i] == group and new[i + 1] == str(index):
                new[i + 1] = "0"
                break
    prefix = "/".join(path)
    if prefix and name.startswith(prefix + "/"):
        cand = "/".join(new) + name[len(prefix) :]
        if cand in g:
            return cand
    return name


def crosses_copies(a: dict, b: dict) -> bool:
    """Whether an edge from node a to node b runs from one repeat copy into another."""
    ra = {r[0]: r[1] for r in a.repeats}
    for group, index, _c, _s in b.repeats:
        if group in ra and ra[group] != index:
            return True
    return False


def cluster_chain(clusters: dict, chain: list[tuple]) -> Cluster:
    """The innermost cluster of a chain from `levels`, made (in order) where it is new."""
    parent = clusters[()]
    for depth, (key, kind, name, cnt, shared) in enumerate(chain, 1):
        c = clusters.get(key)
        if c is None:
            c = clusters[key] = Cluster(key, kind, name, cnt, shared, depth)
            parent.items.append(("cluster", key))
        parent = c
    return parent


def emit_cluster(c, key: tuple, out: list[str], indent: str) -> None:
    """The DOT text of cluster `key`'s contents, nested clusters as subgraphs, into `out`.
    `c` is the canvas (canvas.Canvas) the nodes were drawn on."""
    for kind, ref in c.clusters[key].items:
        if kind == "node":
            for line in c.lines_nodes.get(ref, ()):
                out.append(indent + line)
            continue
        sub = c.clusters[ref]
        cid = "cluster_" + sanitize("/".join(ref))
        title = sub.title()
        if c.o["show_params"] and sub.params:
            title += f"  ·  {sub.params_label()}"
        if sub.kind == "repeat":
            attrs = {"label": title, "style": "rounded,filled,bold", "color": c.t["repeat_line"],
                     "fillcolor": c.t["repeat_fill"], "fontcolor": c.t["repeat_line"],
                     "penwidth": "1.6"}  # fmt: skip
            c.feature(REPEAT)
        else:
            attrs = {"label": title, "style": "rounded,filled", "color": c.t["cluster_line"],
                     "fillcolor": c.t["clusters"][sub.depth % 2]}  # fmt: skip
        if c.o["rankdir"] == "LR" and any(
            c.clusters.get(ref[:i]) is not None and c.clusters[ref[:i]].kind == "repeat"
            for i in range(1, len(ref) + 1)
        ):  # the "next copy" arc runs over the top of a repeat: its titles go underneath
            attrs["labelloc"] = "b"
        attrs["id"] = cid
        inner = indent + "  "
        out.append(f"{inner}subgraph {quote(cid)} {{")
        out.append(f"{inner}  graph {attr_list(attrs)};")
        emit_cluster(c, ref, out, inner)
        out.append(f"{inner}}}")
