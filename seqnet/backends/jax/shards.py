"""The pieces of sharded arrays as a checkpoint stores them, and whole arrays assembled back.

A piece is one shard of one array, keyed "<key path>@<start>:<stop>,<start>:<stop>" (one range per
axis; a scalar's key ends in "@"). Each process keeps the pieces of the shards it holds whose
replica_id is 0, so every element is written once however the array is replicated. Reading
puts the pieces of every process back into whole arrays, on the host, and checks that they
cover each array exactly: the mesh that resumes may differ from the one that saved.
"""

from __future__ import annotations

import math
import re

import numpy as np

_PIECE = re.compile(r"^(.*)@((?:\d+:\d+)(?:,\d+:\d+)*)?$")


def piece_key(key: str, index: tuple[slice, ...], shape: tuple[int, ...]) -> str:
    ranges = [s.indices(d)[:2] for s, d in zip(index, shape, strict=True)]
    return key + "@" + ",".join(f"{a}:{b}" for a, b in ranges)


def local_pieces(flat: dict) -> dict[str, np.ndarray]:
    """{piece key: host array} of the shards this process holds and writes."""
    import jax

    out = {}
    for key, leaf in flat.items():
        if not isinstance(leaf, jax.Array):  # a host array: one whole piece, from process 0
            if jax.process_index() == 0:
                a = np.asarray(leaf)
                out[piece_key(key, tuple(slice(None) for _ in a.shape), a.shape)] = a
            continue
        for shard in leaf.addressable_shards:
            if shard.replica_id == 0:
                out[piece_key(key, shard.index, leaf.shape)] = np.ascontiguousarray(np.asarray(shard.data))
    return out


def assemble(pieces: dict[str, np.ndarray], arrays: dict[str, dict], where: str) -> dict[str, np.ndarray]:
    """Whole arrays {key: array} from `pieces`, shaped and typed as `arrays` records them
    ({key: {"shape": [...], "dtype": "float32"}}); ValueError naming what is missing or extra."""
    out = {k: np.zeros(tuple(v["shape"]), np.dtype(v["dtype"])) for k, v in arrays.items()}
    filled = dict.fromkeys(arrays, 0)
    for name, piece in pieces.items():
        m = _PIECE.match(name)
        if m is None or m.group(1) not in out:
            raise ValueError(f"{where}: '{name}' is not a piece of a recorded array")
        key = m.group(1)
        ranges = [tuple(map(int, r.split(":"))) for r in m.group(2).split(",")] if m.group(2) else []
        target = out[key]
        if not ranges and piece.shape == (1,):  # safetensors may store a scalar as [1]
            piece = piece.reshape(())
        if len(ranges) != target.ndim or tuple(b - a for a, b in ranges) != piece.shape:
            raise ValueError(f"{where}: piece '{name}' has shape {list(piece.shape)}")
        target[tuple(slice(a, b) for a, b in ranges)] = piece
        filled[key] += piece.size
    short = [k for k, n in filled.items() if n != math.prod(out[k].shape)]
    if short:
        raise ValueError(f"{where}: the pieces of '{short[0]}' do not cover it exactly"
                         + (f" (and {len(short) - 1} more arrays)" if len(short) > 1 else ""))  # fmt: skip
    return out
