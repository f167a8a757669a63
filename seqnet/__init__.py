"""seqnet: a compiler for sequence-model specs. Check, draw, compile to XLA, train."""

from seqnet.errors import Diagnostic, SpecError
from seqnet.model import Model, load, load_checkpoint, loads

__all__ = ["Diagnostic", "Model", "SpecError", "load", "load_checkpoint", "loads"]
__version__ = "0.1.0"
