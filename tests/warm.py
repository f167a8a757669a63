"""Test child processes forked from a warm server instead of started as fresh interpreters.

A drill starts a training process a dozen times and kills most of them, and a smoke test runs
each example script once; a fresh interpreter pays 2-3 s of CPU importing JAX, seqnet and
matplotlib before its first step, which was most of a drill's cost. multiprocessing's forkserver imports those once (JAX imported, no backend
initialised, so nothing multithreaded has started) and forks each child from there. A child is
still its own process: its own pid, memory and file descriptors, its own JAX backend made after
the fork from the environment it is given, and a SIGKILL ends it as abruptly as any process.

`start(...)` returns an object with the part of `subprocess.Popen` the tests use (`pid`, `poll`,
`communicate`, `returncode`, negative for a signal), so a test reads the same either way;
`run_script(...)` is `python SCRIPT ARGS...` (run as `__main__`, its folder first on sys.path).
What a fresh interpreter is needed for (the CLI's own start-up, `python -m seqnet`) stays a
subprocess in the tests that test it.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import resource
import runpy
import shutil
import sys
import tempfile
from pathlib import Path

from seqnet.sweep.launch import PRELOAD as RUN_PRELOAD
from seqnet.sweep.launch import ForkedRun

PRELOAD = [*RUN_PRELOAD, "safetensors.numpy"]  # what a sweep's warm server imports, and more

_CONTEXT = None


def _context():
    global _CONTEXT
    if _CONTEXT is None:
        _CONTEXT = multiprocessing.get_context("forkserver")
        _CONTEXT.set_forkserver_preload(PRELOAD)
    return _CONTEXT


def _enter(module: str, function: str, args: tuple, env: dict, cwd: str, out: str, err: str) -> None:
    """The child's first steps: its own environment, folder and output files, then the target."""
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    for fd, path in ((1, out), (2, err)):
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(handle, fd)
        os.close(handle)
    import jax  # imported by the server; what JAX read from its environment at import is redone

    if "JAX_PLATFORMS" in env:
        jax.config.update("jax_platforms", env["JAX_PLATFORMS"])
    sys.argv = [module, *map(str, args)]
    getattr(importlib.import_module(module), function)(*args)


def _script(path: str, *argv: str) -> None:
    sys.argv = [path, *argv]
    sys.path.insert(0, os.path.dirname(path))
    runpy.run_path(path, run_name="__main__")


def _cli(address_space: int, *argv: str) -> None:
    if address_space:
        resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
    from seqnet.cli import main

    sys.exit(main(list(argv)))


class Child(ForkedRun):
    """A forked child (seqnet/sweep/launch.py's handle) whose output goes to two files."""

    def __init__(self, process, out: Path, err: Path):
        super().__init__(process, [process.name])
        self._out, self._err = out, err

    def communicate(self, timeout: float | None = None) -> tuple[str, str]:
        self._process.join(timeout)
        if self._process.exitcode is None:
            self._process.kill()
            self._process.join()
            raise TimeoutError(f"drill child {self.pid} ran past {timeout} s")
        self.returncode = self._process.exitcode
        texts = self._out.read_text(), self._err.read_text()
        shutil.rmtree(self._out.parent, ignore_errors=True)
        return texts


def start(module: str, function: str, args, *, env: dict, cwd: Path) -> Child:
    """Run `module.function(*args)` in a child forked from the warm server."""
    folder = Path(tempfile.mkdtemp(prefix="drill-child-"))
    out, err = folder / "stdout", folder / "stderr"
    process = _context().Process(
        target=_enter, args=(module, function, tuple(args), dict(env), str(cwd), str(out), str(err)), daemon=True
    )
    process.start()
    return Child(process, out, err)


def run_script(script: Path, argv, *, env: dict, cwd: Path, timeout: float) -> tuple[int, str, str]:
    """`python SCRIPT ARGV...` in a warm child: (exit status, stdout, stderr)."""
    child = start("warm", "_script", [str(script), *map(str, argv)], env=env, cwd=cwd)
    out, err = child.communicate(timeout)
    return child.returncode, out, err


def run_cli(argv, *, env: dict, cwd: Path, timeout: float, address_space: int = 0) -> tuple[int, str, str]:
    """`seqnet ARGV...` (seqnet.cli.main) in a warm child, its address space limited to
    `address_space` bytes when given: (exit status, stdout, stderr)."""
    child = start("warm", "_cli", [int(address_space), *map(str, argv)], env=env, cwd=cwd)
    out, err = child.communicate(timeout)
    return child.returncode, out, err
