"""Architecture diagrams: the graph IR drawn with Graphviz.

    to_dot(graph, **options) -> str      the DOT text (deterministic: byte-identical per spec)
    to_svg(graph, **options) -> str      SVG through the system `dot` binary
    render(graph, path, **options)       writes .dot/.svg/.png/.pdf (format from the suffix)

Options: rankdir ("TB" | "LR"), depth (collapse blocks nested deeper than K into one node),
show_shapes (edge labels, default True), resolve_dims (numbers instead of dim names),
theme ("light" | "dark"), font (default: "DejaVu Sans" when installed, else "Helvetica"),
show_params (default True), legend (default True), show_segments (list the full segment set S),
max_leaves (segment trees wider than this are drawn with an ellipsis, default 16), color_by
("family", or "sharding": by how the train section's sharding rules split each node's parameters).
"""

from seqnet.backends.graphviz.dot import DEFAULTS, to_dot
from seqnet.backends.graphviz.render import FORMATS, DotMissing, render, to_svg

__all__ = ["DEFAULTS", "FORMATS", "DotMissing", "render", "to_dot", "to_svg"]
