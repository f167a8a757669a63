"""seqnet: a compiler for sequence-model specs. Check, draw, compile to XLA, train."""

from seqnet.errors import Diagnostic, SpecError
from seqnet.model import Model, load, loads

__all__ = ["Diagnostic", "Model", "SpecError", "load", "loads"]
__version__ = "0.1.0"
