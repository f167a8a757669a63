"""The compiler pipeline, one straight list of named stages: read -> parse -> elaborate -> verify.

`run(spec, until=STAGE)` runs them in order and stops after `until` (or at the first stage that
reports an error); `seqnet check --emit` prints what a stage produced (see `emit.EMITTERS`).
Elaboration infers each node's types as it builds it, through the op registry's shape rules;
the IR schema is verified after every stage that builds the graph, and "verify" freezes it.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import networkx as nx

from seqnet.atomic import file_kind
from seqnet.collector import paused as collector_paused
from seqnet.errors import Diagnostic, Reporter, SpecError, UserError
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
        return None, _binary(name)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        return None, Diagnostic("SQN0004", f"{name} is not UTF-8 text (byte {e.start})", None,
                                hint="re-save the file as UTF-8 (for example: iconv -f latin1 -t utf-8)")  # fmt: skip
    return SourceFile(name, text.lstrip("\ufeff"), path.resolve()), None


def source_from_text(name: str, text: str, path: Path | None = None) -> tuple[SourceFile | None, Diagnostic | None]:
    """A spec held in memory (an editor's unsaved buffer), held to the limits `read_source`
    holds a file to, with the same diagnostics."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_FILE_BYTES:
        return None, _too_large(name, f"{size / 2**20:.1f} MiB")
    if "\x00" in text:
        return None, _binary(name)
    return SourceFile(name, text.lstrip("\ufeff"), path.resolve() if path else None), None


def _binary(name: str) -> Diagnostic:
    return Diagnostic("SQN0004", f"{name} is a binary file, not a spec", None,
                      hint="a spec is a UTF-8 text file, usually ending in .seqnet")  # fmt: skip


def _too_large(name: str, shown: str) -> Diagnostic:
    return Diagnostic("SQN0005", f"{name} is {shown}; specs are limited to {MAX_FILE_BYTES // 2**20} MiB",
                      None, hint="generated specs this large are better split into imported files")  # fmt: skip


def parse_source(source: SourceFile):
    from seqnet.grammar.parser import parse

    return parse(source)


# --- the stages ----------------------------------------------------------------------------------


@dataclass
class Compilation:
    """One spec on its way through the stages: what each has produced so far, and every
    diagnostic. A stage that reports an error ends the run; `stage` is the last one that ran."""

    path: Path | None = None
    source: SourceFile | None = None
    overrides: dict[str, str] | None = None
    root_dir: Path | None = None
    module: object = None  # grammar.ast.Module, after "parse"
    graph: nx.MultiDiGraph | None = None  # after "elaborate"
    reporter: Reporter = field(default_factory=Reporter)
    stage: str | None = None
    parse_cache: object = None  # grammar.incremental.ParseCache: an editor's buffer, re-parsed

    @property
    def diagnostics(self) -> list[Diagnostic]:
        return self.reporter.diagnostics

    @property
    def failed(self) -> bool:
        return self.reporter.has_errors


def _read(c: Compilation) -> None:
    if c.source is None:
        c.source, err = read_source(c.path, str(c.path))
        if err is not None:
            c.reporter.diagnostics.append(err)


def _parse(c: Compilation) -> None:
    c.module, diags = c.parse_cache.parse(c.source) if c.parse_cache else parse_source(c.source)
    c.reporter.diagnostics.extend(diags)
    if c.module is None and not c.failed:  # pragma: no cover - the parser reports why
        c.reporter.error("SQN0001", "the spec could not be parsed", None)


def _elaborate(c: Compilation) -> None:
    from seqnet.compiler.elaborate import Elaborator
    from seqnet.compiler.overrides import Overrides

    source = c.source
    root = c.root_dir or (source.path.parent if source.path else None)

    def loader(path: Path):
        shown = _display(path, root or Path.cwd())
        sub, err = read_source(path, shown)
        if err is not None:
            return None, None, [err]
        sub_module, sub_diags = parse_source(sub)
        return sub, sub_module, sub_diags

    overrides = c.overrides if isinstance(c.overrides, Overrides) else Overrides(c.overrides or {})
    el = Elaborator(c.reporter, overrides, root, loader)
    if source.path is not None:
        el.import_stack.append(source.path)
    c.graph = el.module(c.module)


def _infer(c: Compilation) -> None:
    from seqnet.compiler.shapes import infer

    c.graph = infer(c.graph)


def _verify(c: Compilation) -> None:
    from seqnet.compiler import ir
    from seqnet.compiler.verify import PASSES

    for check in PASSES:
        check(c.graph, c.reporter)
    if not c.failed:
        c.graph = ir.freeze(c.graph)


@dataclass(frozen=True)
class Stage:
    name: str
    run: Callable[[Compilation], None]
    builds_graph: bool = False  # the IR schema is verified after it (see compiler/ir.py)


STAGES: tuple[Stage, ...] = (
    Stage("read", _read),
    Stage("parse", _parse),
    Stage("elaborate", _elaborate, builds_graph=True),
    Stage("infer", _infer, builds_graph=True),  # compiler/shapes.py: the registry types every node
    Stage("verify", _verify),
)
STAGE_NAMES = tuple(s.name for s in STAGES)


def run(spec: SourceFile | str | Path, until: str = "verify", *, overrides=None,
        root_dir: Path | None = None, verify_ir: bool = True, parse_cache=None) -> Compilation:  # fmt: skip
    """Run the stages on a spec (a SourceFile, or a path), up to and including `until`.
    parse_cache: a grammar.incremental.ParseCache that parses the spec (the language server's,
    which keeps the unchanged statements of the last version)."""
    if until not in STAGE_NAMES:
        raise ValueError(f"unknown stage {until!r}; stages: {', '.join(STAGE_NAMES)}")
    c = Compilation(overrides=overrides, root_dir=root_dir, parse_cache=parse_cache)
    if isinstance(spec, SourceFile):
        c.source = spec
    else:
        c.path = Path(spec)
    with collector_paused():
        _run_stages(c, until, verify_ir)
    return c


def _run_stages(c: Compilation, until: str, verify_ir: bool) -> None:
    for stage in STAGES:
        stage.run(c)
        c.stage = stage.name
        if c.failed:
            break
        if stage.builds_graph and verify_ir:
            from seqnet.compiler import ir

            ir.verify(c.graph, stage.name)
        if stage.name == until:
            break


def compile_source(
    source: SourceFile, overrides: dict[str, str] | None = None, root_dir: Path | None = None
) -> tuple[nx.MultiDiGraph | None, list[Diagnostic]]:
    """Source -> validated graph IR. Returns (graph or None, all diagnostics)."""
    c = run(source, overrides=overrides, root_dir=root_dir)
    return (None if c.failed else c.graph), c.diagnostics


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


def compile_or_raise(path=None, text=None, overrides=None, name="<string>", base_dir=None):
    """base_dir: for text, the folder its imports are resolved in (and may not leave)."""
    if text is not None:
        where = None
        if base_dir is not None:
            folder = Path(base_dir)
            if not folder.is_dir():
                raise UserError(f"base_dir '{folder}' is not a folder: give the folder the text's "
                                "imports are relative to")  # fmt: skip
            # the text reads as a file in that folder: imports resolve there, and stay inside it
            where = folder.resolve() / Path(name).name
        source = SourceFile(name, text, where)
        graph, diags = compile_source(source, overrides)
    else:
        graph, diags, source = compile_path(path, overrides)
    if graph is None:
        raise SpecError(diags)
    return graph, diags, source
