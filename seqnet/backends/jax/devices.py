"""The devices a run uses: the device mesh, and JAX's persistent compilation cache."""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path

import numpy as np

from seqnet.backends.jax.failures import TrainingError

_CACHE_SET = False
MIN_COMPILE_S = 0.5  # programs that compile faster are not kept (JAX's default is 1 s)
MIN_COMPILE_ENV = "SEQNET_JAX_CACHE_MIN_COMPILE_S"


def cache_min_compile_s() -> float:
    """$SEQNET_JAX_CACHE_MIN_COMPILE_S, the compile time (seconds) from which a program is kept;
    MIN_COMPILE_S when unset. A value that is not a number >= 0 is named on stderr and ignored."""
    text = os.environ.get(MIN_COMPILE_ENV, "").strip()
    if not text:
        return MIN_COMPILE_S
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        print(f"seqnet: ignoring {MIN_COMPILE_ENV}={text!r} (not a number of seconds >= 0); "
              f"using {MIN_COMPILE_S}", file=sys.stderr)  # fmt: skip
        return MIN_COMPILE_S
    return value


def enable_compilation_cache(path: str | Path | None = None, min_compile_s: float | None = None) -> None:
    """JAX's persistent compilation cache under ~/.cache/seqnet/jax (or $SEQNET_JAX_CACHE), keeping
    programs that took `min_compile_s` (default: cache_min_compile_s()) or more to compile, with
    entries written whole (compile_cache.py). Once per process; the first call decides."""
    global _CACHE_SET
    if _CACHE_SET:
        return
    import jax

    path = path or os.environ.get("SEQNET_JAX_CACHE") or Path.home() / ".cache" / "seqnet" / "jax"
    try:
        Path(path).mkdir(parents=True, exist_ok=True)
        jax.config.update("jax_compilation_cache_dir", str(path))
        jax.config.update("jax_persistent_cache_min_compile_time_secs",
                          cache_min_compile_s() if min_compile_s is None else min_compile_s)  # fmt: skip
        # compile_cache reads JAX's private cache module, which a later JAX may move
        from seqnet.backends.jax import compile_cache

        compile_cache.install(path)
    except Exception:  # an old jax or a read-only home: run without the cache (or with JAX's own)
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
