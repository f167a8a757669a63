"""Every shipped spec with a train section trains a few steps from the CLI, then evaluates and
predicts from its checkpoint.

The settings are the cheapest that still run each spec's real code path (small batch, one eval
batch, short sequences where the spec has a length dim): jit compilation dominates the time.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from seqnet import cli

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "specs"

# spec -> extra --set overrides (dims shrunk where the spec has a length or width dim)
TRAINABLE = {
    "mlp_digits": [],
    "cnn_digits": [],
    "residual_mlp": ["DEPTH=1"],
    "ensemble_mask": [],
    "lstm_parity": ["N=4"],
    "lstm_sort": ["N=4", "H=16"],
    "gru_text": ["T=8", "H=16"],
    "transformer_encoder": ["N=4", "LAYERS=1"],
    "transformer_fsdp": ["N=4", "LAYERS=1"],
    "simplicial_block": [],
    "wormhole_sine": ["T=4"],
    "wormhole_digits": [],
    "fen_parity": ["N=4", "E=8"],
    "vit_digits": ["E=16", "LAYERS=1"],
    "custom_lstm_cell": ["N=4", "H=8"],
    "gpt_char": ["T=8", "E=16", "LAYERS=1"],
    "seq2seq_attention": ["N=4", "E=16"],
}
COMMON = ["steps=4", "batch=8", "eval_batches=1"]
# a mode that counts its own steps: mask_merge's 4 meta-epochs over a small matrix set
STEPS_OF = {"ensemble_mask": ["meta_epochs=4", "matrices=8", "vectors=8", "batch=8", "eval_batches=1"]}


def _sets(values: list[str]) -> list[str]:
    return [a for v in values for a in ("--set", v)]


def test_every_trainable_spec_is_listed():
    from seqnet.model import load

    trainable = {p.stem for p in SPECS.glob("*.seqnet") if load(p).train_config is not None}
    assert trainable == set(TRAINABLE)


@pytest.mark.parametrize("name", sorted(TRAINABLE))
def test_spec_trains_evaluates_predicts(name, tmp_path, capsys):
    from seqnet.data import get_source
    from seqnet.model import load

    spec = str(SPECS / f"{name}.seqnet")
    dims = _sets(TRAINABLE[name])
    out = tmp_path / "run"
    rc = cli.main(["train", spec, "--out", str(out), "--no-progress", *dims,
                   *_sets(STEPS_OF.get(name, COMMON))])  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 0, err
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in records if r["split"] == "train"]
    assert train and train[-1]["step"] == 4
    assert all(math.isfinite(r["loss"]) for r in records), records

    rc = cli.main(["eval", spec, "--checkpoint", str(out), *dims, *_sets(["eval_batches=1", "batch=8"])])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert math.isfinite(json.loads(captured.out)["loss"])

    model = load(spec, **dict(v.split("=") for v in TRAINABLE[name]))
    c = model.train_config
    arrays = get_source(c.data.name).load("eval", 3, c.seed, **c.data.args)
    inputs = {k: np.asarray(arrays[k])[:3] for k in model.inputs}
    np.savez(tmp_path / "x.npz", **inputs)
    pred = tmp_path / "pred.npz"
    rc = cli.main(["predict", spec, "--checkpoint", str(out), "--input", str(tmp_path / "x.npz"),
                   "-o", str(pred), *dims])  # fmt: skip
    assert rc == 0, capsys.readouterr().err
    with np.load(pred) as f:
        assert set(f.files) == set(model.outputs)
        for k, t in model.outputs.items():
            assert f[k].shape == (3, *t.dims) and np.isfinite(f[k]).all()
