"""Every shipped spec checks, is already canonically formatted, and survives parse -> fmt -> parse."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import pytest

from seqnet import cli
from seqnet.grammar.format import format_module
from seqnet.grammar.parser import parse
from seqnet.pipeline import compile_source, read_source
from seqnet.source import SourceFile

ROOT = Path(__file__).resolve().parents[2]
SPECS = sorted((ROOT / "specs").glob("*.seqnet"))
ALL_SPECS = sorted((ROOT / "specs").rglob("*.seqnet"))
SKIP_KEYS = {"span", "chain", "spans", "output_spans", "source", "files"}


def _ids(paths):
    return [str(p.relative_to(ROOT / "specs")) for p in paths]


def strip(value):
    """Drop spans (anything positional) from nested node/edge data."""
    if isinstance(value, nx.MultiDiGraph):  # segment regions are graphs of their own
        return graph_signature(value)
    if isinstance(value, dict):
        return {k: strip(v) for k, v in value.items() if k not in SKIP_KEYS}
    if isinstance(value, (list, tuple)):
        return type(value)(strip(v) for v in value) if not hasattr(value, "_fields") else value
    return value


def graph_signature(g):
    nodes = [(n, strip(dict(a))) for n, a in g.nodes(data=True)]
    edges = [(u, v, k, strip(dict(a))) for u, v, k, a in g.edges(keys=True, data=True)]
    meta = {k: v for k, v in g.graph.items() if k not in SKIP_KEYS}
    return nodes, edges, repr(meta)


def compile_text(path: Path, text: str):
    graph, diags = compile_source(SourceFile(str(path), text, path.resolve()))
    assert graph is not None, "\n\n".join(d.render() for d in diags)
    return graph


@pytest.mark.parametrize("path", SPECS, ids=_ids(SPECS))
def test_check_passes(path, capsys):
    assert cli.main(["check", str(path)]) == 0, capsys.readouterr().err


@pytest.mark.parametrize("path", ALL_SPECS, ids=_ids(ALL_SPECS))
def test_fmt_canonical_and_idempotent(path, capsys):
    assert cli.main(["fmt", "--check", str(path)]) == 0, capsys.readouterr().err
    source, err = read_source(path)
    assert err is None
    module, diags = parse(source)
    assert module is not None, diags
    once = format_module(module)
    assert once == source.text
    module2, _ = parse(SourceFile(str(path), once, path.resolve()))
    assert format_module(module2) == once


@pytest.mark.parametrize("path", SPECS, ids=_ids(SPECS))
def test_fmt_preserves_graph(path):
    source, _ = read_source(path)
    original = compile_text(path, source.text)
    module, _ = parse(source)
    formatted = format_module(module)
    again = compile_text(path, formatted)
    assert list(original.nodes) == list(again.nodes)
    assert graph_signature(original) == graph_signature(again)


@pytest.mark.parametrize("path", SPECS[:4], ids=_ids(SPECS[:4]))
def test_fmt_of_messy_layout_gives_canonical_text(path):
    """Re-indented, extra-blank-line versions format back to the shipped text."""
    text = path.read_text()
    messy = "\n\n".join(line.replace(" = ", "   =   ").replace(", ", " ,  ") if not line.lstrip().startswith("#")
                        else line for line in text.splitlines()) + "\n"
    module, diags = parse(SourceFile(str(path), messy, path.resolve()))
    assert module is not None, [d.render() for d in diags]
    assert graph_signature(compile_text(path, messy)) == graph_signature(compile_text(path, text))
