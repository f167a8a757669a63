"""The op reference (docs/ops.md), generated from the registry so it cannot drift from it.

Regenerate with `python -m seqnet.compiler.ops.reference > docs/ops.md`; a test checks it.
"""

from __future__ import annotations

from seqnet.compiler.ops.catalog import load_ops
from seqnet.compiler.ops.registry import FAMILY_STYLES

INTERNAL = {"segments", "wormhole_gate"}


def _arg(a) -> str:
    text = f"*{a.name}" if a.kind == "tensors" else a.name
    if a.required:
        return text
    d = a.default
    if isinstance(d, bool):
        return f"{text}={'true' if d else 'false'}"
    if d is None:
        return f"{text}=none"
    if isinstance(d, str) and a.kind == "str":
        return f'{text}="{d}"'
    return f"{text}={d}"


def markdown() -> str:
    ops = load_ops()
    lines = [
        "# Op reference",
        "",
        "Generated from the op registry (`seqnet/compiler/ops/`) by",
        "`python -m seqnet.compiler.ops.reference`. Shapes exclude the implicit batch axis.",
        "`wormhole_gate` and `segments` are created by the `wormhole` and `segments` statements.",
        "Every op with parameters also takes `tie=v`: it then uses the first weight of the op that",
        "computed `v` (as is, or transposed), e.g. `dense(h, V, tie=emb)` (see language.md).",
        "Subscripts `x[1:]`, `x[:, -1]` become `slice` and `take` nodes.",
        "",
    ]
    for family in FAMILY_STYLES:
        members = sorted(n for n, d in ops.items() if d.family == family)
        if not members:
            continue
        lines += [f"## {family}", "", "| op | signature | does |", "| --- | --- | --- |"]
        for name in members:
            d = ops[name]
            shown = (["cell"] if d.takes_cell else []) + [_arg(a) for a in d.args if a.kind != "any"]
            sig = f"`{name}({', '.join(shown)})`"
            doc = d.doc.replace("|", "\\|")
            if name in INTERNAL:
                doc += " (statement)"
            lines.append(f"| {name} | {sig} | {doc} |")
        lines.append("")
    noted = sorted(n for n, d in ops.items() if d.notes)
    if noted:
        lines += ["## Notes", ""]
        for name in noted:
            lines += [f"### {name}", "", ops[name].notes.strip(), ""]
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown(), end="")
