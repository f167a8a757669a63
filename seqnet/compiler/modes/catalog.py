"""Loads every mode's definition into the registry (modes/registry.py), in the order that
messages and completion list them."""

from __future__ import annotations

import importlib

from seqnet.compiler.modes.registry import MODES, ModeDef

DEFINED = ("standard", "local", "mask_merge")  # the modules of seqnet/compiler/modes/


def load_modes() -> dict[str, ModeDef]:
    for module in DEFINED:
        importlib.import_module(f"seqnet.compiler.modes.{module}")
    return MODES
