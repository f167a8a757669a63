"""The graph IR as DOT text: styled op nodes, block clusters, repeats, wormholes, segment trees.

Everything is emitted in topological order (ties broken by creation order), so one spec always
gives byte-identical DOT. Node ids are sanitised node names, stable across runs, so tests and
scripts can find a node in the SVG by its id.
"""

from __future__ import annotations

import functools
import heapq
import re
import shutil
import subprocess
from html import escape as _html_escape

from seqnet.compiler.graph import param_count, topo_order
from seqnet.compiler.ops.registry import FAMILY_STYLES, OPS, load_ops

DEFAULTS = {
    "rankdir": "TB",
    "depth": None,
    "show_shapes": True,
    "resolve_dims": False,
    "theme": "light",
    "font": None,  # None: "DejaVu Sans" if installed, else "Helvetica"
    "show_params": True,
    "legend": True,
    "show_segments": False,
    "max_leaves": 16,
    "title": None,  # None: the spec's file name and total parameters
    "unroll": 0,  # draw recurrent cells unrolled over this many time steps (0: a cell + state loop)
}

THEMES = {
    "light": {
        "bg": "white", "fg": "#222222", "edge": "#555555", "muted": "#6b6b6b",
        "clusters": ("#f6f6f6", "#ececec"), "cluster_line": "#9a9a9a",
        "repeat_fill": "#eef4fc", "repeat_line": "#3b6fb6", "wormhole": "#d62728",
        "state": "#b35900", "carry": "#3b6fb6", "segments_fill": "#fbf2fb",
    },
    "dark": {
        "bg": "#1e1e1e", "fg": "#e6e6e6", "edge": "#b0b0b0", "muted": "#a0a0a0",
        "clusters": ("#262626", "#303030"), "cluster_line": "#6a6a6a",
        "repeat_fill": "#1f2a38", "repeat_line": "#7fa7e0", "wormhole": "#ff6b6b",
        "state": "#ffb366", "carry": "#7fa7e0", "segments_fill": "#2e2230",
    },
}  # fmt: skip

_MAX_LABEL = 44
_SHOWN_ELSEWHERE = {  # attributes a node label shows in its own line, not in the op summary
    "lstm": ("mode", "steps", "return_state"),
    "gru": ("mode", "steps", "return_state"),
    "rnn": ("mode", "steps", "return_state"),
    "simplicial_attention": ("virtual", "window", "variant"),
}
_WRAP = 30  # node label lines wrap at about this many characters


# --- small helpers ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def default_font() -> str:
    """ "DejaVu Sans" when fontconfig knows it (most Linux machines), else "Helvetica"."""
    if shutil.which("fc-list"):
        try:
            out = subprocess.run(
                ["fc-list", ":", "family"], capture_output=True, text=True, timeout=10
            ).stdout
        except (OSError, subprocess.SubprocessError):
            out = ""
        if "DejaVu Sans" in out:
            return "DejaVu Sans"
    return "Helvetica"


def _q(text) -> str:
    """A DOT double-quoted string; newlines become centred line breaks."""
    text = str(text).replace("\\", "\\\\").replace('"', '\\"')
    return '"' + text.replace("\n", "\\n") + '"'


def _attrs(items: dict) -> str:
    parts = []
    for k, v in items.items():
        if v is None:
            continue
        if isinstance(v, _Html):
            parts.append(f"{k}=<{v.text}>")
        elif isinstance(v, bool):
            parts.append(f"{k}={'true' if v else 'false'}")
        else:
            parts.append(f"{k}={_q(v)}")
    return "[" + ", ".join(parts) + "]"


class _Html:
    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text


def _h(text) -> str:
    return _html_escape(str(text), quote=True)


def count(n: int) -> str:
    """4242 -> "4,242"; 12345 -> "12.3k"; 2_500_000 -> "2.5M"."""
    if n < 10_000:
        return f"{n:,}"
    if n < 1_000_000:
        return f"{n / 1e3:.1f}k"
    if n < 1_000_000_000:
        return f"{n / 1e6:.1f}M"
    return f"{n / 1e9:.1f}G"


def _params_text(n: int) -> str:
    return f"{count(n)} param{'s' if n != 1 else ''}"


def _fmt_value(v) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (tuple, list)):
        return "(" + ", ".join(_fmt_value(x) for x in v) + ")"
    return str(v)


def _clip(text: str, n: int = _MAX_LABEL) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


_ID_BAD = re.compile(r"[^A-Za-z0-9_]")


def _sanitize(name: str) -> str:
    s = _ID_BAD.sub("_", name)
    if not s or s[0].isdigit():
        s = "n_" + s
    return s


def op_summary(op: str, attrs: dict, skip=(), clip: bool = True) -> str:
    """`dense 32, relu`: the op, its required attributes, and those changed from the default.

    `skip` names attributes the caller shows some other way; `clip=False` keeps the whole text
    (node labels wrap it with `_wrap` instead of cutting it off)."""
    d = OPS.get(op)
    if d is None:
        return op
    parts = []
    for a in d.attr_args:
        if a.kind == "any" or a.name not in attrs or a.name in skip:
            continue
        v = attrs[a.name]
        if a.required:
            parts.append(_fmt_value(v))
        elif v != a.default:
            parts.append(_fmt_value(v) if a.name == "act" else f"{a.name}={_fmt_value(v)}")
    text = op + (" " + ", ".join(parts) if parts else "")
    return _clip(text) if clip else text


def _wrap(text: str, width: int = _WRAP) -> str:
    """Break a one-line summary into lines of about `width` characters, only at ", " (kept at the
    end of a line) and " → " (the arrow starts the next line), never inside an attribute: long
    labels stay readable instead of being cut off."""
    if len(text) <= width:
        return text
    words, buf = [], ""
    for tok in re.split(r"(, | → )", text):
        if tok == ", ":
            words.append(buf + ",")
            buf = ""
        elif tok == " → ":
            words.append(buf)
            buf = "→ "
        else:
            buf += tok
    words.append(buf)
    lines, line = [], ""
    for w in (w for w in words if w):
        if line and len(line) + 1 + len(w) > width:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}" if line else w
    lines.append(line)
    return "\n".join(lines)


_CALLEE = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*\(")


def _callee(span) -> str | None:
    """The name a node was called by at its source span (`tree` in `tree(embed(x, E))`): for a
    segment structure, the name of its `segments` statement, which the IR does not store."""
    try:
        text = span.source.line(span.line)
    except (AttributeError, IndexError, TypeError, ValueError):
        return None
    m = _CALLEE.match(text[max(span.column - 1, 0) :])
    return m.group(1) if m else None


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


# --- the builder -----------------------------------------------------------------------------


class _Cluster:
    __slots__ = ("key", "kind", "name", "count", "shared", "items", "params", "ops", "depth")

    def __init__(self, key, kind, name, count_=1, shared=False, depth=0):
        self.key, self.kind, self.name = key, kind, name
        self.count, self.shared, self.depth = count_, shared, depth
        self.items: list = []  # ("node", id) | ("cluster", key), in order of first appearance
        self.params = 0
        self.ops = 0  # IR nodes inside, all copies

    def title(self) -> str:
        if self.kind == "repeat":
            return f"repeat ×{self.count}" + (", shared" if self.shared else "")
        return self.name


class _Builder:
    def __init__(self, g, opts: dict):
        load_ops()
        self.g = g
        self.o = opts
        self.t = THEMES[opts["theme"]]
        self.font = opts["font"] or default_font()
        self.ids: dict[str, str] = {}
        self.used: set[str] = set()
        self.lines_nodes: dict = {}  # display id -> list of DOT lines
        self.edges: list[str] = []
        self.families: list[str] = []
        self.features: list[str] = []
        self.entry: dict[str, str] = {}
        self.exit: dict[str, str] = {}
        self.clusters: dict[tuple, _Cluster] = {(): _Cluster((), "root", "")}
        self.where: dict[str, tuple] = {}  # display id -> key of the cluster it is drawn in

    # ids
    def new_id(self, name: str) -> str:
        base = _sanitize(name)
        nid, k = base, 2
        while nid in self.used:
            nid = f"{base}_{k}"
            k += 1
        self.used.add(nid)
        return nid

    def node_id(self, name: str) -> str:
        nid = self.ids.get(name)
        if nid is None:
            nid = self.ids[name] = self.new_id(name)
        return nid

    def family(self, fam: str) -> None:
        if fam not in self.families:
            self.families.append(fam)

    def feature(self, f: str) -> None:
        if f not in self.features:
            self.features.append(f)

    def style(self, fam: str):
        shape, light, dark = FAMILY_STYLES.get(fam, FAMILY_STYLES["io"])
        return shape, (light if self.o["theme"] == "light" else dark)

    def type_text(self, t) -> str:
        return t.resolved() if self.o["resolve_dims"] else str(t)

    # repeats: every copy maps to its copy-0 twin
    def canonical(self, name: str, data: dict) -> str:
        reps = data.get("repeats") or ()
        if all(r[1] == 0 for r in reps):
            return name
        path = list(data.get("path") or ())
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
            if cand in self.g:
                return cand
        return name

    def levels(self, data: dict) -> list[tuple]:
        """The cluster chain of a node: [(key, kind, name, count, shared), ...] outermost first."""
        groups = {r[0]: (r[2], r[3]) for r in data.get("repeats") or ()}
        path = data.get("path") or ()
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

    def cluster_chain(self, chain: list[tuple]) -> _Cluster:
        parent = self.clusters[()]
        for depth, (key, kind, name, cnt, shared) in enumerate(chain, 1):
            c = self.clusters.get(key)
            if c is None:
                c = self.clusters[key] = _Cluster(key, kind, name, cnt, shared, depth)
                parent.items.append(("cluster", key))
            parent = c
        return parent

    # -- building
    def build(self) -> str:
        g, o = self.g, self.o
        order = fast_topo_order(g)
        depth = o["depth"]
        rep = {n: self.canonical(n, g.nodes[n]) for n in order}
        disp: dict[str, str] = {}  # canonical IR node -> display id
        collapsed: dict[tuple, dict] = {}

        # placement: which display node each canonical node becomes, and in which cluster
        for n in order:
            r = rep[n]
            data = g.nodes[r]
            chain = self.levels(data)
            if r != n:
                continue
            if depth is not None and len(chain) > depth:
                key = chain[depth][0]
                did = collapsed.get(key, {}).get("id")
                if did is None:
                    did = self.new_id("block_" + "/".join(key))
                    collapsed[key] = {"id": did, "level": chain[depth], "nodes": []}
                    self.cluster_chain(chain[:depth]).items.append(("node", did))
                    self.where[did] = chain[depth - 1][0] if depth else ()
                    self.entry[did] = self.exit[did] = did
                collapsed[key]["nodes"].append(n)
                disp[n] = did
            else:
                nid = self.node_id(n)
                disp[n] = nid
                self.cluster_chain(chain).items.append(("node", nid))
                self.where[nid] = chain[-1][0] if chain else ()
        # totals per cluster and per collapsed block: all copies, params owned
        for n in order:
            data = g.nodes[rep[n]]
            pc = param_count(g, n)
            for key, *_ in self.levels(data):
                c = self.clusters.get(key)
                if c is not None:
                    c.params += pc
                    c.ops += 1
                if key in collapsed:
                    info = collapsed[key]
                    info["params"] = info.get("params", 0) + pc
                    info["ops"] = info.get("ops", 0) + 1

        for info in collapsed.values():
            self.emit_collapsed(info)
        for n in order:
            if rep[n] == n and disp[n] == self.ids.get(n):
                self.emit_node(n, disp[n])

        # edges: collected first, so fan-outs into a block can share one junction inside it
        seen: set = set()
        # ("edge", du, dv, label, tooltip) | ("carry", du, dv) | ("wormhole", du, dv, e)
        pending: list[tuple] = []
        for v in order:
            for u, _, _k, e in g.in_edges(v, keys=True, data=True):
                ru, rv = rep[u], rep[v]
                du, dv = disp[ru], disp[rv]
                if e.get("wormhole"):
                    pending.append(("wormhole", du, dv, e))
                    continue
                if self.crosses_copies(g.nodes[u], g.nodes[v]):
                    if ("carry", du, dv) not in pending:  # du == dv kept: it picks the junction
                        pending.append(("carry", du, dv))
                    continue
                if du == dv:
                    continue
                label = self.edge_label(u, v, e)
                key = (du, dv, label)
                if key in seen:
                    continue
                seen.add(key)
                pending.append(("edge", du, dv, label, self.edge_tooltip(u, v, e)))
        self.emit_edges(pending)

        # outputs
        outs = []
        for name, (node, port) in g.graph.get("outputs", {}).items():
            oid = self.new_id("output_" + name)
            typ = g.nodes[node]["outputs"][port]
            span = g.graph.get("output_spans", {}).get(name)
            self.family("io")
            shape, fill = self.style("io")
            self.lines_nodes[oid] = [
                f"  {_q(oid)} "
                + _attrs({
                    "id": oid, "label": f"{name}\n{self.type_text(typ)}", "shape": "ellipse",
                    "peripheries": "2", "style": "filled,bold", "fillcolor": fill,
                    "tooltip": f"{span or ''}\noutput {name}: {typ}",
                })
                + ";"
            ]  # fmt: skip
            self.clusters[()].items.append(("node", oid))
            outs.append(oid)
            src = self.exit[disp[rep[node]]]
            self.edges.append(
                f"  {_q(src)} -> {_q(oid)} "
                + _attrs({"label": self.output_port_name(node, port), "penwidth": "1.4"})
                + ";"
            )
        return self.assemble(outs, order)

    def ancestors(self, did: str) -> list[tuple]:
        """The cluster keys around a display node, outermost first (the root excluded)."""
        key = self.where.get(did, ())
        return [key[:i] for i in range(1, len(key) + 1) if key[:i] in self.clusters]

    def junctions(self, pending: list[tuple]) -> dict:
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
            outer = set(self.ancestors(du))
            entered = next((k for k in self.ancestors(dv) if k not in outer), None)
            if entered is None:
                continue
            groups.setdefault((du, label, entered), []).append(dv)
        out = {}
        for (du, label, entered), heads in groups.items():
            if len(heads) < 2:
                continue
            common = [k for k in self.ancestors(heads[0]) if all(
                k in self.ancestors(h) for h in heads[1:])]  # fmt: skip
            home = common[-1] if common else entered
            jid = self.new_id(f"{du}__into__{'_'.join(home)}")
            self.clusters[home].items.insert(0, ("node", jid))
            self.where[jid] = home
            self.lines_nodes[jid] = [
                f"  {_q(jid)} "
                + _attrs({"id": jid, "label": "", "shape": "point", "width": "0.07",
                          "color": self.t["edge"], "fillcolor": self.t["edge"],
                          "tooltip": f"{du} feeds {len(heads)} nodes of {'/'.join(home)}"})
                + ";"
            ]  # fmt: skip
            out[(du, label, entered)] = (jid, home, heads)
        return out

    def emit_edges(self, pending: list[tuple]) -> None:
        junctions = self.junctions(pending)
        by_edge = {}
        for (du, label, _entered), (jid, _home, heads) in junctions.items():
            for dv in heads:
                by_edge[(du, dv, label)] = jid
        heads_of = {frozenset(heads): jid for jid, _h, heads in junctions.values()}
        done: set = set()
        carries: dict = {}  # du -> [dv, ...]
        for item in pending:
            if item[0] == "carry":
                carries.setdefault(item[1], []).append(item[2])
        first_carry = True
        for item in pending:
            kind = item[0]
            if kind == "wormhole":
                _, du, dv, e = item
                self.emit_wormhole(self.exit[du], self.entry[dv], e)
            elif kind == "carry":
                du = item[1]
                if du in done:
                    continue
                done.add(du)
                jid = heads_of.get(frozenset(carries[du]))
                targets = [jid] if jid else [self.entry[dv] for dv in carries[du] if dv != du]
                for tgt in targets:
                    self.emit_carry(self.exit[du], tgt, first_carry)
                    first_carry = False
            else:
                _, du, dv, label, tip = item
                jid = by_edge.get((du, dv, label))
                if jid is None:
                    self.edges.append(
                        f"  {_q(self.exit[du])} -> {_q(self.entry[dv])} "
                        + _attrs({"label": label, "tooltip": tip}) + ";"
                    )  # fmt: skip
                    continue
                if jid not in done:
                    done.add(jid)
                    self.edges.append(
                        f"  {_q(self.exit[du])} -> {_q(jid)} "
                        + _attrs({"label": label, "arrowhead": "none", "tooltip": tip}) + ";"
                    )  # fmt: skip
                self.edges.append(
                    f"  {_q(jid)} -> {_q(self.entry[dv])} " + _attrs({"tooltip": tip}) + ";"
                )

    def crosses_copies(self, a: dict, b: dict) -> bool:
        ra = {r[0]: r[1] for r in a.get("repeats") or ()}
        for group, index, _c, _s in b.get("repeats") or ():
            if group in ra and ra[group] != index:
                return True
        return False

    def port_label(self, node: str, port: int, typ) -> str | None:
        if not self.o["show_shapes"]:
            return None
        text = self.type_text(typ)
        if port or len(self.g.nodes[node].get("outputs") or ()) > 1:
            d = OPS.get(self.g.nodes[node]["op"])
            pname = d.outputs[port] if d and port < len(d.outputs) else f"out{port}"
            text = f"{pname.rstrip('.')}: {text}"
        return text

    def output_port_name(self, node: str, port: int) -> str | None:
        """The edge into an output node is labelled only with the port's name, when the source
        has several outputs: the output node itself shows the type."""
        if not self.o["show_shapes"] or len(self.g.nodes[node].get("outputs") or ()) < 2:
            return None
        d = OPS.get(self.g.nodes[node]["op"])
        return (d.outputs[port] if d and port < len(d.outputs) else f"out{port}").rstrip(".")

    def edge_label(self, u: str, v: str, e: dict) -> str | None:
        """The tensor type on the edge, with the output port's name when the source has several
        and the argument's name when it is not the consumer's main input (`→ initial`). Edges
        out of a spec input carry none: the input node already shows its type."""
        if not self.o["show_shapes"] or self.g.nodes[u]["op"] == "input":
            return None
        typ = e.get("type") or self.g.nodes[u]["outputs"][e.get("port", 0)]
        text = self.port_label(u, e.get("port", 0), typ)
        d = OPS.get(self.g.nodes[v]["op"])
        arg = e.get("arg")
        if d is not None and arg and d.family != "elementwise":
            tensors = [a.name for a in d.args if a.kind == "tensor"]
            if len(tensors) > 1 and arg != tensors[0]:
                text += f"\n→ {arg}"
        return text

    def edge_tooltip(self, u: str, v: str, e: dict) -> str:
        typ = e.get("type")
        return f"{u} → {v}.{e.get('arg', '')}: {typ}" if typ is not None else f"{u} → {v}"

    # -- nodes
    def node_tooltip(self, n: str, data: dict, summary: str) -> str:
        lines = [str(data["span"]) if data.get("span") is not None else "(no source)"]
        chain = data.get("chain") or ()
        if chain:
            lines.append("called from " + ", ".join(str(s) for s in chain))
        lines.append(f"{data['op']}: {summary}  [{n}]")
        ins = []
        for _arg, ref in data.get("args") or ():
            refs = ref if ref and isinstance(ref[0], tuple) else (ref,)
            for r in refs:
                if r is not None:
                    ins.append(str(self.g.nodes[r[0]]["outputs"][r[1]]))
        if ins:
            lines.append("in: " + ", ".join(ins))
        lines.append("out: " + ", ".join(str(x) for x in data.get("outputs") or ()))
        owner = data.get("param_owner", n)
        pc = param_count(self.g, n)
        if owner != n:
            lines.append(f"params: shared with {owner}")
        else:
            lines.append(f"params: {pc:,}")
        if data.get("flops"):
            lines.append(f"flops: {data['flops']:,} per example")
        return "\n".join(lines)

    def emit_node(self, n: str, nid: str) -> None:
        data = self.g.nodes[n]
        op = data["op"]
        attrs = data.get("attrs") or {}
        if op == "segments":
            self.emit_segments(n, nid, data)
            return
        self.entry[nid] = self.exit[nid] = nid
        if op == "input":
            fam = "io"
            typ = data["outputs"][0]
            summary = "input"
            label = f"{data.get('label') or n}\n{self.type_text(typ)}"
        else:
            fam = OPS[op].family if op in OPS else "io"
            summary = op_summary(op, attrs, clip=False)
            lines = []
            name = data.get("label")
            if name:
                lines.append(name)
            shown = op_summary(op, attrs, skip=_SHOWN_ELSEWHERE.get(op, ()), clip=False)
            lines.append(_wrap(shown))
            if op == "simplicial_attention":
                lines += self.simplicial_lines(data)
            elif op in ("rnn", "lstm", "gru"):
                lines.append(self.recurrent_line(data))
            pc = param_count(self.g, n)
            if self.o["show_params"] and pc:
                lines.append(_params_text(pc))
            elif data.get("param_owner", n) != n:
                lines.append("shared params")
            label = "\n".join(lines)
        self.family(fam)
        shape, fill = self.style(fam)
        style = "filled,rounded" if shape == "box" else "filled"
        if op in ("rnn", "lstm", "gru"):
            style += ",bold"
        if shape == "circle" and len(label) > 3:
            shape = "ellipse"  # a circle around a long label is mostly white space
        lines = [
            f"  {_q(nid)} "
            + _attrs({
                "id": nid, "label": label, "shape": shape, "style": style, "fillcolor": fill,
                "tooltip": self.node_tooltip(n, data, summary),
            })
            + ";"
        ]  # fmt: skip
        if op in ("rnn", "lstm", "gru"):
            if self.o["unroll"]:
                self.emit_unrolled(n, nid, data, label, fill)
                return
            lines.append(self.state_loop(nid, op, attrs))
        self.lines_nodes[nid] = lines

    def emit_unrolled(self, n: str, nid: str, data: dict, label: str, fill: str) -> None:
        """A recurrent node drawn over its first time steps: one cell per step (the same cell,
        the same parameters), the state passed from each to the next, '…' for the rest."""
        a = data.get("attrs") or {}
        op = data["op"]
        self.feature("state")
        h = a.get("hidden", 0)
        state = f"(h, c) {2 * h}" if op == "lstm" else f"h {h}"
        steps_text = self.recurrent_line(data).split(" over ")[1].split(" steps")[0]
        try:
            total = int(steps_text)
        except ValueError:
            total = None  # a symbolic length
        shown = self.o["unroll"] if total is None else min(self.o["unroll"], total)
        mode = a.get("mode", "many_to_many")
        cells = []
        lines = []
        for t in range(1, shown + 1):
            cid = nid if t == 1 else self.new_id(f"{nid}__t{t}")
            if t == 1:
                text = label.replace(self.recurrent_line(data), f"step t=1 of {steps_text}", 1)
            else:
                text = f"{op} t={t}"
            lines.append(f"    {_q(cid)} " + _attrs({
                "id": cid, "label": text, "shape": "box",
                "style": "filled,rounded,bold", "fillcolor": fill,
                "tooltip": self.node_tooltip(n, data, op_summary(op, a, clip=False)),
            }) + ";")  # fmt: skip
            cells.append(cid)
        if total is None or total > shown:
            more = self.new_id(f"{nid}__more")
            rest = f"… t={shown + 1}..{steps_text}"
            lines.append(f"    {_q(more)} " + _attrs({"id": more, "label": rest, "shape": "plaintext"}) + ";")
            cells.append(more)
        for u, v in zip(cells, cells[1:]):
            lines.append(f"    {_q(u)} -> {_q(v)} " + _attrs({
                "label": state, "color": self.t["state"], "fontcolor": self.t["state"],
                "penwidth": "1.6", "tooltip": f"{op} state carried to the next step",
            }) + ";")  # fmt: skip
        title = f"{data.get('label') or n}: {op} unrolled ({mode})"
        self.lines_nodes[nid] = [
            f"  subgraph {_q('cluster_' + nid)} {{",
            "    graph " + _attrs({"id": "cluster_" + nid, "label": title, "style": "rounded,dashed",
                                   "color": self.t["state"], "fontcolor": self.t["state"]}) + ";",
            *lines,
            "  }",
        ]  # fmt: skip
        self.entry[nid], self.exit[nid] = cells[0], cells[-1]

    def recurrent_line(self, data: dict) -> str:
        a = data.get("attrs") or {}
        if a.get("mode") == "one_to_many":
            steps = str(a.get("steps"))
        else:
            ref = data["args"][0][1]
            x = self.g.nodes[ref[0]]["outputs"][ref[1]]
            steps = self.type_text(x).split("[", 1)[1].split(",")[0].strip("]") if x.rank else "T"
        return f"cell scanned over {steps} steps" + (", reversed" if a.get("reverse") else "")

    def state_loop(self, nid: str, op: str, attrs: dict) -> str:
        self.feature("state")
        h = attrs.get("hidden", 0)
        size = f"state {2 * h} = (h, c)" if op == "lstm" else f"state {h}"
        mode = attrs.get("mode", "many_to_many")
        return (
            f"  {_q(nid)} -> {_q(nid)} "
            + _attrs({
                "label": f"{size}\n{mode}", "color": self.t["state"], "fontcolor": self.t["state"],
                "penwidth": "1.6", "tooltip": f"recurrent state of {op}: {size}, mode {mode}",
                "headport": "ne", "tailport": "se",
            })
            + ";"
        )  # fmt: skip

    def simplicial_lines(self, data: dict) -> list[str]:
        a = data.get("attrs") or {}
        n = data["args"][0][1]
        e = self.g.nodes[n[0]]["outputs"][n[1]]
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

    def emit_collapsed(self, info: dict) -> None:
        did = info["id"]
        key, kind, name, cnt, shared = info["level"]
        ops = info.get("ops", len(info["nodes"]))
        canon_ops = len(info["nodes"])
        pc = info.get("params", 0)
        if kind == "repeat":
            title = f"repeat ×{cnt}" + (" shared" if shared else "")
            body = f"{canon_ops} ops ×{cnt}"
        else:
            title, body = name, f"{canon_ops} op{'s' if canon_ops != 1 else ''}"
            if ops != canon_ops:  # inside a repeat drawn once: this block is one copy's
                pc = sum(param_count(self.g, n) for n in info["nodes"])
                ops = canon_ops
        label = f"{title}\n{body}" + (f"\n{_params_text(pc)}" if self.o["show_params"] else "")
        first = self.g.nodes[info["nodes"][0]]
        span = first.get("chain") or ()
        where = str(span[-1]) if span else str(first.get("span") or "")
        self.feature("collapsed")
        self.lines_nodes[did] = [
            f"  {_q(did)} "
            + _attrs({
                "id": did, "label": label, "shape": "box3d", "style": "filled",
                "fillcolor": self.t["clusters"][1],
                "tooltip": f"{where}\nblock {'/'.join(key)} (collapsed): {ops} ops, {pc:,} params",
            })
            + ";"
        ]  # fmt: skip

    # -- wormholes and repeat carries
    def emit_wormhole(self, src: str, dst: str, e: dict) -> None:
        self.feature("wormhole")
        s = e.get("settings") or {}
        tol = f"tol={_fmt_value(s.get('tol', '?'))}"
        if s.get("rtol"):
            tol += f", rtol={_fmt_value(s['rtol'])}"
        label = f"wormhole: gate={s.get('gate', '?')}\n{tol}, max_iter={s.get('max_iter', '?')}"
        port = "e" if self.o["rankdir"] == "TB" else "s"
        self.edges.append(
            f"  {_q(src)} -> {_q(dst)} "
            + _attrs({
                "label": label, "color": self.t["wormhole"], "fontcolor": self.t["wormhole"],
                "style": "dashed", "penwidth": "1.6", "constraint": False,
                "tailport": port, "headport": port,
                "tooltip": f"{e.get('span') or ''}\nwormhole (back-edge): "
                + ", ".join(f"{k}={_fmt_value(v)}" for k, v in s.items()),
            })
            + ";"
        )  # fmt: skip

    def emit_carry(self, src: str, dst: str, first: bool) -> None:
        self.feature("carry")
        # Round the side, not through the body: east in TB; in LR over the top, clear of the
        # residual edges that run along the block's upper side (its label by the arrowhead, so
        # the arc stays as low as graphviz can make it).
        tb = self.o["rankdir"] == "TB"
        port = "e" if tb else "n"
        label = "next copy" if first else None
        self.edges.append(
            f"  {_q(src)} -> {_q(dst)} "
            + _attrs({
                "label": label if tb else None, "headlabel": None if tb else label,
                "labelangle": None if tb or not first else "-30",
                "labeldistance": None if tb or not first else "3",
                "style": "dotted", "penwidth": "1.3",
                "color": self.t["carry"], "fontcolor": self.t["carry"], "constraint": False,
                "tailport": port, "headport": port,
                "tooltip": "feeds the next repeat copy",
            })
            + ";"
        )  # fmt: skip

    # -- segment structures: the tree of the fusion encoder network
    def emit_segments(self, n: str, nid: str, data: dict) -> None:
        a = data.get("attrs") or {}
        st = a.get("structure")
        regions = data.get("regions") or {}
        self.family("mechanism")
        self.family("io")
        fam_fill = self.style("mechanism")[1]
        io_fill = self.style("io")[1]
        nn = st.n if st is not None else 0
        splits = dict(st.splits) if st is not None else {}
        for lo, hi, s in getattr(st, "vertices", ()) or ():
            splits[(lo, hi)] = s
        share = a.get("share")
        lines: list[str] = []

        def add(suffix: str, label: str, tooltip: str, **kw) -> str:
            sid = self.new_id(f"{nid}__{suffix}")
            style = kw.pop("style", "filled,rounded")
            lines.append(
                f"    {_q(sid)} "
                + _attrs({"id": sid, "label": label, "shape": kw.pop("shape", "box"),
                          "style": style, "fillcolor": kw.pop("fillcolor", fam_fill),
                          "tooltip": tooltip, **kw})
                + ";"
            )  # fmt: skip
            return sid

        def region_text(role: str) -> str:
            r = regions.get(role)
            if r is None:
                return ""
            ops = [op_summary(r.nodes[x]["op"], r.nodes[x].get("attrs") or {})
                   for x in topo_order(r) if r.nodes[x]["op"] != "input"]  # fmt: skip
            return " → ".join(ops)

        def region_params(role: str) -> int:
            r = regions.get(role)
            return 0 if r is None else sum(param_count(r, x) for x in r.nodes)

        span = str(data.get("span") or "")
        token_txt, fusion_txt = region_text("token"), region_text("fusion")

        # the drawn part of the tree: expand breadth-first while at most max_leaves are visible
        limit = max(2, int(self.o["max_leaves"]))
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

        # the tokens as one strip of cells, each feeding its own token encoder straight below it
        # (one port per cell: no fan of crossing curves, and the leaves keep their order)
        tb = self.o["rankdir"] == "TB"
        cells = []
        for i, (lo, hi) in enumerate(frontier):
            text = f"x{lo}" if lo == hi else f"x{lo}…x{hi}"
            # about one leaf apart, so each edge drops straight to its encoder
            size = 'WIDTH="78"' if tb else 'HEIGHT="56"'
            cells.append(f'<TD PORT="p{i}" {size}>{_h(text)}</TD>')
        sep = "" if tb else "</TR><TR>"
        strip = _Html(
            '<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="3" '
            f'BGCOLOR="{io_fill}"><TR>' + sep.join(cells or ["<TD>x</TD>"]) + "</TR></TABLE>"
        )  # fmt: skip
        entry = self.new_id(f"{nid}__tokens")
        lines.append(f"    {_q(entry)} " + _attrs({
            "id": entry, "label": strip, "shape": "plaintext", "fontsize": "9",
            "tooltip": f"{span}\nthe {nn} tokens x1 … x{nn} of x"}) + ";")  # fmt: skip
        ids: dict = {}
        # leaves and ellipses first (in token order), then fusion vertices bottom-up
        for i, (lo, hi) in enumerate(frontier):
            if lo == hi:
                ids[(lo, hi)] = add(
                    f"t{lo}",
                    f"token enc\nx{lo}",
                    f"{span}\ntoken encoder on x{lo}: {token_txt}",
                    fillcolor=fam_fill,
                )
            else:
                self.feature("ellipsis")
                ids[(lo, hi)] = add(
                    f"e{lo}_{hi}",
                    f"⋯\n[{lo}..{hi}]\n{hi - lo + 1} tokens",
                    f"subtree over x{lo}..x{hi} ({hi - lo + 1} tokens) not drawn",
                    style="dashed",
                    fillcolor="none",
                    shape="box",
                )
            self.edges.append(
                f"  {_q(entry)} -> {_q(ids[(lo, hi)])} "
                + _attrs({"tailport": f"p{i}:{'s' if tb else 'e'}", "arrowsize": "0.5"}) + ";"
            )  # fmt: skip
        for lo, hi in sorted(expanded, key=lambda s: (s[1] - s[0], s[0])):
            s = splits[(lo, hi)]
            lvl = f", level {st.level((lo, hi))}" if share == "per_level" else ""
            ids[(lo, hi)] = add(
                f"f{lo}_{hi}",
                f"fusion [{lo}..{hi}]\nsplit {s}{lvl}",
                f"{span}\nfusion encoder of segment ({lo}, {hi}) split at {s}: {fusion_txt}",
            )
            for child in ((lo, s), (s + 1, hi)):
                if child in ids:
                    self.edges.append(
                        f"  {_q(ids[child])} -> {_q(ids[(lo, hi)])} "
                        + _attrs({"tooltip": f"segment {child}"}) + ";"
                    )  # fmt: skip
        # the final network's decoder: omega_(1,N)(0, eps(1,N), 0); prefix eps(1,0) and suffix
        # eps(N+1,N) are the empty segments, i.e. zero (mechanisms.md section 1)
        dec = add("decoder", f"decoder ω(1,{nn})\n{_wrap(region_text('decoder'))}",
                  f"{span}\noutput decoder ω(1,{nn})(0, ε(1,{nn}), 0): "
                  f"{region_text('decoder')}")  # fmt: skip
        if frontier:
            root = (1, nn)
            zeros = []
            for role, seg in (("prefix", "ε(1,0)"), ("suffix", f"ε({nn + 1},{nn})")):
                z = add(f"{role}_zero", "0", f"{role} {seg} = 0: the empty segment",
                        shape="circle", style="filled,dashed", fillcolor=io_fill,
                        width="0.3", fixedsize=True, fontsize="9")  # fmt: skip
                zeros.append(z)
                self.edges.append(
                    f"  {_q(z)} -> {_q(dec)} "
                    + _attrs({"label": f"{role} {seg}", "style": "dashed",
                              "tooltip": f"{role}: the empty segment {seg} encodes to 0"}) + ";"
                )  # fmt: skip
            self.edges.append(f"  {_q(ids[root])} -> {_q(dec)} "
                              + _attrs({"label": f"ε(1,{nn})",
                                        "tooltip": f"segment {root}"}) + ";")  # fmt: skip
            # prefix, root and suffix side by side, in that order
            trio = [zeros[0], ids[root], zeros[1]]
            if not tb:  # LR lays a rank out bottom to top: the prefix stays on top
                trio.reverse()
            lines.append("    {rank=same; " + " ".join(_q(x) for x in trio) + "}")
            lines.append(f"    {_q(trio[0])} -> {_q(trio[1])} -> {_q(trio[2])} [style=invis];")

        # the regions as a table: role, ops, copies, parameters
        rows = [
            '<TR><TD ALIGN="LEFT"><B>region</B></TD><TD ALIGN="LEFT"><B>ops</B></TD>'
            '<TD><B>copies</B></TD><TD ALIGN="RIGHT"><B>params</B></TD></TR>'
        ]
        for role in ("token", "fusion", "decoder"):
            if role in regions:
                copies = regions[role].graph.get("copies", 1)
                rows.append(
                    f'<TR><TD ALIGN="LEFT">{_h(role)}</TD><TD ALIGN="LEFT">'
                    f"{_h(_clip(region_text(role), 40))}</TD><TD>{copies}</TD>"
                    f'<TD ALIGN="RIGHT">{_h(count(region_params(role) * copies))}</TD></TR>'
                )
        table = _Html(
            '<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="3">' + "".join(rows)
            + "</TABLE>"
        )  # fmt: skip
        s_note = None
        if self.o["show_segments"] and st is not None:
            segs = st.segments
            chunks = []
            for i in range(0, len(segs), 6):
                chunks.append("  ".join(
                    f"({a_},{b_})" + (f"|{splits[(a_, b_)]}" if (a_, b_) in splits else "")
                    for a_, b_ in segs[i : i + 6]))  # fmt: skip
            text = f"S: {len(segs)} segments, (i,j)|split\\l" + "\\l".join(chunks) + "\\l"
            sid = self.new_id(f"{nid}__S")
            lines.append(f"    {_q(sid)} [id={_q(sid)}, shape=note, fontsize=8, "
                         f"style=filled, fillcolor={_q(io_fill)}, label=\"{text}\"];")  # fmt: skip
            s_note = sid

        pc = param_count(self.g, n)
        kind = getattr(st, "kind", "custom")
        name = _callee(data.get("span")) or data.get("label") or n
        title = f"segments {name} = {kind}(N={nn})" + (f"  ·  share={share}" if share else "")
        if self.o["show_params"]:
            title += f"  ·  {_params_text(pc)}"
        # the regions table sits beside the decoder, in its rank: nothing is routed through a
        # node, so no edge crosses it (in the cluster's label, the entering edge ran over it)
        tab = self.new_id(f"{nid}__regions")
        lines.append(f"    {_q(tab)} " + _attrs({"id": tab, "label": table, "shape": "plaintext",
                                                 "fontsize": "8"}) + ";")  # fmt: skip
        pair = [tab, dec] + ([s_note] if s_note else [])  # the segment list S on the other side
        if not tb:
            pair.reverse()
        lines.append("    {rank=same; " + " ".join(_q(x) for x in pair) + "}")
        lines.append("    " + " -> ".join(_q(x) for x in pair) + " [style=invis];")
        body = [
            f"  subgraph {_q('cluster_' + nid)} {{",
            "    graph " + _attrs({
                "id": "cluster_" + nid, "label": title, "style": "rounded,filled",
                "fillcolor": self.t["segments_fill"], "color": self.t["cluster_line"],
                "tooltip": f"{span}\nsegment structure {kind} over {nn} tokens",
            }) + ";",
            *lines,
            "  }",
        ]  # fmt: skip
        self.lines_nodes[nid] = body
        self.entry[nid], self.exit[nid] = entry, dec

    # -- assembling the text
    def emit_cluster(self, key: tuple, out: list[str], indent: str) -> None:
        c = self.clusters[key]
        for kind, ref in c.items:
            if kind == "node":
                for line in self.lines_nodes.get(ref, ()):
                    out.append(indent + line)
                continue
            sub = self.clusters[ref]
            cid = "cluster_" + _sanitize("/".join(ref))
            title = sub.title()
            if self.o["show_params"] and sub.params:
                title += f"  ·  {_params_text(sub.params)}"
            if sub.kind == "repeat":
                attrs = {"label": title, "style": "rounded,filled,bold", "color": self.t["repeat_line"],
                         "fillcolor": self.t["repeat_fill"], "fontcolor": self.t["repeat_line"],
                         "penwidth": "1.6"}  # fmt: skip
                self.feature("repeat")
            else:
                attrs = {"label": title, "style": "rounded,filled", "color": self.t["cluster_line"],
                         "fillcolor": self.t["clusters"][sub.depth % 2]}  # fmt: skip
            if self.o["rankdir"] == "LR" and any(
                self.clusters.get(ref[:i]) is not None and self.clusters[ref[:i]].kind == "repeat"
                for i in range(1, len(ref) + 1)
            ):  # the "next copy" arc runs over the top of a repeat: its titles go underneath
                attrs["labelloc"] = "b"
            attrs["id"] = cid
            inner = indent + "  "
            out.append(f"{inner}subgraph {_q(cid)} {{")
            out.append(f"{inner}  graph {_attrs(attrs)};")
            self.emit_cluster(ref, out, inner)
            out.append(f"{inner}}}")

    def assemble(self, outs: list[str], order: list[str]) -> str:
        g, o, t = self.g, self.o, self.t
        font = self.font
        title = o["title"]
        if title is None:
            src = g.graph.get("source") or ""
            total = sum(param_count(g, n) for n in order)
            title = (f"{src}  ·  " if src else "") + _params_text(total)
        body: list[str] = []
        self.emit_cluster((), body, "")  # first: it notes the legend's features (repeats)
        out = [
            "digraph seqnet {",
            "  graph "
            + _attrs({
                "id": "seqnet", "rankdir": o["rankdir"], "newrank": True, "compound": True,
                "fontname": font, "fontsize": "12", "fontcolor": t["fg"], "bgcolor": t["bg"],
                "label": self.graph_label(title), "labelloc": "t", "labeljust": "c",
                "nodesep": "0.3", "ranksep": "0.35",
                "outputorder": "edgesfirst", "tooltip": title or "seqnet",
            })
            + ";",
            "  node " + _attrs({"fontname": font, "fontsize": "10", "color": t["fg"],
                                "fontcolor": t["fg"] if o["theme"] == "light" else "#f0f0f0",
                                "penwidth": "1", "margin": "0.08,0.04"}) + ";",
            "  edge " + _attrs({"fontname": font, "fontsize": "8", "color": t["edge"],
                                "fontcolor": t["muted"], "arrowsize": "0.7"}) + ";",
        ]  # fmt: skip
        out += body
        for n in order:  # a wormhole's gate sits beside the node it reads, so the loop stays short
            data = g.nodes[n]
            if data["op"] == "wormhole_gate" and self.ids.get(n) in self.lines_nodes:
                src = self.ids.get(data["args"][0][1][0])
                if src in self.lines_nodes and src != self.ids[n]:
                    out.append(f"  {{rank=same; {_q(src)} {_q(self.ids[n])}}}")
        ins = [self.ids[n] for n in g.graph.get("inputs", []) if n in self.ids]
        if ins:
            out.append("  {rank=min; " + " ".join(_q(i) for i in ins) + "}")
        if outs:
            out.append("  {rank=max; " + " ".join(_q(i) for i in outs) + "}")
        out += self.edges
        out.append("}")
        return "\n".join(out) + "\n"

    def graph_label(self, title: str):
        """The title and, below it in small print, the legend (or just the title)."""
        if not self.o["legend"] or not (self.families or self.features):
            return title or None
        rows = []
        if title:
            rows.append(f"<TR><TD>{_h(title)}</TD></TR>")
        rows.append(f'<TR><TD><FONT POINT-SIZE="8">{self.legend()}</FONT></TD></TR>')
        return _Html('<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="2">'
                     + "".join(rows) + "</TABLE>")  # fmt: skip

    def legend(self) -> str:
        """The key as an HTML table, a few entries per row: it goes into the graph's label under
        the title, so it never takes a rank of its own (a tall legend node beside the inputs
        stretched the first edges) and never covers the drawing."""
        t = self.t
        entries = []
        for fam in self.families:
            shape, fill = self.style(fam)
            name = "input / output" if fam == "io" else fam
            entries.append(f'<TD BGCOLOR="{fill}" BORDER="1" COLOR="{t["muted"]}" WIDTH="16" '
                           f'HEIGHT="10" FIXEDSIZE="TRUE"></TD><TD ALIGN="LEFT">{_h(name)}</TD>'
                           '<TD WIDTH="6"></TD>')  # fmt: skip
        marks = {
            "wormhole": (t["wormhole"], "- - ▶", "wormhole (back-edge)"),
            "state": (t["state"], "⟲", "recurrent state"),
            "repeat": (t["repeat_line"], "▭", "repeat, drawn once"),
            "carry": (t["carry"], "··▶", "into next copy"),
            "collapsed": (t["fg"], "▤", "collapsed block"),
            "ellipsis": (t["muted"], "⋯", "subtree not drawn"),
        }  # fmt: skip
        for f in self.features:
            color, sym, text = marks[f]
            entries.append(f'<TD><FONT COLOR="{color}">{_h(sym)}</FONT></TD>'
                           f'<TD ALIGN="LEFT">{_h(text)}</TD><TD WIDTH="6"></TD>')  # fmt: skip
        per_row = 4 if self.o["rankdir"] == "TB" else max(4, -(-len(entries) // 2))
        rows = []
        for k in range(0, len(entries), per_row):
            chunk = entries[k : k + per_row]
            chunk += ["<TD></TD><TD></TD><TD></TD>"] * (per_row - len(chunk)) if k else []
            rows.append("<TR>" + "".join(chunk) + "</TR>")
        return (
            '<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="1" CELLPADDING="1">'
            + "".join(rows) + "</TABLE>"
        )  # fmt: skip


def _options(options: dict) -> dict:
    unknown = set(options) - set(DEFAULTS)
    if unknown:
        raise TypeError(
            f"unknown diagram option(s) {', '.join(sorted(unknown))}; "
            f"known: {', '.join(sorted(DEFAULTS))}"
        )
    o = {**DEFAULTS, **options}
    o["rankdir"] = str(o["rankdir"]).upper()
    if o["rankdir"] not in ("TB", "LR"):
        raise ValueError(f"rankdir must be 'TB' or 'LR', not {o['rankdir']!r}")
    if o["theme"] not in THEMES:
        raise ValueError(f"theme must be one of {', '.join(THEMES)}, not {o['theme']!r}")
    if not isinstance(o["unroll"], int) or o["unroll"] < 0:
        raise ValueError(f"unroll must be a whole number >= 0, not {o['unroll']!r}")
    if o["depth"] is not None and (not isinstance(o["depth"], int) or o["depth"] < 0):
        raise ValueError(f"depth must be a whole number >= 0 or None, not {o['depth']!r}")
    return o


def to_dot(graph, **options) -> str:
    """The diagram as DOT text; see the package docstring for the options."""
    return _Builder(graph, _options(options)).build()
