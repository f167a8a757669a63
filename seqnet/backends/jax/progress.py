"""Reporting a run as it goes: a rich progress bar, and the clock its rates are measured by."""

from __future__ import annotations

import sys
import time


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


class Clock:
    def __init__(self):
        self.t0 = time.perf_counter()

    def __call__(self) -> float:
        return time.perf_counter() - self.t0
