"""Spec inputs (`input x : float32[N, 4]`): the IR's input nodes, which are no op of the registry
but the graph's `inputs`. An ellipse with the name and type; edges out of it carry no type (the
node shows it already)."""

from __future__ import annotations

from seqnet.backends.graphviz.rules.base import NodeRule
from seqnet.compiler.ir import Node


class InputRule(NodeRule):
    labels_outputs = False

    def family(self, data: Node) -> str:
        return "io"

    def summary(self, data: Node) -> str:
        return "input"

    def label(self, c, n: str, data: Node) -> str:
        return f"{data.label or n}\n{c.type_text(data.outputs[0])}"
