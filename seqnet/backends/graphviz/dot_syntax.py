"""DOT syntax: quoted strings, attribute lists, HTML labels and node ids, nothing about seqnet."""

from __future__ import annotations

import re
from html import escape as _html_escape


class Html:
    """An HTML-like label (`label=<...>`): written unquoted, between angle brackets."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text


def quote(text) -> str:
    """A DOT double-quoted string; newlines become centred line breaks."""
    text = str(text).replace("\\", "\\\\").replace('"', '\\"')
    return '"' + text.replace("\n", "\\n") + '"'


def attr_list(items: dict) -> str:
    """`[k="v", ...]` in the dict's order; None values are left out, so callers can pass options
    that only apply sometimes."""
    parts = []
    for k, v in items.items():
        if v is None:
            continue
        if isinstance(v, Html):
            parts.append(f"{k}=<{v.text}>")
        elif isinstance(v, bool):
            parts.append(f"{k}={'true' if v else 'false'}")
        else:
            parts.append(f"{k}={quote(v)}")
    return "[" + ", ".join(parts) + "]"


def node_stmt(nid: str, attrs: dict, indent: str = "  ") -> str:
    return f"{indent}{quote(nid)} {attr_list(attrs)};"


def edge_stmt(src: str, dst: str, attrs: dict, indent: str = "  ") -> str:
    return f"{indent}{quote(src)} -> {quote(dst)} {attr_list(attrs)};"


def html_text(text) -> str:
    """Text escaped for an HTML-like label."""
    return _html_escape(str(text), quote=True)


_ID_BAD = re.compile(r"[^A-Za-z0-9_]")


def sanitize(name: str) -> str:
    """A node name as a DOT/SVG id: stable across runs, so scripts can find a node by it."""
    s = _ID_BAD.sub("_", name)
    if not s or s[0].isdigit():
        s = "n_" + s
    return s
