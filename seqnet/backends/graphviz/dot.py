"""The graph IR as DOT text: styled op nodes, block clusters, repeats, wormholes, segment trees.

This module checks the options and runs the builder (builder.py). The drawing is split by what
each part does: dot_syntax (DOT quoting), labels (words and numbers), themes (colours, fonts),
canvas (the drawing in progress), clusters (blocks and repeats), edges, legend, and rules/ (how
each op is drawn, registered against the op like a lowering).
"""

from __future__ import annotations

from seqnet.backends.graphviz.builder import Builder
from seqnet.backends.graphviz.themes import THEMES

DEFAULTS = {
    "rankdir": "TB",
    "depth": None,
    "show_shapes": True,
    "resolve_dims": False,
    "theme": "light",
    "font": None,  # None: "DejaVu Sans" if installed, else "Helvetica"
    "show_params": True,
    "legend": True,
    "show_segments": False,
    "max_leaves": 16,
    "title": None,  # None: the spec's file name and total parameters
    "unroll": 0,  # draw recurrent cells unrolled over this many time steps (0: a cell + state loop)
    "color_by": "family",  # or "sharding": by how the train section splits each node's parameters
}


def check_options(options: dict) -> dict:
    """The options filled in from DEFAULTS; unknown names and bad values raise."""
    unknown = set(options) - set(DEFAULTS)
    if unknown:
        raise TypeError(
            f"unknown diagram option(s) {', '.join(sorted(unknown))}; "
            f"known: {', '.join(sorted(DEFAULTS))}"
        )
    o = {**DEFAULTS, **options}
    o["rankdir"] = str(o["rankdir"]).upper()
    if o["rankdir"] not in ("TB", "LR"):
        raise ValueError(f"rankdir must be 'TB' or 'LR', not {o['rankdir']!r}")
    if o["theme"] not in THEMES:
        raise ValueError(f"theme must be one of {', '.join(THEMES)}, not {o['theme']!r}")
    if o["color_by"] not in ("family", "sharding"):
        raise ValueError(f"color_by must be 'family' or 'sharding', not {o['color_by']!r}")
    if not isinstance(o["unroll"], int) or o["unroll"] < 0:
        raise ValueError(f"unroll must be a whole number >= 0, not {o['unroll']!r}")
    if o["depth"] is not None and (not isinstance(o["depth"], int) or o["depth"] < 0):
        raise ValueError(f"depth must be a whole number >= 0 or None, not {o['depth']!r}")
    return o


def to_dot(graph, **options) -> str:
    """The diagram as DOT text; see the package docstring for the options."""
    return Builder(graph, check_options(options)).build()
