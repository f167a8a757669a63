"""One run of a sweep (a point at one seed) and what its run folder says about it: finished,
half-finished (a checkpoint to resume from), started but never checkpointed, or not started.

A run's results are read back from its own metrics.jsonl, so a sweep that was killed and resumed
reports a finished run exactly as the run itself logged it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from seqnet.backends.jax.checkpoint import list_checkpoints
from seqnet.backends.jax.runfolder import CHECKPOINTS, METRICS, has_records
from seqnet.sweep.points import Point

FINISHED, PARTIAL, STARTED, FRESH = "finished", "partial", "started", "fresh"


@dataclass
class Run:
    point: Point
    index: int  # the k of seed<k>
    seed: int  # the seed it trains with: the point's own seed + k
    steps: int  # the step count it trains to
    folder: Path

    @property
    def name(self) -> str:
        return f"{self.point.id}/seed{self.index}"

    @property
    def log(self) -> Path:
        """The run's `seqnet train` output, beside its folder (a run folder is train's own)."""
        return self.folder.with_name(self.folder.name + ".log")

    def state(self) -> str:
        """What the folder holds: FINISHED (the final evaluation at `steps` and a checkpoint
        there), PARTIAL (a checkpoint to --resume from), STARTED (metrics but no checkpoint:
        retrained with --overwrite) or FRESH."""
        checkpoints = list_checkpoints(self.folder / CHECKPOINTS)
        if checkpoints:
            last = final_eval(read_history(self.folder))
            at_end = checkpoints[-1].name == f"step_{self.steps:08d}.json"
            return FINISHED if at_end and last is not None and last["step"] == self.steps else PARTIAL
        metrics = self.folder / METRICS
        return STARTED if metrics.is_file() and has_records(metrics) else FRESH

    def train_flags(self) -> list[str]:
        """How `seqnet train` continues this run from what its folder holds."""
        return {PARTIAL: ["--resume"], STARTED: ["--overwrite"]}.get(self.state(), [])


def read_history(folder: Path) -> list[dict]:
    """The records of a run's metrics.jsonl (a torn last line from a killed run is left out)."""
    try:
        lines = (folder / METRICS).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    out = []
    for line in lines:
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict) and isinstance(rec.get("step"), int):
            out.append(rec)
    return out


def final_eval(history: list[dict]) -> dict | None:
    """The run's last evaluation record (its final metrics), None before there is one."""
    evals = [r for r in history if r.get("split") == "eval"]
    return evals[-1] if evals else None


def quantities(record: dict) -> dict[str, float]:
    """A record's numbers as one flat dict: loss first, then its metrics."""
    out = {"loss": record["loss"]} if isinstance(record.get("loss"), (int, float)) else {}
    out.update({k: v for k, v in record.get("metrics", {}).items() if isinstance(v, (int, float))})
    return out
