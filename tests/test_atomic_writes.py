"""The shared atomic writer (seqnet.atomic): symlinks, modes, non-regular targets, failures; and
the render fallback that must not overwrite an existing .dot file."""

from __future__ import annotations

import importlib
import os
import stat
from pathlib import Path

import pytest
from cli_run import run

import seqnet
from seqnet import atomic
from seqnet.backends.graphviz import DotMissing

ROOT = Path(__file__).resolve().parents[1]
MLP = ROOT / "specs" / "mlp_digits.seqnet"
MESSY = "input x :  float32[4]\noutput y : float32[4] = dense(x,4)\n"
render_mod = importlib.import_module("seqnet.backends.graphviz.render")
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))




# --- symlinks and modes ---------------------------------------------------------------------------

def test_symlink_target_updated_and_link_kept(tmp_path):
    real = tmp_path / "real" / "data.txt"
    real.parent.mkdir()
    real.write_text("old")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    assert atomic.write_text(link, "new") == real
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text() == "new" and not real.is_symlink()
    assert leftovers(tmp_path) == [] and leftovers(real.parent) == []


def test_relative_and_dangling_symlinks(tmp_path):
    (tmp_path / "a.txt").write_text("old")
    (tmp_path / "rel.txt").symlink_to("a.txt")
    atomic.write_text(tmp_path / "rel.txt", "new")
    assert (tmp_path / "rel.txt").is_symlink() and (tmp_path / "a.txt").read_text() == "new"
    # a dangling link is written through, as open(link, "w") would
    (tmp_path / "dangling.txt").symlink_to("made.txt")
    atomic.write_text(tmp_path / "dangling.txt", "x")
    assert (tmp_path / "dangling.txt").is_symlink() and (tmp_path / "made.txt").read_text() == "x"


def test_symlink_loop_refused(tmp_path):
    (tmp_path / "a").symlink_to("b")
    (tmp_path / "b").symlink_to("a")
    with pytest.raises(atomic.NotARegularFile, match="loop"):
        atomic.write_text(tmp_path / "a", "x")
    assert os.readlink(tmp_path / "a") == "b" and leftovers(tmp_path) == []


def test_fmt_through_symlink_formats_the_target(tmp_path, capsys):
    real = tmp_path / "real.seqnet"
    real.write_text(MESSY)
    link = tmp_path / "link.seqnet"
    link.symlink_to(real)
    rc, out, _ = run(["fmt", str(link)], capsys)
    assert rc == 0 and "formatted" in out
    assert link.is_symlink() and "dense(x, 4)" in real.read_text()


def test_mode_preserved(tmp_path, capsys):
    f = tmp_path / "spec.seqnet"
    f.write_text(MESSY)
    os.chmod(f, 0o664)
    rc, _, _ = run(["fmt", str(f)], capsys)
    assert rc == 0 and "dense(x, 4)" in f.read_text()
    assert stat.S_IMODE(f.stat().st_mode) == 0o664
    os.chmod(f, 0o640)
    atomic.write_bytes(f, b"x")
    assert stat.S_IMODE(f.stat().st_mode) == 0o640


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_new_file_mode_honours_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        path = atomic.write_bytes(tmp_path / f"new-{umask:o}.bin", b"data")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


# --- targets that are not regular files -----------------------------------------------------------

def _assert_refused(target: Path):
    before = os.lstat(target)
    with pytest.raises(atomic.NotARegularFile, match="not a regular file"):
        atomic.write_text(target, "x")
    after = os.lstat(target)
    assert stat.S_IFMT(after.st_mode) == stat.S_IFMT(before.st_mode)
    assert after.st_ino == before.st_ino and after.st_rdev == before.st_rdev
    assert leftovers(target.parent) == []


@pytest.mark.skipif(not IS_ROOT, reason="creating a device node (os.mknod) needs root")
def test_character_device_refused(tmp_path):
    dev = tmp_path / "null"  # our own node: /dev/null itself is never touched
    os.mknod(dev, 0o600 | stat.S_IFCHR, os.makedev(1, 3))
    _assert_refused(dev)
    # through a symlink too, and the CLI reports a user error, not an internal one
    link = tmp_path / "out.seqnet"
    link.symlink_to(dev)
    with pytest.raises(atomic.NotARegularFile, match="character device"):
        atomic.write_text(link, "x")
    assert stat.S_ISCHR(os.stat(dev).st_mode) and link.is_symlink()


def test_fifo_refused(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    _assert_refused(fifo)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_directory_refused(tmp_path):
    d = tmp_path / "folder"
    d.mkdir()
    (d / "keep").write_text("k")
    with pytest.raises(atomic.NotARegularFile, match="folder"):
        atomic.write_text(d, "x")
    assert (d / "keep").read_text() == "k"


def test_fmt_on_fifo_is_a_user_error(tmp_path, capsys, monkeypatch):
    # fmt reads before it writes, so the refusal is seen by making the write target a FIFO
    spec = tmp_path / "s.seqnet"
    spec.write_text(MESSY)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    real = atomic.write_text
    monkeypatch.setattr(atomic, "write_text", lambda path, text: real(fifo, text))
    rc, _, err = run(["fmt", str(spec)], capsys)
    assert rc != 0 and "not a regular file" in err and "FIFO" in err
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and spec.read_text() == MESSY


# --- failures -------------------------------------------------------------------------------------

def test_failed_replace_keeps_old_file_and_no_temp(tmp_path, monkeypatch):
    f = tmp_path / "data.bin"
    f.write_bytes(b"old")

    def boom(*a, **k):
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk on fire"):
        atomic.write_bytes(f, b"new")
    assert f.read_bytes() == b"old" and leftovers(tmp_path) == []


def test_failed_writer_keeps_old_file_and_no_temp(tmp_path):
    f = tmp_path / "data.bin"
    f.write_bytes(b"old")

    def half(fh):
        fh.write(b"partial")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic.write_with(f, half)
    assert f.read_bytes() == b"old" and leftovers(tmp_path) == []


def test_checkpoint_writer_is_the_shared_one(tmp_path):
    ck = pytest.importorskip("seqnet.backends.jax.checkpoint")
    fifo = tmp_path / "p.npz"
    os.mkfifo(fifo)
    with pytest.raises(atomic.NotARegularFile):
        ck.atomic_write_bytes(fifo, b"x")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


# --- render -----------------------------------------------------------------------------------

@pytest.fixture
def no_dot(monkeypatch):
    monkeypatch.setattr(render_mod, "_have_dot", lambda: False)


def _model():
    return seqnet.loads(MLP.read_text(), name="mlp_digits.seqnet")


def test_render_without_dot_keeps_existing_dot(tmp_path, no_dot):
    m = _model()
    mine = tmp_path / "my.dot"
    mine.write_text("digraph mine { hand -> edited }\n")
    with pytest.raises(DotMissing) as info:
        m.render(tmp_path / "my.svg")
    assert mine.read_text() == "digraph mine { hand -> edited }\n"
    assert info.value.dot_path == tmp_path / "my-1.dot"
    assert (tmp_path / "my-1.dot").read_text().startswith("digraph")
    assert "my.dot already exists" in str(info.value) and "my-1.dot" in str(info.value)
    # rerunning reuses the identical my-1.dot: no my-2.dot piles up
    with pytest.raises(DotMissing) as again:
        m.render(tmp_path / "my.svg")
    assert again.value.dot_path == tmp_path / "my-1.dot"
    assert not (tmp_path / "my-2.dot").exists() and not (tmp_path / "my.svg").exists()
    assert leftovers(tmp_path) == []


def test_render_without_dot_identical_dot_is_reused(tmp_path, no_dot):
    m = _model()
    with pytest.raises(DotMissing) as first:
        m.render(tmp_path / "a.svg")
    assert first.value.dot_path == tmp_path / "a.dot"
    mtime = (tmp_path / "a.dot").stat().st_mtime_ns
    with pytest.raises(DotMissing) as second:
        m.render(tmp_path / "a.png")
    assert second.value.dot_path == tmp_path / "a.dot" and "already exists" not in str(second.value)
    assert (tmp_path / "a.dot").stat().st_mtime_ns == mtime
    assert not (tmp_path / "a-1.dot").exists()


def test_render_without_dot_never_writes_through_fifo_or_link(tmp_path, no_dot):
    m = _model()
    os.mkfifo(tmp_path / "f.dot")  # must not be opened (it would block) nor replaced
    with pytest.raises(DotMissing) as info:
        m.render(tmp_path / "f.svg")
    assert info.value.dot_path == tmp_path / "f-1.dot"
    assert stat.S_ISFIFO(os.lstat(tmp_path / "f.dot").st_mode)
    other = tmp_path / "other.txt"
    other.write_text("keep")
    (tmp_path / "l.dot").symlink_to(other)
    with pytest.raises(DotMissing) as info:
        m.render(tmp_path / "l.pdf")
    assert info.value.dot_path == tmp_path / "l-1.dot" and other.read_text() == "keep"


def test_cli_render_without_dot_says_where(tmp_path, capsys, no_dot):
    (tmp_path / "my.dot").write_text("mine")
    rc, out, err = run(["render", str(MLP), "-o", str(tmp_path / "my.svg")], capsys)
    assert rc != 0 and "my-1.dot" in err and "left as it is" in err
    assert (tmp_path / "my.dot").read_text() == "mine"


def test_render_dot_is_atomic_and_follows_links(tmp_path, monkeypatch):
    m = _model()
    real = tmp_path / "real.dot"
    real.write_text("old")
    os.chmod(real, 0o664)
    (tmp_path / "link.dot").symlink_to(real)
    m.render(tmp_path / "link.dot")
    assert (tmp_path / "link.dot").is_symlink() and real.read_text().startswith("digraph")
    assert stat.S_IMODE(real.stat().st_mode) == 0o664
    fifo = tmp_path / "pipe.dot"
    os.mkfifo(fifo)
    with pytest.raises(atomic.NotARegularFile):
        m.render(fifo)
    monkeypatch.setattr(os, "replace", lambda *a: (_ for _ in ()).throw(OSError("full")))
    with pytest.raises(OSError, match="full"):
        m.render(real)
    assert real.read_text().startswith("digraph") and leftovers(tmp_path) == []
