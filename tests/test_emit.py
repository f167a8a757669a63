"""seqnet check --emit: the syntax tree, the graph IR, and StableHLO whose ops name spec nodes."""

from pathlib import Path

from seqnet import cli

ROOT = Path(__file__).resolve().parent.parent
SPEC = str(ROOT / "specs" / "wormhole_sine.seqnet")


def run(capsys, *args):
    rc = cli.main(["check", *args])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_emit_graph_lists_every_node_with_its_location(capsys):
    rc, out, _ = run(capsys, SPEC, "--emit", "graph")
    assert rc == 0
    assert "h1 = dense(x=x, act=tanh, bias=true, units=32) : float32[T, H]  # " in out  # dense(x, H)
    assert "wormhole_sine.seqnet:8:6" in out
    assert "wormhole wormhole_h3_to_h1 -> h1 (" in out and out.rstrip().endswith("outputs: y = y")


def test_emit_ast(capsys):
    rc, out, _ = run(capsys, SPEC, "--emit", "ast")
    assert rc == 0 and "Wormhole()" in out and "InputDecl(name='x')  @6:1" in out


def test_emit_stablehlo_names_spec_nodes(capsys):
    rc, out, _ = run(capsys, str(ROOT / "specs" / "mlp_digits.seqnet"), "--emit", "stablehlo")
    assert rc == 0 and "stablehlo.dot_general" in out
    assert '/h/dot_general"' in out  # the XLA op's location carries the node name ...
    assert "//   h: dense at " in out and "mlp_digits.seqnet:6:5" in out  # ... and its line


def test_emit_on_a_broken_spec_reports_errors(capsys, tmp_path):
    bad = tmp_path / "bad.seqnet"
    bad.write_text("input x : float32[4]\noutput y : float32[4] = densse(x, 4)\n")
    rc, out, err = run(capsys, str(bad), "--emit", "graph")
    assert rc == 1 and "unknown op or block 'densse'" in err and out == ""


def test_emit_graph_states_each_choice(capsys):
    rc, out, _ = run(capsys, SPEC, "--set", "WORMHOLE=false", "--emit", "graph")
    assert rc == 0 and "wormhole_gate" not in out
    assert "choice wormhole h3 -> h1 enabled=WORMHOLE at " in out
    assert ": true 2,080 parameters, false 0 parameters (chosen)" in out
