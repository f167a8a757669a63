"""Sharded checkpoints (format 2): shard files per process plus a JSON record that commits them;
read back into whole arrays, checked file by file, and format 1 still read as before."""

from __future__ import annotations

import json

import jax.numpy as jnp
import numpy as np
import pytest

from seqnet.backends.jax import checkpoint as ck
from seqnet.backends.jax.shards import assemble, piece_key

PARAMS = {"dense": {"w": jnp.arange(12.0).reshape(3, 4), "b": jnp.ones(4)}}
OPT = {"count": jnp.int32(7), "mu": {"dense": {"w": jnp.full((3, 4), 0.5), "b": jnp.zeros(4)}}}


def test_a_sharded_save_reads_back_bit_for_bit_like_a_plain_one(tmp_path):
    sharded = ck.save_sharded(tmp_path / "a", 5, PARAMS, OPT, meta={"spec": "t"})
    plain = ck.save(tmp_path / "b", 5, PARAMS, OPT, meta={"spec": "t"})
    record = json.loads(sharded.read_text())
    assert record["format"] == ck.SHARDED_FORMAT
    assert [s["file"] for s in record["shards"]] == ["step_00000005.p0.safetensors"]
    assert record["arrays"]["params/dense/w"] == {"shape": [3, 4], "dtype": "float32"}
    (meta_a, a), (meta_b, b) = ck.read(sharded), ck.read(plain)
    assert a.keys() == b.keys() and meta_a["step"] == meta_b["step"] == 5
    for k in a:
        assert a[k].dtype == b[k].dtype  # format 1 keeps a scalar as [1]; format 2 as ()
        assert a[k].shape == (b[k].shape if b[k].shape != (1,) else ())
        np.testing.assert_array_equal(a[k].ravel(), b[k].ravel())


def test_a_damaged_shard_file_is_skipped_for_the_previous_checkpoint(tmp_path, capsys):
    ck.save_sharded(tmp_path, 1, PARAMS, OPT, keep=None)
    ck.save_sharded(tmp_path, 2, PARAMS, OPT, keep=None)
    shard = tmp_path / "step_00000002.p0.safetensors"
    data = bytearray(shard.read_bytes())
    data[-1] ^= 0xFF
    shard.write_bytes(bytes(data))
    meta, _ = ck.read(tmp_path)
    assert meta["step"] == 1
    assert "sha256 does not match" in capsys.readouterr().err
    with pytest.raises(ck.CheckpointError, match="sha256 does not match"):
        ck.read(tmp_path / "step_00000002.json")


def test_a_missing_shard_file_is_named(tmp_path):
    record = ck.save_sharded(tmp_path, 3, PARAMS)
    (tmp_path / "step_00000003.p0.safetensors").unlink()
    with pytest.raises(ck.CheckpointError, match=r"step_00000003\.p0\.safetensors cannot be read"):
        ck.read(record)


def test_shards_without_their_record_are_no_checkpoint_and_go_at_the_next_save(tmp_path):
    ck.save_sharded(tmp_path, 1, PARAMS)
    (tmp_path / "step_00000009.p1.safetensors").write_bytes(b"left by a killed process")
    assert [p.name for p in ck.list_checkpoints(tmp_path)] == ["step_00000001.json"]
    ck.save_sharded(tmp_path, 2, PARAMS, keep=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step_00000002.json", "step_00000002.p0.safetensors"]


def test_pieces_of_two_processes_assemble_and_a_gap_is_refused():
    whole = np.arange(24, dtype=np.float32).reshape(4, 6)
    arrays = {"params/w": {"shape": [4, 6], "dtype": "float32"}}
    pieces = {piece_key("params/w", (slice(0, 2), slice(None)), whole.shape): whole[:2],
              piece_key("params/w", (slice(2, 4), slice(None)), whole.shape): whole[2:]}  # fmt: skip
    np.testing.assert_array_equal(assemble(pieces, arrays, "t")["params/w"], whole)
    with pytest.raises(ValueError, match="do not cover it exactly"):
        assemble(dict(list(pieces.items())[:1]), arrays, "t")
    with pytest.raises(ValueError, match="not a piece of a recorded array"):
        assemble({"params/v@0:1": whole[:1, 0]}, arrays, "t")
