"""Starting a sweep's runs: each `seqnet train` is its own process, forked from a warm one.

A fresh interpreter spends about 2.5 s of CPU importing JAX, seqnet's training code and
matplotlib before its first step; a sweep of short runs paid that once a run. multiprocessing's
forkserver imports them once (JAX imported, no backend made, so nothing multithreaded has
started) and forks each run from there. A run is still a process of its own: its own pid,
memory, session and JAX backend, made after the fork from the environment it is given; its
output goes to its log, and a crash or a SIGKILL ends it alone. Where the forkserver is not
available (not Linux or macOS), or `SEQNET_SWEEP_FORK=0`, each run is a fresh
`python -m seqnet train` instead: the same command, the same results, a slower start.

A run is told with one SIGINT when the sweep exits (on Linux: a pidfd of the sweep for a forked
run, whose parent is the forkserver; PR_SET_PDEATHSIG for a fresh one), so a killed sweep leaves
no run training on its own: it checkpoints and stops, and `--resume` continues it.
"""

from __future__ import annotations

import multiprocessing
import os
import runpy
import select
import signal
import subprocess
import sys
import threading
from pathlib import Path

PRELOAD = [
    "jax",
    "jax.numpy",
    "optax",
    "seqnet.cli",
    "seqnet.backends.jax.train",
    "seqnet.backends.jax.checkpoint",
    "matplotlib.figure",
    "matplotlib.backends.backend_agg",
]


def die_with_parent() -> None:
    """A SIGINT to this process when its parent exits (Linux's PR_SET_PDEATHSIG)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGINT))
    except Exception:
        pass


def interrupt_when_gone(pid: int) -> None:
    """One SIGINT to this process when process `pid` exits, from a thread that waits on a Linux
    pidfd (elsewhere nothing). A forked run's parent is the forkserver, which outlives the sweep
    while runs are alive, so the run watches the sweep itself."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:  # gone already
        os.kill(os.getpid(), signal.SIGINT)
        return
    except (AttributeError, OSError):
        return

    def wait() -> None:
        select.select([fd], [], [])
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=wait, name="seqnet-sweep-watch", daemon=True).start()


def _train(argv: list[str], env: dict[str, str], cwd: str, log: str, sweep: int) -> None:
    """The forked run: a session of its own (a Ctrl-C at the sweep's terminal is the sweep's to
    pass on), its environment, folder and log, then what `python -m seqnet ARGV...` runs."""
    os.setsid()
    interrupt_when_gone(sweep)
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    handle = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    for fd in (1, 2):
        os.dup2(handle, fd)
    os.close(handle)
    sys.argv = [sys.executable, *argv]
    runpy.run_module("seqnet", run_name="__main__", alter_sys=True)  # `python -m seqnet ARGV...`


class ForkedRun:
    """The part of `subprocess.Popen` the runner uses, for a run forked from the warm server."""

    def __init__(self, process, argv: list[str]):
        self._process, self.args = process, argv
        self.pid = process.pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None and self._process.exitcode is not None:
            self.returncode = self._process.exitcode  # negative: the signal that ended it
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        self._process.join(timeout)
        if self.poll() is None:
            raise subprocess.TimeoutExpired(self.args, timeout)
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, sig)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class Launcher:
    """Starts runs, forked from one warm server started on the first run (see the module text)."""

    def __init__(self, fork: bool | None = None):
        if fork is None:
            fork = os.environ.get("SEQNET_SWEEP_FORK", "1") != "0"
        self.fork = fork and "forkserver" in multiprocessing.get_all_start_methods()
        self._context = None

    @staticmethod
    def command(argv: list[str]) -> list[str]:
        """The command line of `seqnet ARGV...` (what a run's log shows, and what runs unforked)."""
        return [sys.executable, "-m", "seqnet", *argv]

    def start(self, argv: list[str], log: Path, env: dict[str, str]):
        """`seqnet ARGV...` with its output appended to `log`: forked, or as a fresh process."""
        if self.fork:
            try:
                return self._fork(argv, log, env)
            except (OSError, EOFError) as e:  # the warm server could not start or died: go on fresh
                self.fork = False
                with open(log, "ab") as out:
                    out.write(f"seqnet sweep: could not fork this run from the warm process ({e}); "
                              f"starting it as a fresh process\n".encode())  # fmt: skip
        with open(log, "ab") as out:
            return subprocess.Popen(self.command(argv), stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, env=env, start_new_session=True,
                                    preexec_fn=die_with_parent if sys.platform == "linux" else None)  # fmt: skip

    def close(self) -> None:
        """Stop the warm server and wait for it, once every run has ended. It has reaped the
        runs, so their CPU time then counts in this process's children, as it does for fresh
        runs (`/usr/bin/time seqnet sweep ...` measures the whole sweep either way). The stop
        is multiprocessing's own (`ForkServer._stop`, not public); without it the server exits
        by itself when the sweep does, unwaited."""
        if self._context is None:
            return
        from multiprocessing import forkserver

        stop = getattr(getattr(forkserver, "_forkserver", None), "_stop", None)
        if stop is not None:
            try:
                stop()
            except OSError:
                pass
        self._context = None

    def _fork(self, argv: list[str], log: Path, env: dict[str, str]) -> ForkedRun:
        if self._context is None:
            self._context = multiprocessing.get_context("forkserver")
            self._context.set_forkserver_preload(PRELOAD)
        process = self._context.Process(target=_train, args=(list(argv), dict(env), os.getcwd(), str(log), os.getpid()),
                                        name=f"seqnet {' '.join(argv[:1])}")  # fmt: skip
        process.start()
        return ForkedRun(process, self.command(argv))
