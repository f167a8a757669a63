"""What elaboration carries from statement to statement: scopes of names, the context of the
expansion being built (path, call sites, repeats, sharing) and the builder that adds graph nodes.
A leaf of the compiler: the elaborator, mechanisms and the train section all use it."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import networkx as nx

from seqnet.compiler.names import NameIndex, did_you_mean_among
from seqnet.errors import CompileError
from seqnet.limits import MAX_NODES
from seqnet.source import Span


class Scope:
    def __init__(self, parent: Scope | None = None):
        self.vars: dict[str, object] = {}
        self.spans: dict[str, Span] = {}
        self.parent = parent
        self._index: NameIndex | None = None  # built at the first suggestion, then kept up

    def lookup(self, name: str):
        scope = self
        while scope is not None:
            if name in scope.vars:
                return scope.vars[name]
            scope = scope.parent
        return None

    def names(self) -> set[str]:
        out, scope = set(), self
        while scope is not None:
            out |= set(scope.vars)
            scope = scope.parent
        return out

    def suggest(self, name: str, extra=()) -> str | None:
        """'did you mean' among the names in scope (and `extra`), in time that does not grow
        with the scope (see names.py)."""
        indexes, scope = [], self
        while scope is not None:
            if scope._index is None:
                scope._index = NameIndex(scope.vars)
            indexes.append(scope._index)
            scope = scope.parent
        return did_you_mean_among(name, indexes, extra)

    def bind(self, name: str, value, span: Span | None = None) -> None:
        self.vars[name] = value
        if self._index is not None:
            self._index.add(name)
        if span is not None:
            self.spans[name] = span


@dataclass(frozen=True)
class Ctx:
    scope: Scope
    path: tuple[str, ...] = ()
    chain: tuple[Span, ...] = ()  # call sites, innermost first
    repeats: tuple = ()  # (group, index, count, shared)
    blocks: tuple[str, ...] = ()  # blocks being expanded (recursion check)
    shared_with: str | None = None  # path prefix whose parameters this expansion reuses
    in_block: bool = False


class Builder:
    """Adds nodes to one graph with unique hierarchical names and deterministic order.

    What it does can be undone (`undoable`, for the choices that are only checked: choices.py),
    and the nodes it adds can be collected (`collect`), each in time that does not grow with the
    graph: the changes are logged as they happen instead of the graph being compared after."""

    def __init__(self, graph: nx.MultiDiGraph, counter: list[int]):
        self.g = graph
        self.counter = counter  # shared across regions so `order` is global
        self.used: set[str] = set()
        self.next_suffix: dict[str, int] = {}  # base name -> next suffix to try (linear naming)
        self._logs: list[list[tuple]] = []  # undo logs, innermost last
        self._collectors: list[list[str]] = []

    def unique(self, path: tuple[str, ...], local: str) -> str:
        base = "/".join((*path, local))
        name, k = base, self.next_suffix.get(base, 1)
        if name in self.used:
            name = f"{base}_{k}"
            while name in self.used:
                k += 1
                name = f"{base}_{k}"
            if self._logs:
                self._logs[-1].append(("suffix", base, self.next_suffix.get(base)))
            self.next_suffix[base] = k + 1
        if self._logs:
            self._logs[-1].append(("used", name))
        self.used.add(name)
        return name

    def add(self, name: str, **data) -> str:
        if self.counter[0] >= MAX_NODES:  # the counter is shared with the regions: all nodes
            raise CompileError("SQN0005", f"the graph exceeds {MAX_NODES:,} nodes", data.get("span"),
                               hint="use fewer layers or smaller repeat counts")  # fmt: skip
        self.counter[0] += 1
        self.g.add_node(name, order=self.counter[0], **data)
        if self._logs:
            self._logs[-1].append(("node", name))
        for nodes in self._collectors:
            nodes.append(name)
        return name

    def label(self, node: str, label: str) -> None:
        """Name a node after the variable it is first assigned to."""
        data = self.g.nodes[node]
        if data.get("label") is None:
            data["label"] = label
            if self._logs:
                self._logs[-1].append(("label", node))

    @contextmanager
    def collect(self):
        """The names of the nodes added inside the block, as a list filled while it runs."""
        nodes: list[str] = []
        self._collectors.append(nodes)
        try:
            yield nodes
        finally:
            self._collectors.pop()  # the blocks nest, so this one is the innermost

    @contextmanager
    def undoable(self):
        """Undo, when the block ends, every node, name and label it added (edges and regions go
        with their nodes) and the node counter: as if the block had never run."""
        counter, log = self.counter[0], []
        self._logs.append(log)
        try:
            yield
        finally:
            self._logs.pop()
            for entry in reversed(log):
                if entry[0] == "node":
                    self.g.remove_node(entry[1])
                elif entry[0] == "used":
                    self.used.discard(entry[1])
                elif entry[0] == "suffix":
                    if entry[2] is None:
                        self.next_suffix.pop(entry[1], None)
                    else:
                        self.next_suffix[entry[1]] = entry[2]
                else:
                    self.g.nodes[entry[1]]["label"] = None
            self.counter[0] = counter


class Cascade(Exception):
    """A statement uses a name whose own definition failed: already reported, stay quiet. Not a
    CompileError, so no handler of those can report it: it is no diagnostic and has no code."""


def prefix_of(ctx: Ctx) -> str:
    return "/".join(ctx.path)


def shared_path(ctx: Ctx, path: tuple[str, ...]) -> str | None:
    """The parameter owner's path for an expansion nested inside a shared repeat copy."""
    if ctx.shared_with is None:
        return None
    return ctx.shared_with + "/" + "/".join(path[len(ctx.path) :])
