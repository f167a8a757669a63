"""The Python conveniences: `loads(text, base_dir=...)` resolves imports in that folder tree
only, and `load_checkpoint(run)` reads a run's params tree (checked against a model when given)."""

from __future__ import annotations

import jax
import numpy as np
import pytest

import seqnet
from seqnet.backends.jax.checkpoint import CheckpointError
from seqnet.errors import UserError

LIB = "block twice(v) {\n  return v * 2.0\n}\n"
USER = 'import "lib/twice.seqnet"\ninput x : float32[3]\noutput y : float32[3] = twice(x)\n'
TRAINED = """\
input x : float32[4]
output y : float32[2] = dense(x, 2)
train {
  data = npz("xy.npz")
  loss = mse(y, target)
  batch = 4
  steps = 2
  eval_batches = 1
}
"""


def _lib(tmp_path):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "twice.seqnet").write_text(LIB)


def test_loads_resolves_imports_in_base_dir(tmp_path):
    _lib(tmp_path)
    model = seqnet.loads(USER, base_dir=tmp_path)
    out = model.apply(model.init(jax.random.key(0)), x=np.ones((1, 3), np.float32))["y"]
    np.testing.assert_allclose(np.asarray(out), 2.0, atol=0, rtol=0)


def test_loads_without_base_dir_says_how_to_import():
    with pytest.raises(seqnet.SpecError) as e:
        seqnet.loads(USER)
    text = e.value.render()
    assert "imports need the spec to be a file on disk" in text and "base_dir=folder" in text


def test_loads_imports_may_not_leave_base_dir(tmp_path):
    _lib(tmp_path)
    inner = tmp_path / "inner"
    inner.mkdir()
    escape = USER.replace("lib/", "../lib/")
    with pytest.raises(seqnet.SpecError) as e:
        seqnet.loads(escape, name="user.seqnet", base_dir=inner)
    text = e.value.render()
    assert "user.seqnet:1:8: error[SQN0202]" in text and "leaves the spec's folder tree" in text


def test_loads_base_dir_must_be_a_folder(tmp_path):
    with pytest.raises(UserError, match="is not a folder"):
        seqnet.loads(USER, base_dir=tmp_path / "missing")


def _trained(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 4)).astype(np.float32)
    t = rng.normal(size=(8, 2)).astype(np.float32)
    np.savez(tmp_path / "xy.npz", x=x, target=t)
    np.savez(tmp_path / "xy_eval.npz", x=x, target=t)
    model = seqnet.loads(TRAINED, name="fit.seqnet", base_dir=tmp_path)
    result = model.train(out=tmp_path / "run", progress=False)
    return model, result


def test_load_checkpoint_gives_the_trained_params(tmp_path):
    model, result = _trained(tmp_path)
    bare = seqnet.load_checkpoint(tmp_path / "run")
    checked = model.load_checkpoint(tmp_path / "run")
    assert set(bare) == {"y"} and set(bare["y"]) == {"w", "b"}
    for tree in (bare, checked):
        np.testing.assert_allclose(np.asarray(tree["y"]["w"]), np.asarray(result.params["y"]["w"]),
                                   atol=0, rtol=0)  # fmt: skip


def test_load_checkpoint_of_another_model_names_the_difference(tmp_path):
    _trained(tmp_path)
    other = seqnet.loads(TRAINED.replace("dense(x, 2)", "dense(x, 2, bias=false)"), base_dir=tmp_path)
    with pytest.raises(CheckpointError, match=r"'params/y/b' is not part of this model"):
        other.load_checkpoint(tmp_path / "run")


def test_load_checkpoint_of_an_empty_folder(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint in"):
        seqnet.load_checkpoint(tmp_path)
