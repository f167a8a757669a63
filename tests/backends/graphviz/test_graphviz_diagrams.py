"""Architecture diagrams (seqnet.backends.graphviz): golden DOT, determinism, SVG/PNG, options.

Regenerate the golden files after an intended change to the drawing:

    SEQNET_REGEN=1 PYTHONPATH=. pytest tests/backends/graphviz
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import seqnet
from seqnet.backends.graphviz import DotMissing, render, to_dot, to_svg

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "dot"
SPEC_DIR = Path(__file__).resolve().parents[3] / "specs"
REGEN = os.environ.get("SEQNET_REGEN") == "1"
FONT = "DejaVu Sans"  # fixed, so golden files do not depend on the fonts of the machine
HAVE_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not HAVE_DOT, reason="Graphviz `dot` is not installed")

SPECS = {
    "wormhole_repeat": """\
dim N = 8
input x : float32[N, 4]
block mlp(x, out, hidden=32) {
  h = dense(x, hidden, act=relu)
  return dense(h, out)
}
h = dense(x, 16)
h = repeat 3 shared { mlp(h, 16) + h }
h1 = dense(mean(h), 32, act=tanh)
h2 = dense(h1, 32, act=tanh)
h3 = dense(h2, 32, act=tanh)
wormhole h3 -> h1 gate=sigmoid tol=1e-3 max_iter=300
output y : float32[2] = dense(h3, 2)
""",
    "segments": """\
dim N = 8
dim E = 16
input x : int32[N] vocab 2
block enc(x, out) { return dense(x, out, act=relu) }
block fuse(l, r, out) { return dense(concat(l, r), out, act=relu) }
block head(p, s, q, out) { return dense(concat(p, s, q), out) }
segments tree = binary_tree(N) {
  token = enc(out=E)
  fusion = fuse(out=E)
  decoder = head(out=2)
  share = per_level
}
output y : float32[2] = tree(embed(x, E))
""",
    "lstm": """\
dim T = 12
input x : float32[T, 8]
h, s = lstm(x, 32, return_state=true)
z = gru(h, 16, mode=many_to_one)
output y : float32[4] = dense(concat(z, s), 4)
""",
    "simplicial": """\
dim N = 16
dim E = 32
input x : float32[N, E]
block layer(x) {
  a = simplicial_attention(x, heads=4, virtual=8)
  return layernorm(a + x)
}
b = layer(layer(x))
output y : float32[N, E] = attention(b, heads=2)
""",
    "tensors": """\
dim T = 6
dim E = 8
input x : int32[T] vocab 20
emb = embed(shift(x, 1, fill=0), E)
cls = param([1, E])
h = concat(cls, emb, axis=0)
h = attention(h, heads=2)[1:]
output y : float32[T, 20] = dense(h, 20, tie=emb)
""",
    "cell": """\
dim T = 5
dim H = 8
input x : float32[T, 4]
block rnn_cell(x, state) {
  h = dense(concat(x, state), H, act=tanh)
  return h, h
}
output y : float32[T, H] = scan(rnn_cell, x, state=[H], reverse=true)
""",
}


def model(name: str, **overrides):
    return seqnet.loads(SPECS[name], name=f"{name}.sqn", **overrides)


def node_ids(dot: str) -> list[str]:
    return re.findall(r'^\s*"([^"]+)" \[id=', dot, flags=re.M)


# --- golden DOT --------------------------------------------------------------------------------

GOLDEN_CASES = [
    ("wormhole_repeat", {}),
    ("segments", {}),
    ("lstm", {}),
    ("simplicial", {}),
    ("tensors", {}),  # a learned tensor, a subscript, a shift and a tied weight
    ("cell", {}),  # a user cell scanned: its state loop
    ("cell", {"unroll": 3}),
    ("wormhole_repeat", {"depth": 0, "rankdir": "LR", "theme": "dark", "resolve_dims": True}),
    ("segments", {"show_segments": True, "max_leaves": 4}),
    ("wormhole_repeat", {"rankdir": "LR"}),  # the "next copy" arc over the top
]


def _golden_name(name: str, opts: dict) -> str:
    suffix = "".join(f"-{k}={v}" for k, v in sorted(opts.items()))
    return f"{name}{suffix}.dot"


@pytest.mark.parametrize("name,opts", GOLDEN_CASES, ids=[_golden_name(*c) for c in GOLDEN_CASES])
def test_golden_dot(name, opts):
    dot = to_dot(model(name).graph, font=FONT, **opts)
    path = GOLDEN / _golden_name(name, opts)
    if REGEN or not path.exists():
        if not REGEN:
            pytest.fail(f"golden file {path} is missing: run with SEQNET_REGEN=1 to create it")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dot, encoding="utf-8")
    assert dot == path.read_text(encoding="utf-8"), (
        f"{path.name} changed; if intended, regenerate with SEQNET_REGEN=1"
    )


@pytest.mark.parametrize("name", sorted(SPECS))
def test_deterministic(name):
    a = to_dot(model(name).graph)
    b = to_dot(model(name).graph)  # a fresh compile, too
    assert a == b


# --- content -------------------------------------------------------------------------------------


def test_wormhole_repeat_content():
    dot = to_dot(model("wormhole_repeat").graph, font=FONT)
    ids = node_ids(dot)
    # the repeat is drawn once: copy 0 only
    assert "h_1_0_mlp_h" in ids and "h_1_1_mlp_h" not in ids and "h_1_2_add" not in ids
    assert 'label="repeat ×3, shared' in dot
    assert 'label="mlp  ·  1,072 params"' in dot
    # the repeat's output is re-routed from its copy 0 to the consumer
    assert '"h_1_0_add" -> "mean"' in dot
    # the wormhole: dashed back-edge that does not constrain the ranking, labelled with settings
    wh = [line for line in dot.splitlines() if '"wormhole_h3_to_h1" -> "h1"' in line]
    assert len(wh) == 1
    assert "constraint=false" in wh[0] and "dashed" in wh[0]
    assert "gate=sigmoid" in wh[0] and "tol=0.001" in wh[0] and "max_iter=300" in wh[0]
    # node labels and edge shapes (as written), output drawn as its own node
    assert 'label="h1\\ndense 32, tanh\\n544 params"' in dot
    assert 'label="float32[N, 16]"' in dot
    assert '"output_y"' in dot and '"y" -> "output_y"' in dot
    assert "input / output" in dot and "wormhole (back-edge)" in dot  # the legend, in the label
    # the residual fan-out enters the repeat once, at a junction inside it; the next-copy carry
    # goes to that junction (one dotted edge round the side), not to each consumer
    (junction,) = re.findall(r'"(h__into__[^"]+)" \[id=', dot)
    assert f'"h" -> "{junction}"' in dot and f'"{junction}" -> "h_1_0_mlp_h"' in dot
    carry = [line for line in dot.splitlines() if "feeds the next repeat copy" in line]
    assert len(carry) == 1 and f'-> "{junction}"' in carry[0] and "tailport" in carry[0]


def test_resolve_dims_and_show_shapes():
    g = model("wormhole_repeat").graph
    assert 'label="float32[8, 16]"' in to_dot(g, resolve_dims=True)
    assert "float32[N, 16]" not in to_dot(g, resolve_dims=True).split("tooltip")[0]
    plain = to_dot(g, show_shapes=False)
    assert 'label="float32[N, 16]"' not in plain


def segments_id(g) -> str:
    (name,) = [n for n in g.nodes if g.nodes[n]["op"] == "segments"]
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


def test_segments_tree():
    g = model("segments").graph
    dot = to_dot(g, font=FONT)
    ids, s = node_ids(dot), segments_id(g)
    leaves = [i for i in ids if re.fullmatch(rf"{s}__t\d+", i)]
    fusions = [i for i in ids if i.startswith(f"{s}__f")]
    assert len(leaves) == 8 and len(fusions) == 7 and f"{s}__decoder" in ids
    assert f'"embed" -> "{s}__tokens"' in dot and f'"{s}__decoder" -> "output_y"' in dot
    # titled with the structure's own name (from the call site), kind, N and sharing
    assert "segments tree = binary_tree(N=8)  ·  share=per_level" in dot
    # the final network's decoder reads (0, eps(1,N), 0): two zero inputs beside the root
    for role in ("prefix", "suffix"):
        assert f'"{s}__{role}_zero" -> "{s}__decoder"' in dot
    assert f'"{s}__f1_8" -> "{s}__decoder" [label="ε(1,8)"' in dot
    # each token cell feeds its own encoder
    assert f'"{s}__tokens" -> "{s}__t3" [tailport="p2:s"' in dot
    full = to_dot(model("segments").graph, show_segments=True)
    assert "S: 25 segments" in full and "(1,8)|4" in full


def test_segments_large_n_is_elided():
    g = model("segments", N=64).graph
    ids, s = node_ids(to_dot(g)), segments_id(g)
    leaves = [i for i in ids if re.fullmatch(rf"{s}__t\d+", i)]
    ellipses = [i for i in ids if i.startswith(f"{s}__e")]
    assert len(leaves) + len(ellipses) <= 16 and ellipses


def test_recurrent_state_loop():
    dot = to_dot(model("lstm").graph)
    assert '"h_s" -> "h_s"' in dot and "state 64 = (h, c)" in dot and "many_to_many" in dot
    assert '"z" -> "z"' in dot and "state 16" in dot and "many_to_one" in dot
    assert 'label="state: float32[64]"' in dot  # the second output port is named


def test_simplicial_label():
    dot = to_dot(model("simplicial").graph)
    assert "8 virtual entities" in dot and "1-simplicial" in dot and "2-simplicial" in dot
    # the residual `a + x` branches inside each block, not around its outside
    assert len(re.findall(r'shape="point"', dot)) == 2


def test_long_labels_wrap_not_clip():
    from seqnet.backends.graphviz.labels import wrap

    assert wrap("concat → dense 64, relu → dense 2") == "concat → dense 64, relu\n→ dense 2"
    m = seqnet.load(str(SPEC_DIR / "lstm_sort.seqnet"))
    dot = to_dot(m.graph, font=FONT)
    assert "…" not in dot
    # two outputs, each edge named by its port; the state feeds the decoder's `initial`
    assert 'label="out: float32[H]"' in dot  # lstm(x, H): the dim as written
    assert 'label="state: float32[256]\\n→ initial"' in dot


def test_depth_collapses_blocks():
    g = model("simplicial").graph
    full, collapsed = to_dot(g), to_dot(g, depth=0)
    assert len(node_ids(collapsed)) < len(node_ids(full))
    assert "box3d" in collapsed and "3 ops" in collapsed
    g = model("wormhole_repeat").graph
    counts = [len(node_ids(to_dot(g, depth=d))) for d in (0, 1, None)]
    assert counts[0] < counts[1] < counts[2]


def test_bad_options():
    g = model("lstm").graph
    with pytest.raises(TypeError, match="unknown diagram option"):
        to_dot(g, colour="red")
    with pytest.raises(ValueError, match="rankdir"):
        to_dot(g, rankdir="BT")
    with pytest.raises(ValueError, match="theme"):
        to_dot(g, theme="neon")


# --- rendering through the real `dot` ----------------------------------------------------------


@needs_dot
def test_svg_ids_and_tooltips():
    m = model("wormhole_repeat")
    svg = to_svg(m.graph)
    root = ET.fromstring(svg)
    ids = {el.get("id") for el in root.iter()}
    assert {"h1", "h_1_0_mlp_h", "output_y", "x"} <= ids
    assert re.search(r"wormhole_repeat\.sqn:9:6", svg)  # h1's file:line:col in its tooltip
    assert m._repr_svg_() == svg


@needs_dot
@pytest.mark.parametrize("name", ["wormhole_repeat", "segments"])
def test_png_dimensions(tmp_path, name):
    out = model(name).render(tmp_path / f"{name}.png")
    assert out == tmp_path / f"{name}.png"
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert 200 <= width <= 5000 and 300 <= height <= 5000


@needs_dot
def test_render_formats(tmp_path):
    m = model("lstm")
    for suffix, magic in [(".svg", b"<?xml"), (".pdf", b"%PDF"), (".dot", b"digraph")]:
        assert m.render(tmp_path / f"m{suffix}").read_bytes().startswith(magic)
    with pytest.raises(ValueError, match="cannot render"):
        m.render(tmp_path / "m.jpeg2000")


def test_missing_dot(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    m = model("lstm")
    with pytest.raises(DotMissing) as info:
        m.render(tmp_path / "arch.svg")
    message = str(info.value)
    assert "apt-get install graphviz" in message and "brew install graphviz" in message
    assert (tmp_path / "arch.dot").read_text().startswith("digraph")
    assert info.value.dot_path == tmp_path / "arch.dot"
    # .dot needs no binary at all
    assert render(m.graph, tmp_path / "only.dot").exists()
    with pytest.raises(DotMissing):
        to_svg(m.graph)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_fast_topo_order_matches_compiler(name):
    from seqnet.backends.graphviz.builder import fast_topo_order
    from seqnet.compiler.graph import topo_order

    g = model(name).graph
    assert fast_topo_order(g) == topo_order(g)


# --- every shipped spec -------------------------------------------------------------------------


@needs_dot
@pytest.mark.parametrize("path", sorted(SPEC_DIR.glob("*.seqnet")), ids=lambda p: p.stem)
def test_every_shipped_spec_renders(path):
    """Each spec in specs/ draws to DOT and, through the real `dot`, to SVG; every op node drawn
    (copy 0 of a repeat; a segment structure as its cluster) has its id in the SVG."""
    from seqnet.backends.graphviz.dot_syntax import sanitize

    g = seqnet.load(str(path)).graph
    dot = to_dot(g, font=FONT)
    assert dot == to_dot(g, font=FONT)
    svg = to_svg(g, font=FONT)
    ids = {el.get("id") for el in ET.fromstring(svg).iter()}
    assert set(node_ids(dot)) <= ids
    for n, data in g.nodes(data=True):
        if any(r[1] for r in data.get("repeats") or ()):
            continue  # later repeat copies are drawn once, as copy 0
        nid = sanitize(n)
        assert (nid if data["op"] != "segments" else "cluster_" + nid) in ids, n
    for name in g.graph["outputs"]:
        assert "output_" + sanitize(name) in ids


def test_recurrent_cells_unrolled():
    import seqnet
    from seqnet.backends.graphviz import to_dot

    g = seqnet.loads("input x : float32[6, 4]\nh = lstm(x, 8)\noutput y : float32[6, 8] = h\n").graph
    dot = to_dot(g, unroll=3)
    assert "lstm t=2" in dot and "lstm t=3" in dot and "… t=4..6" in dot
    assert dot.count("(h, c) 16") == 3  # the state passed along three times
    assert "unrolled (many_to_many)" in dot
    full = to_dot(g, unroll=10)  # never more cells than steps
    assert "lstm t=6" in full and "lstm t=7" not in full and "…" not in full
    assert to_dot(g) == to_dot(g, unroll=0)


def test_the_title_says_what_the_settings_chose():
    text = ('const BLOCK = "attn"\ninput x : float32[4, 8]\n'
            "h = choose(BLOCK, attn=attention(x), mlp=dense(x, 8))\noutput y : float32[4, 8] = h\n")  # fmt: skip
    assert "BLOCK = mlp" in to_dot(seqnet.loads(text, BLOCK="mlp").graph)
    assert "BLOCK = attn" in to_dot(seqnet.loads(text).graph)
