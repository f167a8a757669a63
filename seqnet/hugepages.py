"""Transparent huge pages for the buffers XLA's CPU runtime allocates on every step.

XLA's CPU backend allocates an execution's temporaries with malloc and frees them when it
returns. glibc serves a block above its mmap threshold (32 MiB at most) straight from `mmap` and
unmaps it on `free`, so every step of a model with large temporaries maps fresh memory and takes
one page fault per 4 KiB page on first touch. Measured here (2 cores, glibc 2.36, THP `madvise`):
FEN local at N = 256 maps a 431 MiB buffer a step, 110,000 faults, and a third of its CPU time
is the kernel's; gpt_char's run spends a quarter of its CPU time in the kernel the same way.
glibc's tunable `glibc.malloc.hugetlb=1` makes malloc `madvise(MADV_HUGEPAGE)` the memory it maps,
so the same buffers fault in 2 MiB pages instead (benchmarks/hugepages.py).

Tunables are read by the dynamic loader when a process starts, so the commands that run XLA
programs (`seqnet train`, `sweep`, `eval`, `predict`, `generate`) re-execute themselves once, with
the tunable added to the environment, before they import JAX: the same pid, arguments and
environment otherwise, and their children (a sweep's runs) inherit it. Only where it helps:
Linux with glibc 2.35 or later (older ones do not know the tunable), the kernel's THP mode
`madvise` (under `always` every large mapping gets huge pages already, under `never` none can),
and only when GLIBC_TUNABLES does not already choose: `GLIBC_TUNABLES=glibc.malloc.hugetlb=0`
turns it off. The Python API cannot re-execute its caller; start Python with the variable set
(`GLIBC_TUNABLES=glibc.malloc.hugetlb=1 jupyter lab`) for the same effect there. A profiler
that starts the command (`py-spy record -- seqnet train ...`) sees only the first process end:
set the variable yourself (to 1 or 0) there, and nothing starts again.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

TUNABLE = "glibc.malloc.hugetlb"
THP_MODE_FILE = Path("/sys/kernel/mm/transparent_hugepage/enabled")


def thp_mode(path: Path = THP_MODE_FILE) -> str | None:
    """The kernel's THP mode, the bracketed word of `always [madvise] never`; None if unknown."""
    try:
        text = path.read_text()
    except OSError:
        return None
    start, end = text.find("["), text.find("]")
    return text[start + 1 : end] if 0 <= start < end else None


def tunables_with_hugepages(tunables: str | None, mode: str | None, libc: tuple[str, str]) -> str | None:
    """The GLIBC_TUNABLES value to re-execute with, or None where nothing would change."""
    name, version = libc
    if name != "glibc" or mode != "madvise" or _version(version) < (2, 35):
        return None
    if tunables and any(item.split("=", 1)[0] == TUNABLE for item in tunables.split(":")):
        return None  # the person chose (0 is off)
    return f"{tunables}:{TUNABLE}=1" if tunables else f"{TUNABLE}=1"


def wanted_tunables(thp_file: Path = THP_MODE_FILE, libc: tuple[str, str] | None = None) -> str | None:
    """The GLIBC_TUNABLES a process started from this one's environment should have, on this
    machine; None where it has what it should already."""
    current = os.environ.get("GLIBC_TUNABLES")
    return tunables_with_hugepages(current, thp_mode(thp_file), libc or c_library())


def reexec_with_hugepages(thp_file: Path = THP_MODE_FILE, libc: tuple[str, str] | None = None) -> None:
    """Replace this process by itself with huge pages for malloc, where that would change
    anything (see the module docstring); otherwise return. Call it before any import that
    starts threads: a process that is the command-line program, never a library's caller."""
    if sys.platform != "linux" or not sys.argv or not os.path.isfile(sys.argv[0]):
        return  # `python -c ...` or a script from stdin cannot be started again
    value = wanted_tunables(thp_file, libc)
    if value is None:
        return
    os.environ["GLIBC_TUNABLES"] = value
    try:
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(sys.executable, sys.orig_argv)
    except OSError:  # no executable to start again: run on, with 4 KiB pages
        return


def c_library() -> tuple[str, str]:
    """("glibc", "2.36") where the C library says so; ("", "") elsewhere (musl, macOS)."""
    try:
        name, _, version = (os.confstr("CS_GNU_LIBC_VERSION") or "").partition(" ")
    except (AttributeError, ValueError, OSError):
        return "", ""
    return name, version


def _version(text: str) -> tuple[int, ...]:
    parts = []
    for part in text.split("."):
        if not part.isdigit():
            break
        parts.append(int(part))
    return tuple(parts)
