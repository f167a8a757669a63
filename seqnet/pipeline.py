"""The compiler pipeline, one straight list of stages: read -> parse -> elaborate -> verify."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import networkx as nx

from seqnet.atomic import file_kind
from seqnet.errors import Diagnostic, Reporter, SpecError
from seqnet.limits import MAX_FILE_BYTES
from seqnet.source import SourceFile


def read_source(path: Path, display: str | None = None) -> tuple[SourceFile | None, Diagnostic | None]:
    """Read a spec file; every way this can fail becomes a diagnostic, never an exception.

    Only regular files are read (symlinks are followed): a FIFO would block forever and a device
    such as /dev/zero never ends. At most MAX_FILE_BYTES + 1 bytes are read, so a file that grows
    after the size check cannot exhaust memory either.
    """
    name = display or str(path)
    try:
        st = os.stat(path)
        if stat.S_ISDIR(st.st_mode):
            return None, Diagnostic("SQN0004", f"{name} is a directory, not a spec file", None,
                                    hint="pass the .seqnet files inside it")  # fmt: skip
        if not stat.S_ISREG(st.st_mode):
            return None, Diagnostic("SQN0004", f"{name} is {file_kind(st.st_mode)}, not a regular file", None,
                                    hint="pass a spec file saved on disk; to check generated text, "
                                    "write it to a .seqnet file first")  # fmt: skip
        if st.st_size > MAX_FILE_BYTES:
            return None, _too_large(name, f"{st.st_size / 2**20:.1f} MiB")
        # O_NONBLOCK: should the path be swapped for a FIFO after the stat, open() must not block.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                return None, Diagnostic("SQN0004", f"{name} is not a regular file", None,
                                        hint="pass a spec file saved on disk")  # fmt: skip
            data = f.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:  # it grew after the stat
            return None, _too_large(name, f"over {MAX_FILE_BYTES // 2**20} MiB")
    except FileNotFoundError:
        return None, Diagnostic("SQN0004", f"{name}: no such file", None,
                                hint="check the path; spec files end in .seqnet")  # fmt: skip
    except OSError as e:
        return None, Diagnostic("SQN0004", f"{name}: cannot read: {e.strerror or e}", None)
    except ValueError as e:  # an embedded NUL byte in the path
        return None, Diagnostic("SQN0004", f"{name}: cannot read: {e}", None)
    if b"\x00" in data:
        return None, Diagnostic("SQN0004", f"{name} is a binary file, not a spec", None,
                                hint="a spec is a UTF-8 text file, usually ending in .seqnet")  # fmt: skip
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        return None, Diagnostic("SQN0004", f"{name} is not UTF-8 text (byte {e.start})", None,
                                hint="re-save the file as UTF-8 (for example: iconv -f latin1 -t utf-8)")  # fmt: skip
    return SourceFile(name, text.lstrip("\ufeff"), path.resolve()), None


def _too_large(name: str, shown: str) -> Diagnostic:
    return Diagnostic("SQN0005", f"{name} is {shown}; specs are limited to {MAX_FILE_BYTES // 2**20} MiB",
                      None, hint="generated specs this large are better split into imported files")  # fmt: skip


def parse_source(source: SourceFile):
    from seqnet.grammar.parser import parse

    return parse(source)


def compile_source(
    source: SourceFile, overrides: dict[str, str] | None = None, root_dir: Path | None = None
) -> tuple[nx.MultiDiGraph | None, list[Diagnostic]]:
    """Source -> validated graph IR. Returns (graph or None, all diagnostics)."""
    from seqnet.compiler import ir
    from seqnet.compiler.elaborate import Elaborator
    from seqnet.compiler.overrides import Overrides
    from seqnet.compiler.verify import PASSES

    reporter = Reporter()
    module, diags = parse_source(source)
    reporter.diagnostics.extend(diags)
    if module is None:
        return None, reporter.diagnostics

    def loader(path: Path):
        shown = _display(path, root_dir or (source.path.parent if source.path else Path.cwd()))
        sub, err = read_source(path, shown)
        if err is not None:
            return None, None, [err]
        sub_module, sub_diags = parse_source(sub)
        return sub, sub_module, sub_diags

    if not isinstance(overrides, Overrides):
        overrides = Overrides(overrides or {})
    el = Elaborator(reporter, overrides, root_dir or (source.path.parent if source.path else None),
                    loader)  # fmt: skip
    if source.path is not None:
        el.import_stack.append(source.path)
    graph = el.module(module)
    if reporter.has_errors:
        return None, reporter.diagnostics
    ir.verify(graph, "elaborate")
    for check in PASSES:
        check(graph, reporter)
    if reporter.has_errors:
        return None, reporter.diagnostics
    return ir.freeze(graph), reporter.diagnostics


def _display(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def compile_path(path: str | Path, overrides: dict[str, str] | None = None):
    path = Path(path)
    source, err = read_source(path, str(path))
    if err is not None:
        return None, [err], None
    graph, diags = compile_source(source, overrides)
    return graph, diags, source


def compile_or_raise(path=None, text=None, overrides=None, name="<string>"):
    if text is not None:
        source = SourceFile(name, text)
        graph, diags = compile_source(source, overrides)
    else:
        graph, diags, source = compile_path(path, overrides)
    if graph is None:
        raise SpecError(diags)
    return graph, diags, source
