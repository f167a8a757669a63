"""The JAX drivers of the training modes (compiler/modes/ defines them): what one training step
of a mode is, what it draws its steps' data from, and the precision it runs in. The loop
(loop.py) runs any driver the same way: logging, evaluation, checkpoints and resume."""

from __future__ import annotations

import contextlib
import importlib

from seqnet.compiler.modes.catalog import load_modes

BACKEND = "jax"
DRIVERS = ("standard", "local", "mask_merge")  # the modules of this package that register one


def driver_for(mode: str):
    """The driver class `mode` registered for this backend."""
    for module in DRIVERS:
        importlib.import_module(f"seqnet.backends.jax.modes.{module}")
    return load_modes()[mode].drivers[BACKEND]


def precision(config):
    """The context a run in `config.dtype` runs in: float64 needs JAX's 64-bit mode (enabled
    for this run only, so nothing else in the process changes)."""
    if config.dtype == "float64":
        import jax

        return jax.enable_x64(True)
    return contextlib.nullcontext()
