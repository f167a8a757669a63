"""The key under the title: one swatch per op family drawn, one mark per drawing feature used.

Features are whatever the builder and the drawing rules add beyond plain nodes (a repeat, a
recurrent state loop, a wormhole's back-edge); each brings its own legend mark, so the legend
knows nothing about ops.
"""

from __future__ import annotations

from dataclasses import dataclass

from seqnet.backends.graphviz.dot_syntax import Html, html_text
from seqnet.backends.graphviz.themes import family_style


@dataclass(frozen=True)
class Mark:
    """A legend entry: `symbol` in the theme's `colour` (a THEMES key), then `text`."""

    colour: str
    symbol: str
    text: str


def graph_label(c, title: str):
    """The title and, below it in small print, the legend (or just the title). `c` is the
    canvas (canvas.Canvas) with the families and features drawn."""
    if not c.o["legend"] or not (c.families or c.features or (c.splits and c.splits.used)):
        return title or None
    rows = []
    if title:
        rows.append(f"<TR><TD>{html_text(title)}</TD></TR>")
    rows.append(f'<TR><TD><FONT POINT-SIZE="8">{legend(c)}</FONT></TD></TR>')
    return Html('<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="2">'
                + "".join(rows) + "</TABLE>")  # fmt: skip


def legend(c) -> str:
    """The key as an HTML table, a few entries per row: it goes into the graph's label under
    the title, so it never takes a rank of its own (a tall legend node beside the inputs
    stretched the first edges) and never covers the drawing."""
    t = c.t
    entries = []
    swatches = [("input / output" if fam == "io" else fam, family_style(fam, c.o["theme"])[1])
                for fam in c.families]  # fmt: skip
    swatches += c.splits.legend() if c.splits is not None else []  # color_by="sharding"
    for name, fill in swatches:
        entries.append(f'<TD BGCOLOR="{fill}" BORDER="1" COLOR="{t["muted"]}" WIDTH="16" '
                       f'HEIGHT="10" FIXEDSIZE="TRUE"></TD><TD ALIGN="LEFT">{html_text(name)}</TD>'
                       '<TD WIDTH="6"></TD>')  # fmt: skip
    for mark in c.features:
        entries.append(f'<TD><FONT COLOR="{t[mark.colour]}">{html_text(mark.symbol)}</FONT></TD>'
                       f'<TD ALIGN="LEFT">{html_text(mark.text)}</TD><TD WIDTH="6"></TD>')  # fmt: skip
    per_row = 4 if c.o["rankdir"] == "TB" else max(4, -(-len(entries) // 2))
    rows = []
    for k in range(0, len(entries), per_row):
        chunk = entries[k : k + per_row]
        chunk += ["<TD></TD><TD></TD><TD></TD>"] * (per_row - len(chunk)) if k else []
        rows.append("<TR>" + "".join(chunk) + "</TR>")
    return (
        '<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="1" CELLPADDING="1">'
        + "".join(rows) + "</TABLE>"
    )  # fmt: skip
