"""Checkpoints: safetensors files of the flattened training state plus a small JSON, written atomically.

Layout (under `<out>/checkpoints/`):
  step_00000100.safetensors  tensors keyed by stable key paths: "params/<node>/<name>",
                             "opt/<path in the optax state>" (e.g. "opt/0/mu/dense_1/w")
  step_00000100.json         {"format", "step", "spec", "config_hash", "structure_hash",
                              "data": {data iterator position}, "sha256", "bytes", "time"}
Each file is written to a temporary file in the same folder, fsynced and `os.replace`d; the JSON
goes last and is the commit record: a checkpoint without it, or whose safetensors file does not
match the recorded sha256, is not a checkpoint (`latest` skips it; `load` refuses it).

Sharded state (format 2, `save_sharded`): each process writes the shards it holds,
step_00000100.p<process>.safetensors (pieces keyed as shards.py says); once every process has
written its file, process 0 writes the JSON record, listing each file with its sha256 and bytes
and each array's shape and dtype. Reading assembles whole arrays from all the pieces, so a run
resumes on any mesh; format 1 checkpoints read as before.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import time
from pathlib import Path
from typing import Any

import numpy as np

from seqnet import atomic
from seqnet.backends.jax.shards import assemble, local_pieces
from seqnet.errors import UserError

FORMAT = 1
SHARDED_FORMAT = 2
_NAME = re.compile(r"^step_(\d{8,})\.json$")


class CheckpointError(UserError):
    """A checkpoint is missing, corrupt, truncated, or belongs to another spec / configuration."""


# -- key paths -------------------------------------------------------------------------------------

def _key_str(k) -> str:
    for attr in ("key", "name", "idx"):
        if hasattr(k, attr):
            return str(getattr(k, attr))
    return str(k)


def flatten(tree, prefix: str) -> dict[str, Any]:
    """{"prefix/a/b": leaf} with stable, readable key paths (None leaves are skipped by JAX)."""
    import jax

    leaves, _ = jax.tree_util.tree_flatten_with_path(tree)
    out = {}
    for path, leaf in leaves:
        key = "/".join([prefix, *(_key_str(k) for k in path)])
        if key in out:
            raise CheckpointError(f"two state entries share the key path '{key}'")
        out[key] = leaf
    return out


def unflatten(template, prefix: str, tensors: dict[str, np.ndarray], where: str):
    """Rebuild `template`'s structure from `tensors`, checking every key, shape and dtype."""
    import jax

    leaves, treedef = jax.tree_util.tree_flatten_with_path(template)
    values, problems = [], []
    for path, leaf in leaves:
        key = "/".join([prefix, *(_key_str(k) for k in path)])
        want_shape, want_dtype = tuple(leaf.shape), np.dtype(leaf.dtype)
        if key not in tensors:
            problems.append(f"'{key}' is missing (expected {want_dtype}{list(want_shape)})")
            continue
        got = tensors[key]
        if want_shape == () and tuple(got.shape) == (1,):  # safetensors may store scalars as [1]
            got = got.reshape(())
        if tuple(got.shape) != want_shape or got.dtype != want_dtype:
            problems.append(f"'{key}' is {got.dtype}{list(got.shape)}, "
                            f"the model needs {want_dtype}{list(want_shape)}")  # fmt: skip
        values.append(got)
    expected = {"/".join([prefix, *(_key_str(k) for k in p)]) for p, _ in leaves}
    extra = sorted(k for k in tensors if k.startswith(prefix + "/") and k not in expected)
    problems += [f"'{k}' is not part of this model" for k in extra[:5]]
    if problems:
        more = f" (and {len(problems) - 6} more)" if len(problems) > 6 else ""
        raise CheckpointError(
            f"checkpoint {where} does not match this model: " + "; ".join(problems[:6]) + more
            + ". Was it written by another spec or with other dims?"
        )
    check_finite(dict(zip(key_paths(leaves, prefix), values, strict=True)), where)
    return jax.tree_util.tree_unflatten(treedef, values)


def params_tree(tensors: dict[str, np.ndarray], where: str) -> dict:
    """The "params/..." entries of a checkpoint as nested dicts (the tree `init` makes), read
    without a model: the key paths alone give the structure."""
    tree: dict = {}
    for key in sorted(k for k in tensors if k.startswith("params/")):
        *folders, leaf = key.split("/")[1:]
        node = tree
        for part in folders:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise CheckpointError(f"checkpoint {where} is corrupt: '{key}' runs through an array")
        node[leaf] = tensors[key]
    if not tree:
        raise CheckpointError(f"checkpoint {where} holds no parameters")
    check_finite({k: v for k, v in tensors.items() if k.startswith("params/")}, where)
    return tree


def key_paths(leaves, prefix: str) -> list[str]:
    return ["/".join([prefix, *(_key_str(k) for k in path)]) for path, _ in leaves]


def check_finite(tensors: dict[str, np.ndarray], where: str) -> None:
    """CheckpointError at the first NaN or Inf: a model of NaN parameters would evaluate,
    predict and train to NaN without a word (training never saves one; a file edited or
    damaged in a way its hash cannot tell can hold one)."""
    for key, value in tensors.items():
        a = np.asarray(value)
        if a.dtype.kind != "f" and "bfloat16" not in str(a.dtype):
            continue
        bad = ~np.isfinite(a.astype(np.float32, copy=False))
        if bad.any():
            i = tuple(int(j) for j in np.argwhere(bad)[0])
            raise CheckpointError(f"checkpoint {where}: '{key}' holds {a[i] if i else a} at index "
                                  f"{list(i)}; a model of non-finite parameters cannot be used. "
                                  "Use an earlier checkpoint")  # fmt: skip


def structure_hash(tree) -> str:
    """A hash of key paths, shapes and dtypes: equal for two states of the same model."""
    items = sorted((k, tuple(v.shape), str(np.dtype(v.dtype))) for k, v in flatten(tree, "s").items())
    return hashlib.sha256(repr(items).encode()).hexdigest()[:16]


# -- atomic writes ---------------------------------------------------------------------------------

def atomic_write(path: str | Path, writer) -> None:
    """Call writer(binary file object) on a temporary file beside `path`, fsync, os.replace.

    If the writer raises, the temporary file is removed and `path` is untouched. This is the
    shared writer of seqnet.atomic (symlinks followed, non-regular targets refused, mode kept)."""
    atomic.write_with(path, writer)


def atomic_write_bytes(path: str | Path, data: bytes, within: str | Path | None = None) -> None:
    """within: the folder the write must stay in (a symlink out of it is refused)."""
    atomic.write_bytes(path, data, within=within)


# -- save / load -----------------------------------------------------------------------------------

def _to_numpy(tensors: dict[str, Any]) -> dict[str, np.ndarray]:
    import jax

    host = jax.device_get(tensors)
    return {k: np.ascontiguousarray(np.asarray(v)) for k, v in host.items()}


def save(directory: str | Path, step: int, params, opt_state=None, *, meta: dict | None = None,
         keep: int | None = 3, within: str | Path | None = None, protect=()) -> Path:  # fmt: skip
    """Write checkpoint `step` under `directory` atomically; returns the JSON path.

    keep: how many of the newest checkpoints to keep (None: all). within: the folder the files
    must stay in (the run folder: a symlink planted there to elsewhere is refused). protect:
    JSON records that pruning keeps whatever their age (the last sound checkpoint)."""
    from safetensors.numpy import save as st_save

    directory = Path(directory)
    tensors = flatten(params, "params")
    if opt_state is not None:
        tensors.update(flatten(opt_state, "opt"))
    data = st_save(_to_numpy(tensors), metadata={"seqnet_step": str(step), "format": str(FORMAT)})
    stem = f"step_{step:08d}"
    atomic_write_bytes(directory / f"{stem}.safetensors", data, within)
    record = {
        "format": FORMAT, "step": int(step), **(meta or {}),
        "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data), "time": time.time(),
    }  # fmt: skip
    atomic_write_bytes(directory / f"{stem}.json", json.dumps(record, indent=1, sort_keys=True).encode(),
                       within)  # fmt: skip
    prune(directory, keep, protect)
    remove_orphans(directory)
    return directory / f"{stem}.json"


def remove_orphans(directory: Path) -> None:
    """Data files of a save killed before its record (shard files included)."""
    for orphan in directory.glob("step_*.safetensors"):
        if not (directory / (orphan.name.split(".", 1)[0] + ".json")).exists():
            orphan.unlink(missing_ok=True)


def save_sharded(directory: str | Path, step: int, params, opt_state=None, *, meta: dict | None = None,
                 keep: int | None = 3, within: str | Path | None = None, protect=()) -> Path | None:  # fmt: skip
    """Every process calls this: each writes the shards it holds, then (after all have) process 0
    writes the record that commits them. The record's path on process 0, None on the others."""
    import jax
    from safetensors.numpy import save as st_save

    directory = Path(directory)
    tensors = flatten(params, "params")
    if opt_state is not None:
        tensors.update(flatten(opt_state, "opt"))
    stem, index, count = f"step_{step:08d}", jax.process_index(), jax.process_count()
    data = st_save(local_pieces(tensors), metadata={"seqnet_step": str(step), "format": str(SHARDED_FORMAT)})
    directory.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(directory / f"{stem}.p{index}.safetensors", data, within)
    if count > 1:  # the record may only name files that are all written
        from jax.experimental.multihost_utils import sync_global_devices

        sync_global_devices(f"seqnet checkpoint {step}")
    if index != 0:
        return None
    shards = []
    for i in range(count):
        blob = data if i == 0 else read_regular(directory / f"{stem}.p{i}.safetensors", 1 << 40)
        shards.append({"file": f"{stem}.p{i}.safetensors", "sha256": hashlib.sha256(blob).hexdigest(),
                       "bytes": len(blob)})  # fmt: skip
    arrays = {k: {"shape": list(v.shape), "dtype": str(np.dtype(v.dtype))} for k, v in tensors.items()}
    record = {"format": SHARDED_FORMAT, "step": int(step), **(meta or {}), "shards": shards,
              "arrays": arrays, "time": time.time()}  # fmt: skip
    atomic_write_bytes(directory / f"{stem}.json", json.dumps(record, indent=1, sort_keys=True).encode(),
                       within)  # fmt: skip
    prune(directory, keep, protect)
    remove_orphans(directory)
    return directory / f"{stem}.json"


def prune(directory: str | Path, keep: int | None, protect=()) -> None:
    """Keep the `keep` newest checkpoints of `directory` (None or 0: all), and those in `protect`."""
    kept = {Path(p).resolve() for p in protect}
    if keep:
        for old in list_checkpoints(directory)[:-keep]:
            if Path(old).resolve() not in kept:
                remove(old)


def _warn_skipped(meta: dict) -> None:
    """Say which damaged newer checkpoints `read` passed over to find meta's."""
    import sys

    for reason in meta.get("skipped", ()):
        print(f"seqnet: warning: skipped a damaged checkpoint ({reason}); using {meta['path']}",
              file=sys.stderr)  # fmt: skip


def remove(json_path: Path) -> None:
    shards = sorted(json_path.parent.glob(json_path.stem + ".p*.safetensors"))
    for p in (json_path.with_suffix(".safetensors"), *shards, json_path):
        try:
            p.unlink()
        except FileNotFoundError:
            pass


def list_checkpoints(directory: str | Path) -> list[Path]:
    """The JSON records of `directory`, oldest first (by step)."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in directory.iterdir() if (m := _NAME.match(p.name))]
    return [p for _, p in sorted(found)]


def resolve(path: str | Path) -> Path:
    """A checkpoint's JSON record from a run folder, a checkpoints folder, or a file of it."""
    path = Path(path)
    if path.is_dir():
        folder = path / "checkpoints" if (path / "checkpoints").is_dir() else path
        records = list_checkpoints(folder)
        if not records:
            raise CheckpointError(f"no checkpoint in {path} (expected checkpoints/step_*.json)")
        return records[-1]
    if path.suffix == ".safetensors":
        path = path.with_suffix(".json")
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist")
    if not _NAME.match(path.name):
        raise CheckpointError(f"{path} is not a checkpoint: give a run folder, its checkpoints "
                              "folder, or a step_*.json / step_*.safetensors file")  # fmt: skip
    return path


def read(path: str | Path, *, verify: bool = True) -> tuple[dict, dict[str, np.ndarray]]:
    """(meta, tensors) of a checkpoint, checking the record and the file's hash.

    Given a folder, the newest checkpoint that reads back intact: a corrupt or truncated newer
    one is skipped with a warning on stderr, and meta["skipped"] says which and why. Given a
    file, that checkpoint or an error."""
    path = Path(path)
    if not path.is_dir():
        return _read_record(resolve(path), verify)
    resolve(path)  # no checkpoint at all: say so
    folder = path / "checkpoints" if (path / "checkpoints").is_dir() else path
    skipped: list[str] = []
    for record in reversed(list_checkpoints(folder)):
        try:
            meta, tensors = _read_record(record, verify)
        except CheckpointError as e:
            skipped.append(str(e))
            continue
        meta["skipped"] = skipped
        _warn_skipped(meta)
        return meta, tensors
    raise CheckpointError(f"no intact checkpoint in {path}: " + "; ".join(skipped))


# a checkpoint record is a few hundred bytes of JSON; a sharded one lists every array's shape
RECORD_LIMIT = 1 << 24


def read_regular(path: Path, limit: int) -> bytes:
    """The bytes of a regular file, at most `limit` + 1 of them (the caller compares the
    length): a FIFO would block a plain read until a writer came and /dev/zero never ends, so
    anything but a regular file is refused before a byte is read (O_NONBLOCK opens a FIFO
    without waiting for its writer)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise CheckpointError(f"checkpoint {path} cannot be read ({e.strerror or e})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise CheckpointError(f"checkpoint {path} is {atomic.file_kind(st.st_mode)}, not a "
                                  "regular file; it was not read")  # fmt: skip
        chunks, left = [], limit + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 24))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    except OSError as e:
        raise CheckpointError(f"checkpoint {path} cannot be read ({e.strerror or e})") from None
    finally:
        os.close(fd)


def _read_record(record_path: Path, verify: bool) -> tuple[dict, dict[str, np.ndarray]]:
    text = read_regular(record_path, RECORD_LIMIT)
    try:
        if len(text) > RECORD_LIMIT:
            raise ValueError(f"over {RECORD_LIMIT} bytes")
        meta = json.loads(text)
        if not isinstance(meta, dict) or "step" not in meta:
            raise ValueError("no step")
    except (ValueError, UnicodeDecodeError) as e:
        raise CheckpointError(f"checkpoint record {record_path} is corrupt ({e})") from None
    if meta.get("format") == SHARDED_FORMAT:
        return meta, _read_sharded(record_path, meta, verify)
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"checkpoint {record_path} has format {meta.get('format')!r}; "
                              f"this seqnet reads formats {FORMAT} and {SHARDED_FORMAT}")  # fmt: skip
    meta["path"] = str(record_path)
    return meta, _read_data(record_path.with_suffix(".safetensors"), meta, verify, record_path)


def _read_sharded(record_path: Path, meta: dict, verify: bool) -> dict[str, np.ndarray]:
    """Whole arrays from the shard files a format-2 record lists, each file checked."""
    shards, arrays = meta.get("shards"), meta.get("arrays")
    if not (isinstance(shards, list) and shards and isinstance(arrays, dict)
            and all(isinstance(s, dict) and isinstance(s.get("file"), str) for s in shards)):  # fmt: skip
        raise CheckpointError(f"checkpoint record {record_path} is corrupt (no list of shard files)")
    pieces: dict[str, np.ndarray] = {}
    for s in shards:
        name = Path(s["file"]).name  # a record names files beside it, never a path elsewhere
        pieces.update(_read_data(record_path.parent / name, s, verify, record_path))
    meta["path"] = str(record_path)
    try:
        return assemble(pieces, arrays, str(record_path))
    except (ValueError, TypeError, KeyError) as e:
        raise CheckpointError(f"checkpoint {e}; it was not used") from None


def _read_data(data_path: Path, meta: dict, verify: bool, record_path: Path) -> dict[str, np.ndarray]:
    """The tensors of one safetensors file, checked against the size and sha256 `meta` records."""
    from safetensors.numpy import load as st_load

    size = meta.get("bytes")
    if verify and not (isinstance(size, int) and size >= 0 and isinstance(meta.get("sha256"), str)):
        raise CheckpointError(f"checkpoint record {record_path} has no sha256 and size of its data "
                              "file, so the data cannot be verified; it was not used")  # fmt: skip
    # The record says how big the data is: never read more than that (and one byte to notice).
    data = read_regular(data_path, size if verify else 1 << 40)
    if verify and len(data) != size:
        shown = f"over {size}" if len(data) > size else str(len(data))
        raise CheckpointError(f"checkpoint {data_path} is truncated or altered: {shown} bytes, "
                              f"the record says {size}")  # fmt: skip
    if verify and hashlib.sha256(data).hexdigest() != meta["sha256"]:
        raise CheckpointError(f"checkpoint {data_path} is corrupt: its sha256 does not match the record")
    try:
        return st_load(data)
    except Exception as e:  # safetensors raises its own error types
        raise CheckpointError(f"checkpoint {data_path} is not a readable safetensors file ({e})") from None


def check_meta(meta: dict, *, spec: str | None, structure: str | None) -> None:
    where = meta.get("path", "?")
    if structure is not None and meta.get("structure_hash") not in (None, structure):
        raise CheckpointError(
            f"checkpoint {where} was written for another model (spec '{meta.get('spec')}', parameter "
            f"structure {meta.get('structure_hash')}); this model ('{spec}') has structure {structure}"
        )
