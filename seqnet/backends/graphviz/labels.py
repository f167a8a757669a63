"""The words in a diagram: numbers, op summaries, wrapped node labels and node tooltips."""

from __future__ import annotations

import re

from seqnet.compiler.graph import output_type, param_count
from seqnet.compiler.ir import Node
from seqnet.compiler.ops.registry import OPS

MAX_LABEL = 44  # summaries that must stay on one line are clipped at this many characters
WRAP = 30  # node label lines wrap at about this many characters


def count(n: int) -> str:
    """4242 -> "4,242"; 12345 -> "12.3k"; 2_500_000 -> "2.5M"."""
    if n < 10_000:
        return f"{n:,}"
    if n < 1_000_000:
        return f"{n / 1e3:.1f}k"
    if n < 1_000_000_000:
        return f"{n / 1e6:.1f}M"
    return f"{n / 1e9:.1f}G"


def params_text(n: int) -> str:
    return f"{count(n)} param{'s' if n != 1 else ''}"


def fmt_value(v) -> str:
    """An attribute value as a spec would write it (1e-3 as 0.001, true, (3, 3))."""
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (tuple, list)):
        return "(" + ", ".join(fmt_value(x) for x in v) + ")"
    return str(v)


def clip(text: str, n: int = MAX_LABEL) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def op_summary(op: str, attrs: dict, skip=(), whole: bool = False) -> str:
    """`dense 32, relu`: the op, its required attributes, and those changed from the default.

    `skip` names attributes the caller shows some other way; `whole=True` keeps the whole text
    (node labels wrap it with `wrap` instead of cutting it off)."""
    d = OPS.get(op)
    if d is None:
        return op
    parts = []
    for a in d.attr_args:
        if a.kind == "any" or a.name not in attrs or a.name in skip:
            continue
        v = attrs[a.name]
        if a.required:
            parts.append(fmt_value(v))
        elif v != a.default:
            parts.append(fmt_value(v) if a.name == "act" else f"{a.name}={fmt_value(v)}")
    text = op + (" " + ", ".join(parts) if parts else "")
    return text if whole else clip(text)


def wrap(text: str, width: int = WRAP) -> str:
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


def node_tooltip(g, n: str, data: Node, summary: str) -> str:
    """Where a node comes from (file:line:col, call sites), its types, parameters and FLOPs."""
    lines = [str(data.span) if data.span is not None else "(no source)"]
    chain = data.chain
    if chain:
        lines.append("called from " + ", ".join(str(s) for s in chain))
    lines.append(f"{data.op}: {summary}  [{n}]")
    ins = []
    for _arg, ref in data.args:
        refs = ref if ref and isinstance(ref[0], tuple) else (ref,)
        for r in refs:
            if r is not None:
                ins.append(str(output_type(g, r)))
    if ins:
        lines.append("in: " + ", ".join(ins))
    lines.append("out: " + ", ".join(str(x) for x in data.outputs))
    owner = data.param_owner
    if owner != n:
        lines.append(f"params: shared with {owner}")
    else:
        lines.append(f"params: {param_count(g, n):,}")
    if data.flops:
        lines.append(f"flops: {data.flops:,} per example")
    return "\n".join(lines)
