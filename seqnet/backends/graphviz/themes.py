"""Colours and fonts: the light and dark themes, op-family styles, the default font."""

from __future__ import annotations

import functools
import shutil
import subprocess

from seqnet.compiler.ops.registry import FAMILY_STYLES

THEMES = {
    "light": {
        "bg": "white", "fg": "#222222", "edge": "#555555", "muted": "#6b6b6b",
        "clusters": ("#f6f6f6", "#ececec"), "cluster_line": "#9a9a9a",
        "repeat_fill": "#eef4fc", "repeat_line": "#3b6fb6", "wormhole": "#d62728",
        "state": "#b35900", "carry": "#3b6fb6", "segments_fill": "#fbf2fb",
    },
    "dark": {
        "bg": "#1e1e1e", "fg": "#e6e6e6", "edge": "#b0b0b0", "muted": "#a0a0a0",
        "clusters": ("#262626", "#303030"), "cluster_line": "#6a6a6a",
        "repeat_fill": "#1f2a38", "repeat_line": "#7fa7e0", "wormhole": "#ff6b6b",
        "state": "#ffb366", "carry": "#7fa7e0", "segments_fill": "#2e2230",
    },
}  # fmt: skip


def family_style(family: str, theme: str) -> tuple[str, str]:
    """(graphviz shape, fill colour) of an op family in a theme (the registry's FAMILY_STYLES)."""
    shape, light, dark = FAMILY_STYLES.get(family, FAMILY_STYLES["io"])
    return shape, (light if theme == "light" else dark)


@functools.lru_cache(maxsize=1)
def default_font() -> str:
    """ "DejaVu Sans" when fontconfig knows it (most Linux machines), else "Helvetica"."""
    if shutil.which("fc-list"):
        try:
            out = subprocess.run(
                ["fc-list", ":", "family"], capture_output=True, text=True, timeout=10
            ).stdout
        except (OSError, subprocess.SubprocessError):
            out = ""
        if "DejaVu Sans" in out:
            return "DejaVu Sans"
    return "Helvetica"
