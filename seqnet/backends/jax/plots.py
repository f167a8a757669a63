"""curves.png: a run's loss and metrics against step, train and eval.

Drawn on a matplotlib `Figure` with its own Agg canvas: no pyplot, no global backend switch
(`matplotlib.use`), so training from a notebook leaves the notebook's plotting as it was."""

from __future__ import annotations

from pathlib import Path

from seqnet import atomic


def log_scale(ax) -> None:
    """A log y axis labelled with plain numbers (2.25, 0.01) rather than matplotlib's default
    2.25 x 10^0, which reads worse and costs a third of a figure's drawing: each such label is
    parsed as TeX."""
    from matplotlib.ticker import FuncFormatter, LogFormatter

    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(LogFormatter(labelOnlyBase=False))


def curves_figure(history: list[dict]):
    """A Figure of one panel per quantity (loss first, then each metric)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    names = ["loss"] + sorted({k for r in history for k in r.get("metrics", {})})
    fig = Figure(figsize=(4.5 * len(names), 3.5))
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(names), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        for split, style in (("train", "-"), ("eval", "o-")):
            pts = [(r["step"], r["loss"] if name == "loss" else r.get("metrics", {}).get(name))
                   for r in history if r.get("split") == split]  # fmt: skip
            pts = [(s, v) for s, v in pts if v is not None]
            if pts:
                ax.plot(*zip(*pts, strict=True), style, label=split, markersize=3)
        # A title at a fixed height: matplotlib otherwise measures every tick label of the axes
        # to lift the title over them, a third of the figure's drawing (no labels are up there).
        ax.set_title(name, y=1.0)
        ax.set_xlabel("step")
        if name == "loss" and all(r["loss"] > 0 for r in history if "loss" in r):
            log_scale(ax)
        ax.legend()
        ax.grid(alpha=0.3)
    # Fixed margins in inches rather than tight_layout, which measures every tick label and
    # cost as much as drawing the figure (0.5 s against 0.3 s per curves.png, once per run).
    width, height = fig.get_size_inches()
    fig.subplots_adjust(left=0.8 / width, right=1 - 0.2 / width, bottom=0.5 / height,
                        top=1 - 0.35 / height, wspace=0.3)  # fmt: skip
    return fig


def plot(history: list[dict], path: Path, within: Path | None = None) -> Path | None:
    """Write curves.png atomically (inside `within` when given); None when there is nothing to draw."""
    if not history:
        return None
    fig = curves_figure(history)
    atomic.write_with(path, lambda f: fig.savefig(f, format="png", dpi=100), within=within)
    return path
