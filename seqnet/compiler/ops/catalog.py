"""The whole op catalogue: every family module loaded, and backends' rules attached to its ops.

`registry.py` defines what an op is and holds the table; the family modules (core, attention,
recurrent, mechanisms) fill it by calling `registry.op`. This module is the one that imports
them all, so the registry stays a leaf and no module imports itself through another.
"""

from __future__ import annotations

from collections.abc import Callable

from seqnet.compiler.ops.registry import OPS, OpDef


def register_lowering(name: str, backend: str):
    """Decorator: `@register_lowering("dense", "jax")` attaches a backend's rule to an op."""

    def attach(rule: Callable) -> Callable:
        load_ops()
        OPS[name].lowerings[backend] = rule
        return rule

    return attach


def register_step(name: str, backend: str):
    """`register_step("gru", "jax")(rule)`: a backend's incremental rule for an op (one new
    position at a time, with a cache: what generation runs when every op of a spec has one)."""

    def attach(rule):
        load_ops()
        OPS[name].steps[backend] = rule
        return rule

    return attach


def register_drawing(name: str, backend: str):
    """`register_drawing("segments", "graphviz")(rule)`: a drawing backend's rule for an op (the
    same form as register_lowering; a rule overrides the family's default drawing)."""

    def attach(rule):
        load_ops()
        OPS[name].drawings[backend] = rule
        return rule

    return attach


def missing_lowerings(backend: str) -> list[str]:
    load_ops()
    return sorted(n for n, d in OPS.items() if backend not in d.lowerings)


_loaded = False


def load_ops() -> dict[str, OpDef]:
    """Import every op family module once (they register themselves)."""
    global _loaded
    if not _loaded:
        _loaded = True
        from seqnet.compiler.ops import (  # noqa: F401
            attention,
            core,
            masks,
            mechanisms,
            recurrent,
            simplicial,
            tensors,
        )
    return OPS
