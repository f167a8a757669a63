"""`seqnet summary --xla`: XLA's FLOPs against the registry's, and the CLI line.

Counting convention (see seqnet/backends/jax/xla_check.py): the registry counts a dense layer as
2 * in * out per example and leaves out its bias add and activation; XLA counts the matmul the
same way plus one flop per output element of each elementwise op. So for a dense MLP XLA may
exceed the registry by at most (bias + activation) elements, a fraction of a percent here, and
the two must agree within 10%.
"""

from __future__ import annotations

import pytest

import seqnet
from seqnet import cli
from seqnet.backends.jax.xla_check import xla_cross_check

MLP = """\
input x : float32[784]
h = dense(x, 512, act=relu)
h = dense(h, 512, act=relu)
output y : float32[10] = dense(h, 10)
"""
MATMUL = 2 * (784 * 512 + 512 * 512 + 512 * 10)  # per example
ELEMENTWISE = (512 + 512 + 10) + (512 + 512)  # bias adds + relus, per example

LSTM = """\
input x : float32[16, 8]
output y : float32[4] = dense(lstm(x, 32, mode=many_to_one), 4)
"""


@pytest.mark.parametrize("batch", [1, 8])
def test_dense_mlp_flops_agree(batch):
    result = xla_cross_check(seqnet.loads(MLP).graph, batch=batch)
    assert result["registry_flops"] == MATMUL * batch
    assert abs(result["ratio"] - 1.0) < 0.10, result
    # XLA counts at least the matmuls, and at most the elementwise work beyond them.
    assert MATMUL * batch <= result["xla_flops"] <= (MATMUL + ELEMENTWISE) * batch, result
    assert result["loops"] == 0 and result["note"] is None
    assert result["argument_bytes"] > 0


def test_loops_are_flagged():
    result = xla_cross_check(seqnet.loads(LSTM).graph)
    assert result["loops"] >= 1
    assert "while loop" in result["note"]


def test_cli_prints_check_line(tmp_path, capsys):
    spec = tmp_path / "mlp.seqnet"
    spec.write_text(MLP)
    rc = cli.main(["summary", str(spec), "--xla"])
    out = capsys.readouterr().out
    assert rc == 0
    line = next(ln for ln in out.splitlines() if ln.startswith("XLA check (batch 1):"))
    assert f"vs registry {MATMUL:,}" in line
    assert "ratio 1.00" in line


def test_a_model_larger_than_memory_is_analysed_from_shapes():
    """400 GB of parameters: compiled and costed without allocating any of them."""
    from seqnet.emit import emit_stablehlo

    m = seqnet.loads("input x : float32[100000]\nh = dense(x, 1000000)\noutput y : float32[10] = dense(h, 10)\n")
    report = xla_cross_check(m.graph)
    assert report["ratio"] == pytest.approx(1.0, rel=1e-3, abs=0)
    assert "stablehlo" in emit_stablehlo(m.graph)
