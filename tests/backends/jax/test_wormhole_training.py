"""Training with wormholes never fails silently: an expansive loop or a diverging adjoint is
reported located at its `wormhole` statement (not as "lower the learning rate"), a truncated
adjoint is warned about and recorded; and the "last good checkpoint" is never an exploded one."""

import json
import math

import numpy as np
import pytest

import seqnet
from seqnet import cli
from seqnet.backends.jax import checkpoint as ck
from seqnet.backends.jax import train as T
from seqnet.backends.jax.soundness import FACTOR, CheckpointHistory
from seqnet.backends.jax.wormhole_report import WormholeError

TRAIN = """
train {
  data = digits(flat=true)
  loss = cross_entropy(y, label)
  batch = 16
  steps = 2
}
"""
# A linear loop h2 = 4 W2 (W1 x + W h2): spectral radius well above 1. Plain iteration diverges;
# Anderson (window > state size) still finds the fixed point, but the adjoint iteration at it
# cannot converge, so the implicit gradient does not exist.
EXPANSIVE = """
input x : float32[64]
h1 = dense(x, 8)
h2 = 4 * dense(h1, 8)
wormhole h2 -> h1 gate=none solver={solver} anderson_m=12 tol=1e-3 max_iter=200
output y : float32[10] = dense(h2, 10)
""" + TRAIN


@pytest.mark.parametrize("solver,what", [("fixed_point", "the fixed point of wormhole h2 -> h1"),
                                         ("anderson", "the backward (adjoint) solve of wormhole h2 -> h1")])  # fmt: skip
def test_an_expansive_loop_is_named_at_its_line_not_blamed_on_the_learning_rate(tmp_path, solver, what):
    with pytest.raises(WormholeError) as e:
        T.train(seqnet.loads(EXPANSIVE.replace("{solver}", solver), name="loop.seqnet"), out=tmp_path,
                progress=False)  # fmt: skip
    msg = str(e.value)
    assert "training diverged at step 1" in msg and what in msg, msg
    assert "(loop.seqnet:5:1)" in msg  # the wormhole statement
    assert "Lower the learning rate" not in msg and "contractive" in msg
    assert isinstance(e.value, T.TrainingError)


TRUNCATED = """
input x : float32[64]
h1 = dense(x, 8, act=tanh)
h2 = dense(h1, 8, act=tanh)
wormhole h2 -> h1 gate=sigmoid gate_bias=0.0 tol=1e-5 backward_tol=1e-12 backward_max_iter=2
output y : float32[10] = dense(h2, 10)
""" + TRAIN


def test_a_truncated_adjoint_is_warned_and_recorded(tmp_path, capsys):
    T.train(seqnet.loads(TRUNCATED, name="trunc.seqnet"), out=tmp_path, progress=False)
    said = capsys.readouterr()
    text = said.out + said.err
    assert "backward (adjoint) solve was truncated" in text and "(trunc.seqnet:5:1)" in text
    assert text.count("was truncated") == 1  # once per wormhole, not once per step
    records = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in records if r["split"] == "train"]
    key = "wormhole/wormhole_h2_to_h1/adjoint"
    assert all(r["metrics"][f"{key}_converged"] == 0.0 for r in train)
    assert all(r["metrics"][f"{key}_iterations"] == 2.0 for r in train)
    assert all(0 < r["metrics"][f"{key}_residual"] < math.inf for r in train)
    assert all(r["metrics"]["wormhole/wormhole_h2_to_h1/converged"] == 1.0 for r in train)
    evals = [r for r in records if r["split"] == "eval"]  # eval records say how the forward went
    assert evals and evals[-1]["metrics"]["wormhole/wormhole_h2_to_h1/converged"] == 1.0
    assert evals[-1]["metrics"]["wormhole/wormhole_h2_to_h1/residual"] <= 1e-5

    # predict: a line per wormhole from the CLI, each example's solve from the Python API
    spec = tmp_path / "trunc.seqnet"
    spec.write_text(TRUNCATED)
    x = np.random.default_rng(0).normal(size=(5, 64)).astype(np.float32)
    np.savez(tmp_path / "x.npz", x=x)
    assert cli.main(["predict", str(spec), "--checkpoint", str(tmp_path), "--input",
                     str(tmp_path / "x.npz"), "-o", str(tmp_path / "p.npz")]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "wormhole h2 -> h1 (" in out and ":5:1): 5 of 5 examples converged" in out, out
    with np.load(tmp_path / "p.npz") as saved:
        assert set(saved.files) == {"y"}  # the file holds the outputs only
    outputs, stats = T.predict(seqnet.loads(TRUNCATED), tmp_path, tmp_path / "x.npz", with_stats=True)
    np.testing.assert_allclose(outputs["y"], np.load(tmp_path / "p.npz")["y"], rtol=0, atol=0)
    assert stats["wormhole/wormhole_h2_to_h1/iterations"].shape == (5,)
    assert stats["wormhole/wormhole_h2_to_h1/converged"].all()


# --- the last good checkpoint ---------------------------------------------------------------------


def test_exploded_checkpoints_are_passed_over(tmp_path):
    h = CheckpointHistory()
    h.start(norm=10.0)
    for loss in (2.3, 2.0, 1.8):
        h.log_loss(loss)
    assert h.judge(tmp_path / "step_1.json", 1, 1.8, 11.0)
    assert h.judge(tmp_path / "step_2.json", 2, 1.7, 12.0)
    h.log_loss(1.7)
    # finite, but the parameters grew past FACTOR x the run's median norm
    assert not h.judge(tmp_path / "step_3.json", 3, 1.9, 11.0 * FACTOR + 1)
    h.log_loss(50.0)
    assert not h.judge(tmp_path / "step_4.json", 4, 50.0, 12.0)  # a loss 10x over the median
    assert not h.judge(tmp_path / "step_5.json", 5, float("nan"), 12.0)
    said = h.describe()
    assert said.startswith(f"{tmp_path / 'step_2.json'} (step 2)")
    assert "step 3: its parameter norm" in said and "step 4: its training loss" in said
    assert "step 5: its training loss is nan" in said
    assert h.judge(tmp_path / "step_6.json", 6, 1.6, 12.0)  # sound again: the newest sound one
    assert h.describe() == f"{tmp_path / 'step_6.json'} (step 6)"


def test_pruning_keeps_the_protected_checkpoint(tmp_path):
    params = {"w": np.ones(2, np.float32)}
    records = [ck.save(tmp_path, s, params, keep=None) for s in range(1, 5)]
    ck.save(tmp_path, 5, params, keep=2, protect=[records[0]])
    kept = [json.loads(p.read_text())["step"] for p in ck.list_checkpoints(tmp_path)]
    assert kept == [1, 4, 5]
