"""The run folder (default runs/<spec stem>) and the rules for reusing one.

Layout:
  metrics.jsonl       one JSON object a line: {"step", "split": "train"|"eval", "loss",
                      "metrics": {...}, "time", ("lr", "examples_per_s", "grad_norm" for train)}
  checkpoints/        step_XXXXXXXX.safetensors + step_XXXXXXXX.json (see checkpoint.py), the
                      newest 3 kept, written every checkpoint_every steps, at the end, on Ctrl-C
  curves.png          loss and metrics against step (plots.py)
  tensorboard/        event files, only when tensorboardX (or torch's SummaryWriter) imports

A fresh run into a folder that holds an earlier run is refused (nothing changed) unless it
continues it (resume) or replaces it (overwrite). One run at a time: `RunLock`. Every write
into the folder stays in it (seqnet.atomic's `within=`): a symlink planted there is refused."""

from __future__ import annotations

import fcntl
import json
import os
import re
import socket
import sys
import tempfile
from pathlib import Path

from seqnet import atomic
from seqnet.backends.jax.failures import TrainingError

METRICS = "metrics.jsonl"
STAGED_METRICS = "metrics.jsonl.new"  # a replacing run's metrics until its first checkpoint
CHECKPOINTS = "checkpoints"
CURVES = "curves.png"


def check_writable(folder: Path) -> None:
    """Find an unwritable output before training, not after it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".probe-"):
            pass
    except OSError as e:
        raise TrainingError(f"cannot write checkpoints to {folder}: {e.strerror or e}; "
                            "choose another folder with --out DIR") from None


def refuse_earlier_run(out: Path, checkpoints: list) -> None:
    """A fresh run must not silently delete the checkpoints and metrics of an earlier one."""
    if out.exists() and not out.is_dir():
        raise TrainingError(f"the output folder {out} is a file; choose another with --out DIR")
    held = []
    if checkpoints:
        held.append(f"checkpoints up to {Path(checkpoints[-1]).name}")
    if (out / METRICS).is_file() and has_records(out / METRICS):
        held.append(METRICS)
    if held:
        raise TrainingError(f"{out} holds an earlier run ({', '.join(held)}); nothing was changed. "
                            "Continue it with --resume (resume=True), replace it with --overwrite "
                            "(overwrite=True), or train into another folder (--out DIR, out=...)")  # fmt: skip


def has_records(metrics: Path) -> bool:
    """Whether metrics.jsonl holds anything (a run that died before logging leaves it empty,
    and an empty file is no earlier run to protect)."""
    try:
        with open(metrics, "rb") as f:
            return bool(f.read(4096).strip())
    except OSError:
        return True  # unreadable: keep refusing rather than guess


_TEMP = re.compile(r"^\..+\.[0-9a-f]{8}" + re.escape(atomic.TEMP_SUFFIX) + r"$")


def clean_temp_files(out: Path) -> list[Path]:
    """Remove what killed writes left in the run folder: seqnet's own temp files (named
    .<name>.<8 hex>.tmp by seqnet.atomic), a staged metrics.jsonl.new and write probes. Called
    with the folder's lock held, so no live run is writing them. Returns what went."""
    gone = []
    for folder in (out, out / CHECKPOINTS):
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for e in entries:
            ours = _TEMP.match(e.name) or e.name.startswith(".probe-") or \
                (folder == out and e.name == STAGED_METRICS)  # fmt: skip
            if ours and e.is_file(follow_symlinks=False):
                try:
                    os.unlink(e.path)
                    gone.append(Path(e.path))
                except OSError:
                    pass
    return gone


class RunFolderBusy(TrainingError):
    """Another live run holds the run folder's lock."""


class RunLock:
    """The run folder's lock, held by a training run (fresh, resumed or replacing) from its
    first look at the folder to its last write: `<out>/.seqnet.lock`, flock()ed, holding the
    owner's pid and host as JSON.

    The kernel drops the flock when its owner dies (kill -9 included), so a lock file that can
    be locked but still names an owner is a stale one: it is taken over, with a warning naming
    the dead owner. A lock held by a live process refuses the second run (RunFolderBusy)."""

    NAME = ".seqnet.lock"

    def __init__(self, out: Path, warn=None):
        self.path = Path(out) / self.NAME
        self.out = Path(out)
        self.warn = warn or (lambda text: print(f"seqnet: warning: {text}", file=sys.stderr))
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def acquire(self) -> None:
        atomic.check_within(self.path, self.out)
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        for _ in range(50):
            fd = os.open(self.path, flags, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                owner = _read_owner(fd)
                os.close(fd)
                who = (f"pid {owner.get('pid')} on host {owner.get('host')}" if owner else
                       "another process")  # fmt: skip
                raise RunFolderBusy(
                    f"{self.out} is in use by a running training run ({who}; lock file "
                    f"{self.path}); nothing was changed. Wait for it to finish, or train into "
                    "another folder (--out DIR, out=...)"
                ) from None
            try:  # locked: but is it still the file at that path (not one unlinked meanwhile)?
                same = os.fstat(fd).st_ino == os.stat(self.path, follow_symlinks=False).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            stale = _read_owner(fd)
            if stale and not (stale.get("pid") == os.getpid() and stale.get("host") == _host()):
                self.warn(f"{self.out}: taking over the lock of a training run that is gone "
                          f"(pid {stale.get('pid')} on host {stale.get('host')}, lock file "
                          f"{self.path})")  # fmt: skip
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps({"pid": os.getpid(), "host": _host()}).encode(), 0)
            os.fsync(fd)
            self._fd = fd
            return
        raise RunFolderBusy(f"{self.out}: could not take the lock {self.path} (it kept changing)")

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            os.unlink(self.path)  # while still locked: a waiting opener re-checks the inode
        except OSError:
            pass
        os.close(self._fd)  # drops the flock
        self._fd = None


def _host() -> str:
    return socket.gethostname()


def _read_owner(fd: int) -> dict | None:
    try:
        data = os.pread(fd, 4096, 0)
        owner = json.loads(data) if data.strip() else None
    except (OSError, ValueError, UnicodeDecodeError):
        return {"pid": "?", "host": "?"}
    if owner is None:
        return None  # a new lock file, or one released cleanly
    return owner if isinstance(owner, dict) else {"pid": "?", "host": "?"}
