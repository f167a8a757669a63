"""Atomic file writes: a temp file in the target's folder, fsync, then rename over the target.

Every file seqnet writes (formatted specs, checkpoints, predictions, exports, diagrams) goes
through `write_with` / `write_bytes` / `write_text`, which:

- follow a symlink: the file it points to is replaced and the link stays a link;
- refuse (NotARegularFile) a target that exists and is not a regular file - a device such as
  /dev/null, a FIFO, a socket, a folder - and leave it as it is, since a rename would replace it;
- keep an existing file's permission bits (and, where allowed, its owner); a new file gets the
  default mode 0o666 less the umask, as `open(path, "w")` would give it;
- fsync the data before the rename (and the folder after it);
- remove the temp file on any failure, leaving the old file intact;
- given `within=FOLDER` (a run folder), refuse (OutsideFolder) a target that a symlink takes out
  of that folder: a link planted in a run folder must not make a run overwrite files elsewhere.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from seqnet.errors import UserError


class NotARegularFile(OSError):
    """The target of a write exists and is not a regular file (a device, FIFO, socket, folder)."""


class OutsideFolder(UserError):
    """A write inside a folder would follow a symlink out of it."""


TEMP_SUFFIX = ".tmp"  # every temp file is named .<target name>.<8 hex digits>.tmp


_KINDS = [(stat.S_ISDIR, "a folder"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
          (stat.S_ISSOCK, "a socket")]  # fmt: skip


def file_kind(mode: int) -> str:
    """What a non-regular file is, for messages: "a folder", "a named pipe (FIFO)", ..."""
    return next((name for test, name in _KINDS if test(mode)), "a special file")


def resolve_target(path: str | os.PathLike) -> tuple[Path, os.stat_result | None]:
    """The file a write to `path` must replace (symlinks followed) and its stat, None if new.

    Raises NotARegularFile when it exists and is not a regular file, or is a symlink loop."""
    path = Path(path)
    target = Path(os.path.realpath(path)) if os.path.islink(path) else path
    if os.path.islink(target):  # realpath gave up: a loop of links
        raise NotARegularFile(f"cannot write {path}: it is a symlink loop; it was left as it is")
    try:
        st = os.stat(target)
    except FileNotFoundError:
        return target, None
    if not stat.S_ISREG(st.st_mode):
        shown = f"{path} (-> {target})" if target != path else f"{path}"
        raise NotARegularFile(f"cannot write {shown}: it is {file_kind(st.st_mode)}, not a regular "
                              "file; it was left as it is. Choose a file path")  # fmt: skip
    return target, st


def check_within(path: str | os.PathLike, folder: str | os.PathLike) -> Path:
    """`path` with its symlinks resolved, which must lie inside `folder` (resolved too).

    Raises OutsideFolder, naming the link, when a symlink in `path` (the file itself or a
    folder on the way) points out of `folder`."""
    path, root = Path(path), Path(os.path.realpath(folder))
    real = Path(os.path.realpath(path))
    if real == root or root in real.parents:
        return real
    link = next((p for p in [path, *path.parents] if os.path.islink(p)), path)
    raise OutsideFolder(f"cannot write {path}: {link} is a symlink to {os.path.realpath(link)}, "
                        f"outside {folder}; nothing was written through it. Remove the link (a "
                        "run folder's files are seqnet's own)")  # fmt: skip


def open_append(path: str | os.PathLike, folder: str | os.PathLike):
    """A text file opened for appending, refusing symlinks out of `folder` (or at all at the
    last component, O_NOFOLLOW) and anything but a regular file."""
    real = check_within(path, folder)
    fd = os.open(real, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
                 | getattr(os, "O_CLOEXEC", 0), 0o666)  # fmt: skip
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise NotARegularFile(f"cannot append to {path}: it is {file_kind(st.st_mode)}")
    return os.fdopen(fd, "a")


def _open_temp(folder: Path, name: str) -> tuple[int, Path]:
    # os.open with 0o666 lets the kernel apply the umask (mkstemp would force 0o600)
    for _ in range(100):
        tmp = folder / f".{name}.{secrets.token_hex(4)}{TEMP_SUFFIX}"
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0),
                           0o666), tmp  # fmt: skip
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary file name", str(folder))


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_with(path: str | os.PathLike, writer: Callable[[BinaryIO], object], *,
               within: str | os.PathLike | None = None) -> Path:  # fmt: skip
    """Call writer(binary file) on a temp file beside the target, then rename it over the target.

    Returns the path written (the symlink's target when `path` is a symlink). If anything fails,
    the temp file is removed and the target is untouched. within: the folder the write must
    stay in (OutsideFolder otherwise)."""
    if within is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        check_within(path, within)
    target, old = resolve_target(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _open_temp(target.parent, target.name)
    try:
        with os.fdopen(fd, "wb") as f:
            if old is not None:
                if hasattr(os, "fchown") and (old.st_uid, old.st_gid) != (os.getuid(), os.getgid()):
                    try:  # best effort: only root (or a group member) may
                        os.fchown(f.fileno(), old.st_uid, old.st_gid)
                    except OSError:
                        pass
                os.chmod(f.fileno(), stat.S_IMODE(old.st_mode))
            writer(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(target.parent)
    return target


def write_bytes(path: str | os.PathLike, data: bytes, *, within: str | os.PathLike | None = None) -> Path:
    return write_with(path, lambda f: f.write(data), within=within)


def write_text(path: str | os.PathLike, text: str, *, within: str | os.PathLike | None = None) -> Path:
    return write_bytes(path, text.encode("utf-8"), within=within)
