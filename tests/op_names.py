"""The check that generic code names no ops: comparisons such as `op == "dense"` or
`op in ("lstm", "gru")` against op names, found in a file's syntax tree. Shared by the backends'
tests; an op's own files (compiler/ops/, backends/jax/ops/) are where such names belong."""

from __future__ import annotations

import ast
from pathlib import Path

from seqnet.compiler.ops.catalog import load_ops


def op_names() -> set[str]:
    """Every registry op, and "input" (the node kind of spec inputs)."""
    return set(load_ops()) | {"input"}


def op_name_comparisons(path: Path) -> list[str]:
    """`file:line: 'name'` for every comparison against an op name in the file at `path`."""
    names = op_names()
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Compare):
            continue
        for side in (node.left, *node.comparators):
            items = side.elts if isinstance(side, (ast.Tuple, ast.List, ast.Set)) else [side]
            for item in items:
                if isinstance(item, ast.Constant) and item.value in names:
                    found.append(f"{path.name}:{node.lineno}: {item.value!r}")
    return found
