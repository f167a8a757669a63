"""Which rule draws an op: the rule registered against it, else its family's default.

Importing this module imports every rule module, so their `register_drawing` calls have run.
"""

from __future__ import annotations

from seqnet.backends.graphviz.rules import attention, recurrent, segments, wormhole  # noqa: F401
from seqnet.backends.graphviz.rules.base import BACKEND, FAMILY_RULES, NodeRule
from seqnet.backends.graphviz.rules.inputs import InputRule
from seqnet.compiler.ops.catalog import load_ops
from seqnet.compiler.ops.registry import OPS

INPUT_RULE = InputRule()


def rule_for_op(op: str) -> NodeRule:
    """The drawing rule of op `op`; an op the registry does not know is drawn as a plain node."""
    load_ops()
    d = OPS.get(op)
    if d is None:
        return FAMILY_RULES["io"]
    rule = d.drawings.get(BACKEND)
    if rule is not None:
        return rule
    try:
        return FAMILY_RULES[d.family]
    except KeyError:
        raise LookupError(f"op {op!r}: its family {d.family!r} has no default graphviz drawing "
                          "rule (add one to rules/base.py FAMILY_RULES)") from None  # fmt: skip
