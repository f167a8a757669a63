"""The viewer page: one self-contained HTML file (the diagram's data, our script and styles all
inline; a Content-Security-Policy forbids the page any network access)."""

from __future__ import annotations

import json
from html import escape
from importlib import resources
from pathlib import Path

from seqnet import atomic
from seqnet.backends.viewer.hierarchy import build

CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'"

BODY = """<div id="bar"><span id="title"></span>
<input id="search" type="search" placeholder="search by name" autocomplete="off">
<span id="count"></span>
<button id="zoom-in" title="zoom in">+</button><button id="zoom-out" title="zoom out">−</button>
<button id="fit" title="fit the diagram to the window">fit</button>
<button id="expand-all">expand all</button><button id="collapse-all">collapse all</button></div>
<div id="main"><svg id="diagram"></svg><ul id="results" hidden></ul>
<div id="source" hidden><div id="source-head"><span id="source-name"></span>
<button id="source-close" title="close">×</button></div><div id="source-body"></div></div></div>
<div id="tip" hidden></div>"""


def _asset(name: str) -> str:
    return resources.files("seqnet.backends.viewer").joinpath(name).read_text(encoding="utf-8")


def _script_json(data: dict) -> str:
    """JSON that is safe inside a <script> element: no `</` (nor `<!--`) can end it early."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.replace("</", "<\\/").replace("<!--", "<\\u0021--")


def to_html(graph, **options) -> str:
    """The page's text for `graph` (options as for the static diagram: theme, resolve_dims...)."""
    data = build(graph, **options)
    t = data["theme"]
    hover = "#eef2f8" if options.get("theme", "light") == "light" else "#333a44"
    colours = (f":root {{ --bg: {t['bg']}; --fg: {t['fg']}; --edge: {t['edge']}; "
               f"--muted: {t['muted']}; --line: {t['cluster_line']}; --hover: {hover}; "
               f"--wormhole: {t['wormhole']}; }}")  # fmt: skip
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        f"<title>{escape(data['title'])}</title>\n"
        f"<style>\n{colours}\n{_asset('viewer.css')}</style></head>\n<body>\n{BODY}\n"
        f'<script id="seqnet-data" type="application/json">{_script_json(data)}</script>\n'
        f"<script>\n{_asset('viewer.js')}</script>\n</body></html>\n"
    )


def write_html(graph, path, **options) -> Path:
    """Write the viewer page to `path` atomically (seqnet.atomic)."""
    path = Path(path)
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_text(path, to_html(graph, **options))
    return path
