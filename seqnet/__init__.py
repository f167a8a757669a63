"""seqnet: a compiler for sequence-model specs. Check, draw, compile to XLA, train.

The public names are imported on first use (PEP 562): `import seqnet`, which every entry point
runs first, loads neither networkx nor the compiler, so that `seqnet check` can turn Python's
collector off before they are imported (see seqnet/collector.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from seqnet.errors import Diagnostic, SpecError
    from seqnet.model import Model, load, load_checkpoint, loads

__all__ = ["Diagnostic", "Model", "SpecError", "load", "load_checkpoint", "loads"]
__version__ = "0.1.0"


def __getattr__(name: str):
    if name in ("Diagnostic", "SpecError"):
        from seqnet import errors as module
    elif name in ("Model", "load", "load_checkpoint", "loads"):
        from seqnet import model as module
    else:
        raise AttributeError(f"module 'seqnet' has no attribute {name!r}")
    value = globals()[name] = getattr(module, name)
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
