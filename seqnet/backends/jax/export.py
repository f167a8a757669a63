"""Export a trained model as serialised StableHLO (`jax.export`) plus its parameters, and load it back.

Layout (a folder, or the same files in a .zip when `out_path` ends in .zip):
  model.jaxexport     `jax.export.Exported.serialize()` of f(params, inputs) -> outputs, where
                      params is the nested dict of the checkpoint and inputs {name: array[batch, ...]}
  model.mlir          the StableHLO module as text (for reading; not needed to run)
  params.safetensors  the parameters, keyed "params/<node>/<name>"
  manifest.json       {"format", "spec", "batch": "symbolic" | N, "platforms",
                       "inputs"/"outputs": {name: {"dtype", "shape": [null, ...]}}}
The batch axis is symbolic when the model exports that way (any batch size then runs); otherwise
pass `batch=N` for a fixed one. `load_exported(path)` needs only jax, numpy and safetensors.

From a sharded checkpoint (format 2), the pieces of every process are joined on the host and
written whole (the export is one file of parameters); the module is traced from shapes alone,
so no device holds the parameters while exporting.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from seqnet.backends.jax import checkpoint as ck
from seqnet.errors import UserError

FORMAT = 1


class ExportError(UserError):
    """The model cannot be exported as asked, or an exported model cannot be loaded / run."""


def _need_flatbuffers() -> None:
    try:
        import flatbuffers  # noqa: F401  (jax.export's serialisation needs it)
    except ImportError:
        raise ExportError("serialising a jax.export module needs the 'flatbuffers' package: "
                          "pip install flatbuffers") from None


def _nest(flat: dict[str, np.ndarray], prefix: str = "params/") -> dict:
    tree: dict = {}
    for key, value in flat.items():
        if not key.startswith(prefix):
            continue
        parts = key[len(prefix):].split("/")
        node = tree
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    return tree


def export(model, checkpoint_dir: str | Path, out_path: str | Path, *, batch: int | None = None,
           platforms: tuple[str, ...] | None = None) -> Path:  # fmt: skip
    """Write the model of a checkpoint as StableHLO + parameters to `out_path` (a folder or .zip)."""
    import jax

    lowered = model.jax_lowering()
    meta, tensors = ck.read(checkpoint_dir)
    template = jax.eval_shape(lowered.init, jax.random.PRNGKey(0))
    params = ck.unflatten(template, "params", tensors, meta["path"])

    def f(p, inputs):
        return lowered.apply(p, inputs, rng=None, train=False)

    p_sds = jax.tree_util.tree_map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype), params)

    def in_sds(b):
        return {n: jax.ShapeDtypeStruct((b, *t.dims), np.dtype(t.dtype if t.dtype != "bfloat16" else "float32"))
                for n, t in model.inputs.items()}  # fmt: skip

    kwargs = {"platforms": tuple(platforms)} if platforms else {}
    if batch is None:
        try:
            (b,) = jax.export.symbolic_shape("batch")
            exported = jax.export.export(jax.jit(f), **kwargs)(p_sds, in_sds(b))
        except Exception as e:
            raise ExportError(f"this model does not export with a symbolic batch axis ({type(e).__name__}: "
                              f"{str(e).splitlines()[0][:300]}); export with a fixed batch: batch=N "
                              "(--batch N)") from None  # fmt: skip
        batch_desc: str | int = "symbolic"
    else:
        if batch < 1:
            raise ExportError(f"batch must be positive, got {batch}")
        exported = jax.export.export(jax.jit(f), **kwargs)(p_sds, in_sds(int(batch)))
        batch_desc = int(batch)

    from safetensors.numpy import save as st_save

    _need_flatbuffers()
    out_types = jax.eval_shape(f, p_sds, in_sds(1))
    manifest = {
        "format": FORMAT, "spec": meta.get("spec"), "step": meta.get("step"), "batch": batch_desc,
        "platforms": list(exported.platforms),
        "inputs": {n: {"dtype": str(np.dtype(s.dtype)), "shape": [None, *s.shape[1:]],
                       **({"vocab": model.inputs[n].vocab} if model.inputs[n].vocab else {})}
                   for n, s in in_sds(1).items()},
        "outputs": {n: {"dtype": str(np.dtype(s.dtype)), "shape": [None, *s.shape[1:]]}
                    for n, s in out_types.items()},
    }  # fmt: skip
    files = {
        "model.jaxexport": bytes(exported.serialize()),
        "model.mlir": exported.mlir_module().encode(),
        "params.safetensors": st_save({k: np.ascontiguousarray(v) for k, v in
                                       ck.flatten(jax.device_get(params), "params").items()}),  # fmt: skip
        "manifest.json": json.dumps(manifest, indent=1).encode(),
    }
    out_path = Path(out_path)
    _check_replaceable(out_path)
    if out_path.suffix == ".zip":
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for name, data in files.items():
                z.writestr(name, data)
        ck.atomic_write_bytes(out_path, buf.getvalue())
        return out_path
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_path.name}.", dir=out_path.parent))
    try:
        for name, data in files.items():
            ck.atomic_write_bytes(tmp / name, data)
        if out_path.exists():
            # The earlier export (checked to be one) moves into a folder made for it just now,
            # and only that folder is deleted: never a path that might be someone else's.
            holder = Path(tempfile.mkdtemp(prefix=f".{out_path.name}.", suffix=".old", dir=out_path.parent))
            os.replace(out_path, holder / out_path.name)
            try:
                os.replace(tmp, out_path)
            except BaseException:
                os.replace(holder / out_path.name, out_path)  # put the earlier export back
                holder.rmdir()
                raise
            shutil.rmtree(holder, ignore_errors=True)
        else:
            os.replace(tmp, out_path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_path


EXPORT_FILES = frozenset({"model.jaxexport", "model.mlir", "params.safetensors", "manifest.json"})


def _is_export_manifest(data: bytes) -> bool:
    try:
        manifest = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return False
    return isinstance(manifest, dict) and "format" in manifest and "inputs" in manifest


def _check_replaceable(out: Path) -> None:
    """An export may replace an earlier export, never anything else (a run folder, a user's file)."""
    if not out.exists() and not out.is_symlink():
        return
    refuse = ExportError(f"{out} already exists and is not a seqnet export; it was left as it is. "
                         "Choose another output path (a new folder or a .zip), or remove it first")  # fmt: skip
    if out.is_symlink():
        raise refuse
    if out.is_dir():
        names = {p.name for p in out.iterdir()}
        manifest = out / "manifest.json"
        if not names or (names <= EXPORT_FILES and manifest.is_file()
                         and _is_export_manifest(manifest.read_bytes())):  # fmt: skip
            return
        raise refuse
    if out.suffix == ".zip" and zipfile.is_zipfile(out):
        try:
            with zipfile.ZipFile(out) as z:
                if set(z.namelist()) <= EXPORT_FILES and _is_export_manifest(z.read("manifest.json")):
                    return
        except (KeyError, zipfile.BadZipFile, OSError):
            pass
    raise refuse


class ExportedModel:
    """A loaded export: call it with the inputs by name; returns {output: np.ndarray}."""

    def __init__(self, exported, params: dict, manifest: dict):
        self.exported, self.params, self.manifest = exported, params, manifest
        self.inputs = manifest["inputs"]
        self.outputs = manifest["outputs"]

    def __call__(self, **inputs) -> dict[str, np.ndarray]:
        return self.run(inputs)

    def run(self, inputs: dict) -> dict[str, np.ndarray]:
        from seqnet.backends.jax.inputs import first_true

        args = {}
        for name, t in self.inputs.items():
            if name not in inputs:
                raise ExportError(f"input '{name}' is missing (expected {t['dtype']}{t['shape']})")
            a = np.asarray(inputs[name])
            if list(a.shape[1:]) != t["shape"][1:] or a.dtype.kind != np.dtype(t["dtype"]).kind:
                raise ExportError(f"input '{name}': expected {t['dtype']}[batch, "
                                  f"{', '.join(map(str, t['shape'][1:]))}], got {a.dtype}{list(a.shape)}")  # fmt: skip
            b = self.manifest["batch"]
            if b != "symbolic" and a.shape[0] != b:
                raise ExportError(f"input '{name}': this export has a fixed batch of {b}, got {a.shape[0]}")
            vocab = t.get("vocab")
            i = first_true((a < 0) | (a >= vocab)) if vocab else None
            if i is not None:
                raise ExportError(f"input '{name}': token ids must lie in 0..{vocab - 1}, but "
                                  f"example {i[0]} holds {a[i]}")  # fmt: skip
            args[name] = a.astype(t["dtype"], copy=False)
        import jax

        return {k: np.asarray(v) for k, v in jax.device_get(self.exported.call(self.params, args)).items()}


def load_exported(path: str | Path) -> ExportedModel:
    """Load a folder or .zip written by `export`."""
    import jax
    from safetensors.numpy import load as st_load

    path = Path(path)
    names = ("model.jaxexport", "params.safetensors", "manifest.json")
    try:
        if path.is_dir():
            blobs = {n: (path / n).read_bytes() for n in names}
        else:
            with zipfile.ZipFile(path) as z:
                blobs = {n: z.read(n) for n in names}
    except (OSError, KeyError, zipfile.BadZipFile) as e:
        raise ExportError(f"{path} is not a seqnet export ({e})") from None
    _need_flatbuffers()
    manifest = json.loads(blobs["manifest.json"])
    if manifest.get("format") != FORMAT:
        raise ExportError(f"{path}: export format {manifest.get('format')!r}, this seqnet reads {FORMAT}")
    try:
        exported = jax.export.deserialize(bytearray(blobs["model.jaxexport"]))
    except Exception as e:
        raise ExportError(f"{path}: the serialised module cannot be read ({e})") from None
    params = _nest(st_load(blobs["params.safetensors"]))
    return ExportedModel(exported, params, manifest)
