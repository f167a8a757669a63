"""The IR's schema: a frozen record per node, the verifier that holds every stage to it, and the
freeze that ends elaboration.

Nodes are stored as networkx attribute dicts (so graph algorithms, drawing and lowering read them
directly), but every dict has exactly the fields of `Node`, of the types `Node` declares: the
verifier checks this after each stage that builds or changes the graph, and names the stage when
it finds a malformed node (the contract xDSL's verifiers keep between passes). A verified graph
is frozen: `nx.freeze` stops structural changes, and the mutable containers inside nodes
(attributes, parameters) become read-only mappings, so a backend cannot change what the compiler
proved.

`node(g, name)` gives the record of one node; new code should read nodes through it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, NamedTuple

import networkx as nx

from seqnet.compiler.ops.registry import OPS, ParamSpec
from seqnet.compiler.types import TensorType
from seqnet.source import Span

INPUT = "input"  # the op of a spec input (not a registry op: inputs have no rules)


class Ref(NamedTuple):
    """One output of one node: what an argument reads. A plain (node, port) tuple too."""

    node: str
    port: int


@dataclass(frozen=True)
class Node:
    """Everything the IR knows about one node; see compiler/graph.py for what each field means."""

    op: str
    attrs: Mapping[str, Any]
    args: tuple  # ((arg, Ref | tuple[Ref, ...]), ...) in signature order
    outputs: tuple[TensorType, ...]
    params: Mapping[str, ParamSpec]
    param_owner: str
    flops: int
    span: Span | None
    chain: tuple
    path: tuple[str, ...]
    label: str | None
    repeats: tuple
    order: int
    regions: Mapping[str, nx.MultiDiGraph] | None = None  # segments: {role: sub-graph}
    structure_name: str | None = None  # segments: the statement's name
    attr_spans: Mapping[str, Span] | None = None  # where each attribute was written
    # tied weights: {param: (owner node, owner's param, transposed)} (compiler/ties.py)
    ties: Mapping[str, tuple[str, str, bool]] | None = None


OPTIONAL_FIELDS = ("regions", "structure_name", "attr_spans", "ties")
REQUIRED_FIELDS = tuple(f.name for f in fields(Node) if f.name not in OPTIONAL_FIELDS)
GRAPH_FIELDS = ("inputs", "outputs", "output_spans", "dims", "train", "files")


class IRError(Exception):
    """A malformed graph: a compiler bug, reported with the stage that produced it."""

    def __init__(self, stage: str, problems: list[str]):
        self.stage = stage
        self.problems = problems
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"IR verification failed after '{stage}': {problems[0]}{more}")


def node(g: nx.MultiDiGraph, name: str) -> Node:
    """The record of node `name`."""
    return Node(**g.nodes[name])


def _refs(value) -> tuple:
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str):
        return (value,)
    return tuple(value)


def _node_problems(g: nx.MultiDiGraph, name: str, where: str) -> list[str]:
    d = g.nodes[name]
    at = f"{where}node '{name}'"
    out = []
    missing = [f for f in REQUIRED_FIELDS if f not in d]
    unknown = sorted(set(d) - set(REQUIRED_FIELDS) - set(OPTIONAL_FIELDS))
    if missing:
        return [f"{at} lacks {', '.join(missing)}"]
    if unknown:
        out.append(f"{at} has fields the IR does not define: {', '.join(unknown)}")
    op = d["op"]
    if op != INPUT and op not in OPS:
        return out + [f"{at} has op {op!r}, which the registry does not define"]
    checks = (
        ("attrs", Mapping), ("args", tuple), ("outputs", tuple), ("params", Mapping),
        ("param_owner", str), ("flops", int), ("chain", tuple), ("path", tuple),
        ("repeats", tuple), ("order", int),
    )  # fmt: skip
    for key, kind in checks:
        if not isinstance(d[key], kind) or isinstance(d[key], bool) and kind is int:
            out.append(f"{at}: {key} is {type(d[key]).__name__}, not {kind.__name__}")
    if out:
        return out
    if d["span"] is not None and not isinstance(d["span"], Span):
        out.append(f"{at}: span is {type(d['span']).__name__}, not Span")
    if not d["outputs"] or not all(isinstance(t, TensorType) for t in d["outputs"]):
        out.append(f"{at}: outputs must be a non-empty tuple of TensorType")
    if not all(isinstance(p, ParamSpec) for p in d["params"].values()):
        out.append(f"{at}: params must map names to ParamSpec")
    if d["param_owner"] not in g:
        out.append(f"{at}: param_owner '{d['param_owner']}' is not a node")
    elif d["param_owner"] != name:
        owner = g.nodes[d["param_owner"]].get("params", {})
        if {k: p.shape for k, p in owner.items()} != {k: p.shape for k, p in d["params"].items()}:
            out.append(f"{at} shares parameters with '{d['param_owner']}', but their shapes differ")
    out += _tie_problems(g, d.get("ties") or {}, at)
    out += _arg_problems(g, name, d, at)
    if op != INPUT:
        names = {a.name for a in OPS[op].attr_args}
        extra = sorted(set(d["attrs"]) - names)
        if extra:
            out.append(f"{at}: attributes {', '.join(extra)} are not arguments of {op}")
    return out


def _tie_problems(g: nx.MultiDiGraph, ties: Mapping, at: str) -> list[str]:
    out = []
    for param, entry in ties.items():
        if not (isinstance(entry, tuple) and len(entry) == 3 and isinstance(entry[2], bool)):
            out.append(f"{at}: tie of '{param}' is {entry!r}, not (owner, param, transposed)")
        elif entry[0] not in g or entry[1] not in g.nodes[entry[0]].get("params", {}):
            out.append(f"{at}: '{param}' is tied to {entry[0]}.{entry[1]}, which does not exist")
    return out


def _arg_problems(g: nx.MultiDiGraph, name: str, d: dict, at: str) -> list[str]:
    out = []
    known = {a.name: a for a in OPS[d["op"]].tensor_args} if d["op"] != INPUT else {}
    incoming = {(u, e["arg"], e["index"], e["port"]) for u, _v, e in g.in_edges(name, data=True)
                if not e.get("wormhole")}  # fmt: skip
    seen = set()
    for entry in d["args"]:
        if not (isinstance(entry, tuple) and len(entry) == 2 and entry[0] in known):
            out.append(f"{at}: argument entry {entry!r} is not (tensor argument, refs)")
            continue
        arg, value = entry
        refs = _refs(value)
        if known[arg].kind == "tensor" and len(refs) != 1:
            out.append(f"{at}: argument '{arg}' takes one tensor, not {len(refs)}")
        for i, ref in enumerate(refs):
            if not isinstance(ref, Ref):
                out.append(f"{at}: argument '{arg}' reads {ref!r}, which is not a Ref(node, port)")
                continue
            src, port = ref
            if not _exists(g, ref):
                out.append(f"{at}: argument '{arg}' reads {src}:{port}, which does not exist")
                continue
            if (src, arg, i, port) not in incoming:
                out.append(f"{at}: argument '{arg}' reads {src}:{port}, but no edge carries it")
            seen.add((src, arg, i, port))
    for u, arg, i, port in sorted(incoming - seen):
        out.append(f"{at}: an edge from {u}:{port} into argument '{arg}' (index {i}) is no argument")
    return out


def _exists(g: nx.MultiDiGraph, ref: Ref) -> bool:
    return ref.node in g and 0 <= ref.port < len(g.nodes[ref.node].get("outputs", ()))


def problems(g: nx.MultiDiGraph, where: str = "") -> list[str]:
    """Every way `g` (and its regions, recursively) breaks the schema; empty when it conforms."""
    out = [f"{where}graph lacks its '{k}' attribute" for k in GRAPH_FIELDS if k not in g.graph]
    for name in g.nodes:
        out += _node_problems(g, name, where)
        for role, region in (g.nodes[name].get("regions") or {}).items():
            out += problems(region, f"{where}region '{role}' of '{name}': ")
    for u, v, d in g.edges(data=True):
        if d.get("wormhole") and not isinstance(d.get("settings"), Mapping):
            out.append(f"{where}the wormhole edge {u} -> {v} carries no settings")
    for inp in g.graph.get("inputs", ()):
        if inp not in g or g.nodes[inp].get("op") != INPUT:
            out.append(f"{where}input '{inp}' is not an input node")
    for out_name, ref in (g.graph.get("outputs") or {}).items():
        if not isinstance(ref, Ref):
            out.append(f"{where}output '{out_name}' is {ref!r}, not a Ref(node, port)")
            continue
        if not _exists(g, ref):
            out.append(f"{where}output '{out_name}' reads {ref.node}:{ref.port}, which does not exist")
    return out


def verify(g: nx.MultiDiGraph, stage: str) -> None:
    """Raise IRError naming `stage` when the graph it produced breaks the schema."""
    found = problems(g)
    if found:
        raise IRError(stage, found)


class FrozenDict(dict):
    """A dict that refuses changes once built (and pickles as one)."""

    def _refuse(self, *args, **kwargs):
        raise TypeError("the IR is frozen after verification: build a new graph instead")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _refuse  # type: ignore[assignment]

    def __reduce__(self):
        return FrozenDict, (dict(self),)

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self


def freeze(g: nx.MultiDiGraph) -> nx.MultiDiGraph:
    """Freeze a verified graph in place (structure, node containers, regions) and return it."""
    for name in g.nodes:
        d = g.nodes[name]
        for key in ("attrs", "params", "regions", "attr_spans", "ties"):
            if isinstance(d.get(key), dict) and not isinstance(d[key], FrozenDict):
                d[key] = FrozenDict(d[key])
        for region in (d.get("regions") or {}).values():
            freeze(region)
    return nx.freeze(g)
