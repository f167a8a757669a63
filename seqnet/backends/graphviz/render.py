"""Running the system `dot` binary (through the graphviz Python package) on the DOT text."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

from seqnet import atomic
from seqnet.backends.graphviz.dot import to_dot
from seqnet.errors import UserError

FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": "dot", ".gv": "dot"}

INSTALL_HINT = (
    "Graphviz's `dot` program was not found on PATH; install it to render diagrams: "
    "`apt-get install graphviz` (Debian/Ubuntu), `brew install graphviz` (macOS), "
    "`conda install -c conda-forge graphviz`, or see https://graphviz.org/download/"
)


class DotMissing(UserError, RuntimeError):
    """The system `dot` binary is missing. `dot_path` is where the DOT text was written, if any."""

    def __init__(self, message: str = INSTALL_HINT, dot_path: Path | None = None,
                 note: str | None = None):  # fmt: skip
        if dot_path is not None:
            message = (
                f"{message}\nThe diagram source was written to {dot_path}; once Graphviz is "
                f"installed, render it with `dot -Tsvg {dot_path} -o diagram.svg`."
            )
        if note:
            message = f"{message}\n{note}"
        super().__init__(message)
        self.dot_path = dot_path


def _have_dot() -> bool:
    return shutil.which("dot") is not None


def _pipe(source: str, fmt: str) -> bytes:
    import graphviz  # imported here: only drawing needs it

    try:
        return graphviz.Source(source).pipe(format=fmt)
    except graphviz.ExecutableNotFound as e:  # pragma: no cover - raced with _have_dot
        raise DotMissing() from e


def to_svg(graph, **options) -> str:
    """The diagram as SVG text (what Jupyter shows via Model._repr_svg_)."""
    source = to_dot(graph, **options)
    if not _have_dot():
        raise DotMissing()
    return _pipe(source, "svg").decode("utf-8")


def _fallback_dot_path(path: Path, data: bytes) -> tuple[Path, bool]:
    """Where to put the DOT text when `dot` is missing: (path, whether it must be written).

    `path` with suffix .dot when that is free or already holds exactly `data`; otherwise the
    first of `<stem>-1.dot`, `<stem>-2.dot`, ... that is free or holds `data`. A file the user
    did not name is never overwritten (nor a symlink, device or folder written through)."""
    stem = path.with_suffix("")
    for i in range(1000):
        candidate = path.with_suffix(".dot") if i == 0 else stem.with_name(f"{stem.name}-{i}.dot")
        if not os.path.lexists(candidate):
            return candidate, True
        try:
            st = os.stat(candidate)  # a FIFO must not be read: it could block forever
            same = stat.S_ISREG(st.st_mode) and st.st_size == len(data)
            if same and candidate.read_bytes() == data:
                return candidate, False
        except OSError:
            pass
    raise DotMissing(note=f"The diagram source was not written: {path.with_suffix('.dot')} and "
                          f"{stem.name}-1.dot ... {stem.name}-999.dot all exist already.")  # fmt: skip


def render(graph, path, **options) -> Path:
    """Write the diagram to `path`; the format comes from the suffix (.svg .png .pdf .dot).

    Files are written atomically through seqnet.atomic (a symlink's target is updated; a device,
    FIFO or folder at `path` is refused with NotARegularFile and left as it is).

    When `dot` is missing, the DOT text is still written next to `path` with suffix .dot and
    DotMissing is raised with the install instructions and where the text went. That .dot file
    was not named by the user, so it is never overwritten: if it already exists with other
    content, it is left as it is and the text goes to the first free `<stem>-1.dot`,
    `<stem>-2.dot`, ... instead (an existing file with identical content is reused, so rerunning
    creates nothing new), and the message says so.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(
            f"cannot render to {path.name!r}: use one of {', '.join(sorted(set(FORMATS) - {'.gv'}))}"
        )
    source = to_dot(graph, **options)
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    fmt = FORMATS[suffix]
    if fmt == "dot":
        atomic.write_text(path, source)
        return path
    if not _have_dot():
        data = source.encode("utf-8")
        dot_path, needs_write = _fallback_dot_path(path, data)
        if needs_write:
            atomic.write_bytes(dot_path, data)
        wanted = path.with_suffix(".dot")
        note = None
        if dot_path != wanted:
            note = (f"{wanted} already exists with other content, so it was left as it is and "
                    f"the source went to {dot_path} instead.")  # fmt: skip
        raise DotMissing(dot_path=dot_path, note=note)
    atomic.write_bytes(path, _pipe(source, fmt))
    return path
