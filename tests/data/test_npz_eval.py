"""npz(path, eval=FILE): the eval split comes from the named file (checked against the train
file's fields at compile time), the train split is the whole train file."""

from __future__ import annotations

import numpy as np
import pytest

from seqnet.data import DataArgError, load


def _files(tmp_path, eval_width=3):
    r = np.random.default_rng(0)
    np.savez(tmp_path / "train.npz", x=r.normal(size=(10, 3)).astype(np.float32))
    np.savez(tmp_path / "held.npz", x=r.normal(size=(4, eval_width)).astype(np.float32))
    return {"path": "train.npz", "eval": "held.npz", "base_dir": str(tmp_path)}


def test_the_eval_file_is_the_eval_split(tmp_path):
    args = _files(tmp_path)
    train, held = load("npz", "train", **args), load("npz", "eval", **args)
    np.testing.assert_array_equal(train["x"], np.load(tmp_path / "train.npz")["x"])
    np.testing.assert_array_equal(held["x"], np.load(tmp_path / "held.npz")["x"])
    assert len(load("npz", "eval", n_examples=2, **args)["x"]) == 2


def test_an_eval_file_that_does_not_match_is_refused(tmp_path):
    args = _files(tmp_path, eval_width=5)
    with pytest.raises(DataArgError, match=r"eval file 'held.npz' does not match 'train.npz'") as e:
        load("npz", "train", **args)
    assert e.value.arg == "eval"


def test_an_eval_file_outside_the_folder_is_refused(tmp_path):
    args = {**_files(tmp_path), "eval": "../held.npz"}
    with pytest.raises(DataArgError, match="leads outside the spec's folder") as e:
        load("npz", "eval", **args)
    assert e.value.arg == "eval"
