"""Where Lark keeps the grammar's LALR tables between processes, so that `seqnet check` does not
rebuild them each time (building them was a quarter of a small check's wall time).

Lark itself verifies what it loads: the file starts with a hash of the grammar, the options and
the Lark and Python versions, and a file that does not match, or does not unpickle, is rebuilt
and rewritten (a failed write, as in a read-only home, only means no cache). The file name also
carries the grammar's hash, so checkouts with different grammars sharing one cache folder do not
overwrite each other's tables. The tables are a pickle, so they are read only from a folder that
is the user's own and not writable by others (never a shared /tmp): anyone who could plant one
there could already edit the user's files.
"""

from __future__ import annotations

import hashlib
import os
import stat
import sys
from pathlib import Path

ENV = "SEQNET_CACHE_DIR"


def cache_folder() -> Path:
    """$SEQNET_CACHE_DIR, else $XDG_CACHE_HOME/seqnet, else ~/.cache/seqnet."""
    if os.environ.get(ENV):
        return Path(os.environ[ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "seqnet"


def _private(folder: Path) -> bool:
    """The folder is a real folder of ours that no one else may write into."""
    try:
        st = os.lstat(folder)
    except OSError:
        return False
    owned = not hasattr(os, "getuid") or st.st_uid == os.getuid()
    return stat.S_ISDIR(st.st_mode) and owned and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def tables_path(grammar: str) -> str | bool:
    """The path to give Lark's `cache=` for this grammar text, or False (no cache) when there
    is no private folder for it (SEQNET_CACHE_DIR="" turns the cache off)."""
    if os.environ.get(ENV) == "" and ENV in os.environ:
        return False
    folder = cache_folder()
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError:
        return False
    if not _private(folder):
        return False
    import lark

    key = hashlib.sha256(f"{grammar}\0{lark.__version__}\0{sys.version_info[:2]}".encode()).hexdigest()
    path = folder / f"parser-{key[:16]}.lark-tables"
    if path.is_symlink():
        return False
    return str(path)
