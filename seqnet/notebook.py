"""The `%%seqnet` cell magic: `%load_ext seqnet.notebook`, then a cell

    %%seqnet model
    dim N = 8
    input x : float32[N]
    output y : float32[N] = dense(x, N)

checks the cell as `seqnet check` checks a file and shows its diagnostics; when it compiles, the
diagram and the summary too, and the Model is bound to the name after `%%seqnet` (if given).
`--no-diagram` and `--no-summary` leave those out. Imports are read relative to the working
folder (the notebook's, usually). Nothing here imports JAX: the Model lowers only when asked.
"""

from __future__ import annotations

import shlex
from html import escape
from pathlib import Path

from seqnet.errors import Diagnostic
from seqnet.source import SourceFile

CELL_NAME = "cell.seqnet"  # what diagnostics call the cell; imports resolve next to it


class CellReport:
    """What a `%%seqnet` cell shows: Jupyter displays `_repr_html_`, a terminal `__repr__`."""

    def __init__(self, diagnostics: list[Diagnostic], model=None, diagram: bool = True, summary: bool = True):
        self.diagnostics = diagnostics
        self.model = model
        self.show_diagram = diagram
        self.show_summary = summary

    @property
    def ok(self) -> bool:
        return self.model is not None

    def __repr__(self) -> str:
        parts = [d.render() for d in self.diagnostics]
        if self.model is not None:
            parts.append(f"ok, {self.model.graph.number_of_nodes()} nodes")
            if self.show_summary:
                parts.append(str(self.model.summary()))
        return "\n\n".join(parts)

    def _repr_html_(self) -> str:
        parts = []
        for d in self.diagnostics:
            color = "#b00020" if d.severity == "error" else "#8a6d00"
            parts.append(f'<pre style="color:{color}">{escape(d.render())}</pre>')
        if self.model is not None:
            if self.show_diagram:
                parts.append(_diagram(self.model))
            if self.show_summary:
                parts.append(self.model.summary()._repr_html_())
        elif not self.diagnostics:  # pragma: no cover - a failed compile always says why
            parts.append("<p>the cell did not compile</p>")
        return "\n".join(parts)


def _diagram(model) -> str:
    try:
        return model._repr_svg_()
    except Exception as e:  # graphviz's `dot` missing or failing: the rest is still worth showing
        return f"<p><em>no diagram: {escape(str(e))}</em></p>"


def check_cell(text: str, diagram: bool = True, summary: bool = True, folder: Path | None = None) -> CellReport:
    from seqnet.model import Model
    from seqnet.pipeline import compile_source

    source = SourceFile(CELL_NAME, text, (folder or Path.cwd()).resolve() / CELL_NAME)
    graph, diags = compile_source(source)
    diags = sorted(diags, key=Diagnostic.sort_key)
    model = Model(graph, diags, None) if graph is not None else None
    return CellReport(diags, model, diagram, summary)


def seqnet_magic(line: str, cell: str, namespace: dict | None = None) -> CellReport:
    """The magic itself: `line` holds the options, `cell` the spec."""
    words = shlex.split(line)
    flags = {w for w in words if w.startswith("--")}
    unknown = flags - {"--no-diagram", "--no-summary"}
    if unknown:
        raise ValueError(f"%%seqnet: unknown option {sorted(unknown)[0]}; options: --no-diagram, --no-summary")
    names = [w for w in words if not w.startswith("--")]
    report = check_cell(cell, diagram="--no-diagram" not in flags, summary="--no-summary" not in flags)
    if names and namespace is not None:
        if report.model is not None:
            namespace[names[0]] = report.model
        else:
            namespace.pop(names[0], None)  # a stale model must not outlive the spec it came from
    return report


def load_ipython_extension(ipython) -> None:
    """`%load_ext seqnet.notebook`."""

    def magic(line: str, cell: str) -> CellReport:
        return seqnet_magic(line, cell, ipython.user_ns)

    magic.__doc__ = __doc__
    ipython.register_magic_function(magic, magic_kind="cell", magic_name="seqnet")
