"""JAX's persistent compilation cache, with entries that are written whole.

JAX's file cache writes an entry in place (`Path.write_bytes`), so a process that reads an entry
while another is writing it gets a truncated executable, and a writer killed half-way leaves a
truncated entry that JAX never replaces (its `put` returns when the file exists): every later
compile of that program warns "Error reading persistent compilation cache entry" and compiles
again. Both happen in seqnet's ordinary use: a sweep starts several runs of one spec at once, all
compiling the same programs, and a run may be killed at any point.

So seqnet installs `WholeFileCache`: the same files, under the same names, in the same folder
(JAX's own cache reads them, and this one reads JAX's), but each written to a temp file in that
folder and renamed over its name. A reader sees the old entry, no entry, or the whole new one. A
`put` replaces an entry that is there: JAX only writes after a miss or an entry it could not
read, so an entry that is there is a racing writer's (the same bytes) or a broken one.

The cache is JAX's private interface (`jax._src.compilation_cache`); where it is not as this
module expects, seqnet leaves JAX's own cache in place, which works, less safely.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

from jax._src.lru_cache import LRUCache

ENTRY_SUFFIX = "-cache"  # JAX's file cache: <key>-cache
TEMP_PREFIX = ".seqnet-"  # .seqnet-<key>-cache.<8 hex>.tmp while it is written
STALE_TEMP_S = 3600.0  # a temp file this old belongs to a writer that was killed


class WholeFileCache(LRUCache):
    """JAX's file cache (LRUCache without eviction) whose `put` writes a temp file and renames it."""

    def __init__(self, path: str | os.PathLike):
        super().__init__(str(path), max_size=-1)

    def put(self, key: str, value: bytes) -> None:
        if not key:
            raise ValueError("key cannot be empty")
        final = Path(self.path) / f"{key}{ENTRY_SUFFIX}"
        temp = final.with_name(f"{TEMP_PREFIX}{final.name}.{secrets.token_hex(4)}.tmp")
        try:
            temp.write_bytes(value)
            os.replace(temp, final)
        except OSError:  # a cache that cannot be written only makes later runs compile again
            temp.unlink(missing_ok=True)


def remove_stale_temps(folder: str | os.PathLike, older_than_s: float = STALE_TEMP_S) -> int:
    """Remove the temp files of writers killed more than `older_than_s` ago; how many went."""
    cutoff, removed = time.time() - older_than_s, 0
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for entry in entries:
        if entry.name.startswith(TEMP_PREFIX) and entry.name.endswith(".tmp"):
            try:
                if entry.stat().st_mtime < cutoff:
                    os.unlink(entry.path)
                    removed += 1
            except OSError:
                pass
    return removed


def install(folder: str | os.PathLike) -> bool:
    """Make JAX's persistent cache a WholeFileCache on `folder` (the folder the caller has set as
    `jax_compilation_cache_dir`); False, leaving JAX's own cache, where JAX is not as expected or
    a cache was already in use."""
    try:
        from jax._src import compilation_cache as cc

        with cc._cache_initialized_mutex:
            if cc._cache is not None:
                return isinstance(cc._cache, WholeFileCache)
            cc._cache = WholeFileCache(folder)
            cc._cache_initialized = True
    except (ImportError, AttributeError, TypeError, OSError):
        return False
    remove_stale_temps(folder)
    return True
