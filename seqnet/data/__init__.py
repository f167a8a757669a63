"""seqnet's built-in data sources.

The compiler uses the declarations (`SOURCES`, `get_source(name).fields(**args)`), which import
neither numpy nor scikit-learn; the runtime calls `get_source(name).load(split, n_examples, seed,
**args)` for arrays, and `seqnet.data.batches.batches` / `prefetch` to feed them to the device.
"""

from seqnet.data.sources import (
    PREFIXES,
    REQUIRED,
    SOURCES,
    SPLITS,
    TEXT_CHARS,
    TEXT_MODULES,
    TEXT_UNKNOWN,
    TEXT_VOCAB,
    DataArg,
    DataArgError,
    DataSource,
    UnknownSourceError,
    decode,
    describe,
    encode,
    get_source,
    strip_prefix,
)

__all__ = [
    "PREFIXES", "REQUIRED", "SOURCES", "SPLITS", "TEXT_CHARS", "TEXT_MODULES", "TEXT_UNKNOWN",
    "TEXT_VOCAB", "DataArg", "DataArgError", "DataSource", "UnknownSourceError", "decode",
    "describe", "encode", "get_source", "load", "strip_prefix",
]  # fmt: skip


def load(name: str, split: str, n_examples: int | None = None, seed: int = 0, **args):
    """Shorthand for `get_source(name).load(split, n_examples, seed, **args)`."""
    return get_source(name).load(split, n_examples, seed, **args)
