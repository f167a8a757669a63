"""The interactive diagram: one self-contained HTML page (`seqnet render SPEC -o model.html`).

    to_html(graph, **options) -> str     the page's text
    write_html(graph, path, **options)   writes it atomically

Pan and zoom, blocks and repeats that expand and collapse in place (collapsed at first on big
specs), hover for types, parameters and file:line:col, click for the source line, search by
name. hierarchy.py turns the IR into the page's data; viewer.js lays it out level by level.
"""

from seqnet.backends.viewer.page import to_html, write_html

__all__ = ["to_html", "write_html"]
