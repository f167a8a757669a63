"""Running the system `dot` binary (through the graphviz Python package) on the DOT text."""

from __future__ import annotations

import shutil
from pathlib import Path

from seqnet.backends.graphviz.dot import to_dot

FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": "dot", ".gv": "dot"}

INSTALL_HINT = (
    "Graphviz's `dot` program was not found on PATH; install it to render diagrams: "
    "`apt-get install graphviz` (Debian/Ubuntu), `brew install graphviz` (macOS), "
    "`conda install -c conda-forge graphviz`, or see https://graphviz.org/download/"
)


class DotMissing(RuntimeError):
    """The system `dot` binary is missing. `dot_path` is where the DOT text was written, if any."""

    def __init__(self, message: str = INSTALL_HINT, dot_path: Path | None = None):
        if dot_path is not None:
            message = (
                f"{message}\nThe diagram source was written to {dot_path}; once Graphviz is "
                f"installed, render it with `dot -Tsvg {dot_path} -o diagram.svg`."
            )
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


def render(graph, path, **options) -> Path:
    """Write the diagram to `path`; the format comes from the suffix (.svg .png .pdf .dot).

    When `dot` is missing, the DOT text is still written (next to `path`, suffix .dot) and
    DotMissing is raised with the install instructions.
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
        path.write_text(source, encoding="utf-8")
        return path
    if not _have_dot():
        dot_path = path.with_suffix(".dot")
        dot_path.write_text(source, encoding="utf-8")
        raise DotMissing(dot_path=dot_path)
    path.write_bytes(_pipe(source, fmt))
    return path
