"""The compiler pipeline, one straight list of stages: read -> parse -> elaborate -> verify."""

from __future__ import annotations

from pathlib import Path

import networkx as nx

from seqnet.errors import Diagnostic, Reporter, SpecError
from seqnet.source import SourceFile

MAX_FILE_BYTES = 16 * 1024 * 1024


def read_source(path: Path, display: str | None = None) -> tuple[SourceFile | None, Diagnostic | None]:
    """Read a spec file; every way this can fail becomes a diagnostic, never an exception."""
    name = display or str(path)
    try:
        if path.is_dir():
            return None, Diagnostic("SQN0004", f"{name} is a directory, not a spec file", None,
                                    hint="pass the .seqnet files inside it")  # fmt: skip
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return None, Diagnostic("SQN0005", f"{name} is {size / 2**20:.1f} MiB; specs are limited "
                                    f"to {MAX_FILE_BYTES // 2**20} MiB", None,
                                    hint="generated specs this large are better split into imported files")  # fmt: skip
        data = path.read_bytes()
    except FileNotFoundError:
        return None, Diagnostic("SQN0004", f"{name}: no such file", None,
                                hint="check the path; spec files end in .seqnet")  # fmt: skip
    except OSError as e:
        return None, Diagnostic("SQN0004", f"{name}: cannot read: {e.strerror or e}", None)
    if b"\x00" in data:
        return None, Diagnostic("SQN0004", f"{name} is a binary file, not a spec", None,
                                hint="a spec is a UTF-8 text file, usually ending in .seqnet")  # fmt: skip
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        return None, Diagnostic("SQN0004", f"{name} is not UTF-8 text (byte {e.start})", None,
                                hint="re-save the file as UTF-8 (for example: iconv -f latin1 -t utf-8)")  # fmt: skip
    return SourceFile(name, text.lstrip("\ufeff"), path.resolve()), None


def parse_source(source: SourceFile):
    from seqnet.grammar.parser import parse

    return parse(source)


def compile_source(
    source: SourceFile, overrides: dict[str, str] | None = None, root_dir: Path | None = None
) -> tuple[nx.MultiDiGraph | None, list[Diagnostic]]:
    """Source -> validated graph IR. Returns (graph or None, all diagnostics)."""
    from seqnet.compiler.elaborate import Elaborator, Overrides
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
    for check in PASSES:
        check(graph, reporter)
    if reporter.has_errors:
        return None, reporter.diagnostics
    return graph, reporter.diagnostics


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
