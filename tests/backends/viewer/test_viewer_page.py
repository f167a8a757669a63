"""The interactive diagram page (seqnet.backends.viewer) without a browser: what the page holds,
that it is self-contained, where each edge is laid out, and how it is written. The page in a
real browser is tests/backends/viewer/test_viewer_browser.py."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

import seqnet
from seqnet.atomic import NotARegularFile
from seqnet.backends.viewer import to_html, write_html
from seqnet.backends.viewer.hierarchy import build
from tests.cli_run import run

SPECS = Path(__file__).resolve().parents[3] / "specs"


def page_data(html: str) -> dict:
    m = re.search(r'<script id="seqnet-data" type="application/json">(.*?)</script>', html, re.S)
    assert m, "no data in the page"
    return json.loads(m.group(1))


def test_cli_writes_one_self_contained_page(tmp_path, capsys):
    out = tmp_path / "model.html"
    rc, stdout, _ = run(["render", str(SPECS / "residual_mlp.seqnet"), "-o", str(out)], capsys)
    assert rc == 0 and f"wrote {out}" in stdout
    html = out.read_text()
    assert html.startswith("<!DOCTYPE html>")
    # nothing is fetched: no external script, style, image or link, and the policy forbids it
    assert not re.search(r"<(script|link|img|iframe)[^>]*\s(src|href)=", html)
    assert "default-src 'none'" in html
    assert "http://" not in html and "https://" not in html
    assert html.count("<script") == 2  # the data and our own script, both inline


def test_the_page_holds_every_drawn_node_with_its_span_type_and_source():
    m = seqnet.load(SPECS / "residual_mlp.seqnet")
    d = page_data(to_html(m.graph))
    names = {n["name"] for n in d["nodes"]}
    assert {"x", "h", "h_1/0/residual/mlp/h", "layernorm", "y", "output y"} <= names
    assert not any(n.startswith("h_1/1/") for n in names)  # a repeat is drawn once, as copy 0
    files = [f["name"] for f in d["files"]]
    assert [Path(f).name for f in files] == ["residual_mlp.seqnet", "layers.seqnet"]
    dense = next(n for n in d["nodes"] if n["name"] == "h_1/0/residual/mlp/h")
    fi, line, col = dense["span"]
    assert d["files"][fi]["text"].splitlines()[line - 1][col - 1:].startswith("dense(x, hidden")
    assert "float32[2*W]" in dense["tip"] and "params: 8,320" in dense["tip"]
    assert f"layers.seqnet:{line}:{col}" in dense["tip"]
    titles = {c["title"]: c for c in d["clusters"]}
    assert titles["repeat ×3"]["paramsText"] == "3 × 16.7k params"
    assert titles["mlp"]["parent"] == d["clusters"].index(titles["residual"])


def test_each_edge_is_filed_under_the_innermost_cluster_holding_both_ends():
    m = seqnet.load(SPECS / "residual_mlp.seqnet")
    d = build(m.graph)
    idx = {n["name"]: i for i, n in enumerate(d["nodes"])}
    cl = {c["title"]: i for i, c in enumerate(d["clusters"])}
    by_ends = {(d["nodes"][e["from"]]["name"], d["nodes"][e["to"]]["name"]): e for e in d["edges"]}
    skip = by_ends[("h", "h_1/0/residual/add")]  # the residual: from the top level into copy 0
    assert (skip["level"], skip["itemFrom"], skip["itemTo"]) == (0, -1, cl["repeat ×3"])
    inner = by_ends[("h_1/0/residual/mlp/h", "h_1/0/residual/mlp/dense")]
    assert (inner["level"], inner["itemFrom"], inner["itemTo"]) == (cl["mlp"], -1, -1)
    out = by_ends[("h_1/0/residual/mlp/dense", "h_1/0/residual/add")]
    assert (out["level"], out["itemFrom"], out["itemTo"]) == (cl["residual"], cl["mlp"], -1)
    assert by_ends[("y", "output y")]["level"] == 0
    assert all(0 <= e["from"] < len(idx) and 0 <= e["to"] < len(idx) for e in d["edges"])


def test_a_wormhole_is_a_back_edge_and_a_type_labels_each_edge():
    d = build(seqnet.load(SPECS / "wormhole_digits.seqnet").graph)
    back = [e for e in d["edges"] if e["back"]]
    assert len(back) == 1 and back[0]["label"] is None
    assert any(e["label"] == "float32[H]" for e in d["edges"])
    assert "float32[64]" in build(seqnet.load(SPECS / "wormhole_digits.seqnet").graph,
                                  resolve_dims=True)["nodes"][0]["label"]


def test_source_text_cannot_end_the_data_script_early():
    text = ("# </script><script>alert(1)</script> <!-- a comment that looks like markup\n"
            "input x : float32[4]\noutput y : float32[4] = dense(x, 4)\n")
    html = to_html(seqnet.loads(text, name="tricky.seqnet").graph)
    assert html.count("</script>") == 2
    assert page_data(html)["files"][0]["text"] == text


def test_the_page_is_written_atomically_and_a_non_regular_target_is_refused(tmp_path):
    m = seqnet.load(SPECS / "mlp_digits.seqnet")
    out = m.render(tmp_path / "sub" / "m.html")  # Model.render picks the page by the suffix
    assert out.read_text().startswith("<!DOCTYPE html>")
    assert not [p for p in out.parent.iterdir() if p.name.endswith(".tmp")]
    fifo = tmp_path / "pipe.html"
    os.mkfifo(fifo)
    with pytest.raises(NotARegularFile):
        write_html(m.graph, fifo)
    assert fifo.is_fifo()


def test_a_bad_spec_writes_no_page(tmp_path, capsys):
    bad = tmp_path / "bad.seqnet"
    bad.write_text("input x : float32[8]\noutput y : float32[8] = dens(x, 8)\n")
    out = tmp_path / "bad.html"
    rc, _, err = run(["render", str(bad), "-o", str(out)], capsys)
    assert rc != 0 and "bad.seqnet:2:" in err and not out.exists()
