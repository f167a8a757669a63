"""The devices a run uses: the device mesh, and JAX's persistent compilation cache."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from seqnet.backends.jax.failures import TrainingError

_CACHE_SET = False


def enable_compilation_cache(path: str | Path | None = None, min_compile_s: float = 0.5) -> None:
    """JAX's persistent compilation cache under ~/.cache/seqnet/jax (or $SEQNET_JAX_CACHE)."""
    global _CACHE_SET
    if _CACHE_SET:
        return
    import jax

    path = path or os.environ.get("SEQNET_JAX_CACHE") or Path.home() / ".cache" / "seqnet" / "jax"
    try:
        Path(path).mkdir(parents=True, exist_ok=True)
        jax.config.update("jax_compilation_cache_dir", str(path))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", min_compile_s)
    except Exception:  # an old jax or a read-only home: run without the cache
        pass
    _CACHE_SET = True


def make_mesh(config):
    """A Mesh over jax.devices() shaped by config.mesh; -1 takes the remaining devices."""
    import jax
    from jax.sharding import Mesh

    devices = jax.devices()
    spec = dict(config.mesh) or {config.data_axis: -1}
    if config.data_axis not in spec:
        raise TrainingError(f"data_axis '{config.data_axis}' is not an axis of mesh {spec}")
    fixed = math.prod(v for v in spec.values() if v != -1)
    free = [k for k, v in spec.items() if v == -1]
    if len(free) > 1:
        raise TrainingError(f"mesh {spec}: only one axis may be -1")
    sizes = {k: (len(devices) // fixed if v == -1 else v) for k, v in spec.items()}
    total = math.prod(sizes.values())
    if total < 1 or total > len(devices):
        raise TrainingError(f"mesh {spec} needs {total} devices, there are {len(devices)}")
    grid = np.array(devices[:total], dtype=object).reshape(tuple(sizes.values()))
    return Mesh(grid, tuple(sizes))
