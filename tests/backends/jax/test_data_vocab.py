"""Token ids outside a declared vocabulary are refused on the training and evaluation paths
(an .npz may hold ids its file states no vocabulary for), never clamped by the embedding."""

from __future__ import annotations

import numpy as np
import pytest

from seqnet.backends.jax.failures import InputError
from seqnet.model import load

SPEC = """\
input x : int32[3] vocab 4
output y : float32[2] = dense(mean(embed(x, 4), axis=0), 2)
train {
  data = npz("tokens.npz")
  loss = cross_entropy(y, label)
  batch = 4
  steps = 2
  eval_batches = 1
}
"""


def _write(tmp_path, worst: int, split: str = "train"):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 4, size=(12, 3)).astype(np.int32)
    label = rng.integers(0, 2, size=(12,)).astype(np.int32)
    ev = x.copy()
    (x if split == "train" else ev)[5, 2] = worst
    np.savez(tmp_path / "tokens.npz", x=x, label=label, label__vocab=np.int32(2))
    np.savez(tmp_path / "tokens_eval.npz", x=ev, label=label, label__vocab=np.int32(2))
    (tmp_path / "s.seqnet").write_text(SPEC)
    return load(tmp_path / "s.seqnet")


@pytest.mark.parametrize("split", ["train", "eval"])
def test_ids_past_the_vocabulary_are_refused(tmp_path, split):
    model = _write(tmp_path, 9, split)
    with pytest.raises(InputError, match=rf"\({split} split\): input 'x': token ids must lie in "
                       r"0..3 .*example 5 holds 9 at position \(2,\)"):  # fmt: skip
        model.train(out=tmp_path / "run", progress=False)


def test_ids_inside_the_vocabulary_train(tmp_path):
    model = _write(tmp_path, 3)
    result = model.train(out=tmp_path / "run", progress=False)
    assert result.step == 2
    assert np.isfinite(result.metrics["loss"])
