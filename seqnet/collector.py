"""Python's cyclic garbage collector, off where seqnet only builds objects that stay.

Importing seqnet's dependencies (networkx, pydantic, lark) and running the front end allocate many
small long-lived objects (functions, classes, tokens, the AST, the graph's records) and free few,
so each collection rescans them for nothing: in the pipeline's stages that was a third of the CPU
time of a 3,000-node compile, and a whole-process `seqnet check` of a small spec made
about 70 collections while importing, one more that rescanned everything the compile built when
the pipeline turned the collector back on, and a full one at interpreter exit: together about a
seventh of its CPU time (benchmarks/frontend.py measures it). What little cyclic garbage the
front end leaves (a few hundred objects) is collected once the collector is back on, or goes
with the process.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused() -> Iterator[None]:
    """The collector off for the duration, as it was found afterwards (also when the body
    raises), so that a library caller's process keeps its own setting."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def off_until_exit() -> None:
    """For a process that is one short command (`seqnet check` run as the program, not called
    in-process): the collector stays off, so neither the collection that turning it back on
    would start nor the full one at interpreter exit runs. Its memory goes back with the process."""
    gc.disable()
