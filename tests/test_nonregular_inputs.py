"""Spec paths that are not regular files (FIFOs, devices) are refused at once with SQN0004.

A FIFO blocks a reader until a writer comes, and /dev/zero never ends: read naively, either
would hang or fill memory. The risky cases run in a subprocess with a timeout and a memory
limit, so that a regression fails the test instead of hanging or exhausting the machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from hang_guard import HANG_GUARD_S

from seqnet import cli, pipeline

ROOT = Path(__file__).resolve().parents[1]
SPEC = "input x : float32[4]\noutput y = relu(x)\n"

needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes on this system")
needs_dev = pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")


def run_isolated(*argv: str) -> subprocess.CompletedProcess:
    """`seqnet ARGV` in a child process with a 1 GiB address-space limit and a hang guard (a
    regression that blocks on a FIFO fails at HANG_GUARD_S instead of hanging the suite; how
    fast the refusal is, is not checked). The child sets its own limit: a preexec_fn would fork
    this (possibly multithreaded) process."""
    code = (
        "import sys\n"
        "try:\n"
        "    import resource\n"
        "    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))\n"
        "except (ImportError, ValueError, OSError):\n"
        "    pass\n"
        "from seqnet.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=HANG_GUARD_S, env=env
    )


def run(argv, capsys) -> tuple[int, str]:
    capsys.readouterr()
    rc = cli.main(argv)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert "internal error" not in err, err
    return rc, err


@needs_fifo
@pytest.mark.parametrize("command", [["check"], ["fmt"], ["fmt", "--check"], ["summary"],
                                     ["check", "--emit", "ast"]])  # fmt: skip
def test_fifo_is_refused_without_blocking(tmp_path, command):
    fifo = tmp_path / "pipe.seqnet"
    os.mkfifo(fifo)
    try:
        r = run_isolated(*command, str(fifo))
    except subprocess.TimeoutExpired:
        pytest.fail(f"seqnet {' '.join(command)} blocked on a FIFO")
    assert r.returncode == 1, r.stderr
    assert "SQN0004" in r.stderr and "named pipe (FIFO), not a regular file" in r.stderr
    assert "hint:" in r.stderr
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr


@needs_fifo
def test_fifo_in_process(tmp_path, capsys):
    """The same in-process. Should the reader block, a helper thread opens the FIFO's write end
    and closes it, so the read ends (and the test fails) instead of hanging."""
    fifo = tmp_path / "pipe.seqnet"
    os.mkfifo(fifo)
    done = threading.Event()

    def unblock():
        while not done.wait(0.2):
            try:
                fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)  # ENXIO while nobody reads
            except OSError:
                continue
            os.close(fd)

    valve = threading.Thread(target=unblock, daemon=True)
    valve.start()
    try:
        rc, err = run(["check", str(fifo)], capsys)
    finally:
        done.set()
        valve.join(5)
    assert rc == 1
    assert f"{fifo} is a named pipe (FIFO), not a regular file" in err and "SQN0004" in err


@needs_dev
@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_endless_devices_are_refused(device):
    r = run_isolated("check", device)
    assert r.returncode == 1, r.stderr
    assert f"{device} is a character device, not a regular file" in r.stderr
    assert "SQN0004" in r.stderr and "hint:" in r.stderr


@needs_dev
def test_symlink_to_a_device_is_followed_and_refused(tmp_path):
    link = tmp_path / "zero.seqnet"
    link.symlink_to("/dev/zero")
    r = run_isolated("fmt", str(link))
    assert r.returncode == 1, r.stderr
    assert "is a character device, not a regular file" in r.stderr


@needs_dev
def test_dev_null_in_process(capsys):
    rc, err = run(["check", "/dev/null"], capsys)
    assert rc == 1 and "/dev/null is a character device, not a regular file" in err


def test_symlink_to_a_regular_file_still_works(tmp_path, capsys):
    spec = tmp_path / "real.seqnet"
    spec.write_text(SPEC)
    link = tmp_path / "link.seqnet"
    link.symlink_to(spec)
    rc, err = run(["check", str(link)], capsys)
    assert rc == 0, err


def test_directory_is_still_a_directory(tmp_path, capsys):
    rc, err = run(["check", str(tmp_path)], capsys)
    assert rc == 1 and "is a directory, not a spec file" in err


def test_read_is_bounded_even_if_the_file_grew_after_stat(tmp_path, monkeypatch):
    """The size check uses stat(); the read itself stops at MAX_FILE_BYTES + 1 bytes, so a file
    that grows in between is still refused rather than read whole."""
    spec = tmp_path / "grows.seqnet"
    spec.write_text(SPEC * 10)
    monkeypatch.setattr(pipeline, "MAX_FILE_BYTES", 16)
    real_stat = os.stat

    def stale_stat(path, *args, **kwargs):
        st = real_stat(path, *args, **kwargs)
        if Path(path) == spec:  # as it was before the file grew
            return os.stat_result((st.st_mode, st.st_ino, st.st_dev, st.st_nlink, st.st_uid,
                                   st.st_gid, 8, st.st_atime, st.st_mtime, st.st_ctime))  # fmt: skip
        return st

    monkeypatch.setattr(os, "stat", stale_stat)
    source, err = pipeline.read_source(spec)
    assert source is None
    assert err.code == "SQN0005" and "over" in err.message and err.hint


def test_regular_file_over_the_limit(tmp_path, monkeypatch):
    spec = tmp_path / "big.seqnet"
    spec.write_text(SPEC * 10)
    monkeypatch.setattr(pipeline, "MAX_FILE_BYTES", 16)
    source, err = pipeline.read_source(spec)
    assert source is None and err.code == "SQN0005"


@needs_fifo
def test_importing_a_fifo_or_folder_is_refused_without_reading(tmp_path):
    os.mkfifo(tmp_path / "ff.seqnet")
    (tmp_path / "d.seqnet").mkdir()
    for name, kind in (("ff.seqnet", "a named pipe (FIFO)"), ("d.seqnet", "a folder")):
        main = tmp_path / f"uses_{name.split('.')[0]}.seqnet"
        main.write_text(f'import "{name}"\n' + SPEC)
        proc = run_isolated("check", str(main))
        assert proc.returncode == 1, proc.stderr
        assert f'error[SQN0201]: "{name}" is {kind}, not a spec file' in proc.stderr
        assert "did you mean" not in proc.stderr
