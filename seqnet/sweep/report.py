"""What a sweep writes about its runs: results.md (one row per point, the mean and spread over
seeds of each final metric) and curves.png (each point's learning curves, the mean over seeds
with mean +- one standard deviation shaded). Both are written atomically."""

from __future__ import annotations

import math
from pathlib import Path

from seqnet import atomic


def mean_sd(values: list[float]) -> tuple[float, float | None]:
    """The mean and the sample standard deviation (n - 1; None for a single value)."""
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, None
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))


def _num(x: float) -> str:
    return f"{x:.4g}"


def table(records: list[dict]) -> str:
    """results.md: a Markdown table, one row per point in the order first seen."""
    points: dict[str, list[dict]] = {}
    for rec in records:
        points.setdefault(rec["point"], []).append(rec)
    names = []
    for rec in records:
        names += [k for k in rec.get("metrics", {}) if k not in names]
    lines = ["# Sweep results", "",
             "Final evaluation of each run; `mean ± sd` over the seeds that finished "
             "(sd: sample standard deviation, n - 1).", "",
             "| point | seeds ok | steps | " + " | ".join(names) + " | wall s |",
             "|---|---|---|" + "---|" * len(names) + "---|"]  # fmt: skip
    for point, recs in points.items():
        ok = [r for r in recs if r["status"] == "ok"]
        cells = [f"`{point}`", f"{len(ok)}/{len(recs)}",
                 str(ok[0]["steps"]) if ok else "-"]  # fmt: skip
        for name in [*names, "wall_s"]:
            values = [r["metrics"][name] if name != "wall_s" else r["wall_s"] for r in ok
                      if (name == "wall_s" and r.get("wall_s") is not None) or name in r.get("metrics", {})]  # fmt: skip
            if not values:
                cells.append("-")
                continue
            mean, sd = mean_sd(values)
            cells.append(_num(mean) if sd is None else f"{_num(mean)} ± {_num(sd)}")
        lines.append("| " + " | ".join(cells) + " |")
    bad = [r for r in records if r["status"] != "ok"]
    if bad:
        lines += ["", "Runs that did not finish:", ""]
        lines += [f"- `{r['run']}`: {r['status']}: {r.get('error', '')}".rstrip(": ") for r in bad]
    return "\n".join(lines) + "\n"


def write_table(records: list[dict], path: Path) -> Path:
    return atomic.write_text(path, table(records))


def curves(histories: dict[str, list[list[dict]]]) -> dict[str, dict[str, tuple]]:
    """point -> quantity -> (steps, mean, sd) over its seeds' training records, at the steps
    every seed logged."""
    from seqnet.sweep.runs import quantities

    out: dict[str, dict[str, tuple]] = {}
    for point, runs in histories.items():
        per_run = [{r["step"]: quantities(r) for r in h if r.get("split") == "train"} for h in runs]
        per_run = [r for r in per_run if r]
        if not per_run:
            continue
        steps = sorted(set.intersection(*(set(r) for r in per_run)))
        names = sorted({k for r in per_run for s in steps for k in r[s]}, key=lambda k: (k != "loss", k))
        out[point] = {}
        for name in names:
            xs, means, sds = [], [], []
            for s in steps:
                values = [r[s][name] for r in per_run if name in r[s]]
                if len(values) == len(per_run):
                    mean, sd = mean_sd(values)
                    xs.append(s)
                    means.append(mean)
                    sds.append(sd or 0.0)
            out[point][name] = (xs, means, sds)
    return out


def plot_curves(histories: dict[str, list[list[dict]]], path: Path) -> Path | None:
    """curves.png: one panel per quantity, one line per point (None when nothing was logged)."""
    data = curves(histories)
    names = sorted({n for q in data.values() for n in q}, key=lambda k: (k != "loss", k))
    if not names:
        return None
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from seqnet.backends.jax.plots import log_scale

    fig = Figure(figsize=(5 * len(names), 3.8))
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(names), squeeze=False)[0]
    for ax, name in zip(axes, names, strict=True):
        for point, quantities in data.items():
            if name not in quantities:
                continue
            xs, means, sds = quantities[name]
            (line,) = ax.plot(xs, means, label=point)
            ax.fill_between(xs, [m - s for m, s in zip(means, sds, strict=True)],
                            [m + s for m, s in zip(means, sds, strict=True)],
                            color=line.get_color(), alpha=0.2)  # fmt: skip
        ax.set_title(f"train {name} (mean ± sd over seeds)", y=1.0)  # fixed: see plots.curves_figure
        ax.set_xlabel("step")
        if name == "loss" and all(m > 0 for q in data.values() for m in q.get("loss", ((), (), ()))[1]):
            log_scale(ax)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    fig.tight_layout()
    return atomic.write_with(path, lambda f: fig.savefig(f, format="png", dpi=100))
