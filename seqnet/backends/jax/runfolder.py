"""The run folder (default runs/<spec stem>) and the rules for reusing one.

Layout:
  metrics.jsonl       one JSON object a line: {"step", "split": "train"|"eval", "loss",
                      "metrics": {...}, "time", ("lr", "examples_per_s", "grad_norm" for train)}
  checkpoints/        step_XXXXXXXX.safetensors + step_XXXXXXXX.json (see checkpoint.py), the
                      newest 3 kept, written every checkpoint_every steps, at the end, on Ctrl-C
  curves.png          loss and metrics against step (plots.py)
  tensorboard/        event files, only when tensorboardX (or torch's SummaryWriter) imports

A fresh run into a folder that holds an earlier run is refused (nothing changed) unless it
continues it (resume) or replaces it (overwrite)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from seqnet.backends.jax.failures import TrainingError

METRICS = "metrics.jsonl"
CHECKPOINTS = "checkpoints"
CURVES = "curves.png"


def check_writable(folder: Path) -> None:
    """Find an unwritable output before training, not after it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".probe-"):
            pass
    except OSError as e:
        raise TrainingError(f"cannot write checkpoints to {folder}: {e.strerror or e}; "
                            "choose another folder with --out DIR") from None


def refuse_earlier_run(out: Path, checkpoints: list) -> None:
    """A fresh run must not silently delete the checkpoints and metrics of an earlier one."""
    if out.exists() and not out.is_dir():
        raise TrainingError(f"the output folder {out} is a file; choose another with --out DIR")
    held = []
    if checkpoints:
        held.append(f"checkpoints up to {Path(checkpoints[-1]).name}")
    if (out / METRICS).is_file():
        held.append(METRICS)
    if held:
        raise TrainingError(f"{out} holds an earlier run ({', '.join(held)}); nothing was changed. "
                            "Continue it with --resume (resume=True), replace it with --overwrite "
                            "(overwrite=True), or train into another folder (--out DIR, out=...)")  # fmt: skip
