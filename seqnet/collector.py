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
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn


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
    in-process): the collector stays off, so the collection that turning it back on would start
    never runs. Its memory goes back with the process."""
    gc.disable()


def exit_now(code: int) -> NoReturn:
    """End such a process without the interpreter's teardown, whose module finalisation collects
    everything three times even with the collector off (a twentieth of a small check's
    instructions, counted with valgrind). The output is flushed first; atexit handlers do not run
    (a check registers none that matter: it writes files only inside `with` blocks)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # the reader left (`seqnet check ... | head`), or it is closed
            pass
    os._exit(code)
