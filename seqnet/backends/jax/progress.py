"""Reporting a run: a rich progress bar, metrics as JSONL, optional TensorBoard, a PNG of curves."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path


class Bar:
    """A rich progress bar: step, loss, examples/s and ETA. A no-op when disabled."""

    def __init__(self, total: int, start: int, enabled: bool, description: str = "train"):
        self.enabled = enabled
        self._progress = None
        if not enabled:
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}"), TextColumn("{task.fields[rate]} ex/s"),
            TextColumn("eta"), TimeRemainingColumn(), transient=False,
        )  # fmt: skip
        self._progress.start()
        self._task = self._progress.add_task(description, total=total, completed=start, loss="-", rate="-")

    def update(self, step: int, loss: float | None = None, rate: float | None = None) -> None:
        if self._progress is None:
            return
        fields = {}
        if loss is not None:
            fields["loss"] = f"{loss:.4g}"
        if rate is not None:
            fields["rate"] = f"{rate:,.0f}"
        self._progress.update(self._task, completed=step, **fields)

    def print(self, text: str) -> None:
        if self._progress is not None:
            self._progress.console.print(text)
        else:
            print(text, file=sys.stderr)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


class MetricsLog:
    """Appends one JSON object per line to metrics.jsonl (and TensorBoard when importable)."""

    def __init__(self, out: Path, resume_step: int | None, tensorboard: bool = True,
                 staged: bool = False):  # fmt: skip
        """staged: write to metrics.jsonl.new until `commit()` (a run replacing another keeps
        the old metrics until it has a checkpoint of its own); `discard()` drops it."""
        self.final = out / "metrics.jsonl"
        self.path = self.final.with_name("metrics.jsonl.new") if staged else self.final
        self.committed = not staged
        self.history: list[dict] = []
        if resume_step is not None and self.final.exists():  # keep the lines up to the checkpoint
            for line in self.final.read_text().splitlines():
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue  # a torn last line from a killed run
                if not (isinstance(rec, dict) and isinstance(rec.get("step", 0), int)):
                    continue  # not a record of ours (an edited file): keep only what we can read
                if rec.get("step", 0) <= resume_step:
                    self.history.append(rec)
        from seqnet import atomic

        atomic.write_text(self.path, "".join(json.dumps(r) + "\n" for r in self.history))
        self._file = open(self.path, "a")
        self._tb = None
        if tensorboard:
            self._tb = _tensorboard_writer(out / "tensorboard")

    def write(self, record: dict) -> None:
        self.history.append(record)
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()
        if self._tb is not None:
            split, step = record["split"], record["step"]
            try:
                self._tb.add_scalar(f"{split}/loss", record["loss"], step)
                for k, v in record.get("metrics", {}).items():
                    self._tb.add_scalar(f"{split}/{k}", v, step)
            except Exception:  # TensorBoard is a convenience: never fail a run over it
                self._tb = None

    def commit(self) -> None:
        if not self.committed:
            self._file.flush()
            os.replace(self.path, self.final)  # the open handle follows the file
            self.path, self.committed = self.final, True

    def discard(self) -> None:
        self._file.close()
        self.path.unlink(missing_ok=True)

    def close(self) -> None:
        self._file.close()
        if self._tb is not None:
            try:
                self._tb.close()
            except Exception:
                pass


def _tensorboard_writer(logdir: Path):
    for module in ("tensorboardX", "torch.utils.tensorboard"):
        try:
            mod = __import__(module, fromlist=["SummaryWriter"])
            return mod.SummaryWriter(str(logdir))
        except Exception:
            continue
    return None


def plot(history: list[dict], path: Path) -> Path | None:
    """A PNG of loss and metrics against step, train and eval; None when there is nothing to draw."""
    if not history:
        return None
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    names = ["loss"] + sorted({k for r in history for k in r.get("metrics", {})})
    fig, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 3.5), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        for split, style in (("train", "-"), ("eval", "o-")):
            pts = [(r["step"], r["loss"] if name == "loss" else r.get("metrics", {}).get(name))
                   for r in history if r.get("split") == split]  # fmt: skip
            pts = [(s, v) for s, v in pts if v is not None]
            if pts:
                ax.plot(*zip(*pts, strict=True), style, label=split, markersize=3)
        ax.set_title(name)
        ax.set_xlabel("step")
        if name == "loss" and all(r["loss"] > 0 for r in history if "loss" in r):
            ax.set_yscale("log")
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)
    return path


class Clock:
    def __init__(self):
        self.t0 = time.perf_counter()

    def __call__(self) -> float:
        return time.perf_counter() - self.t0
