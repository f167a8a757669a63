"""Which checkpoint is "the last good one" when training diverges (issue 13).

A run that explodes usually spends several steps with finite but huge parameters before its
first NaN, and a checkpoint written then is finite yet useless to resume from. So every
checkpoint is judged when it is written: it is *sound* when its training loss and its
parameters' global norm are finite and at most FACTOR times the median of the run's history so
far (the loss against every logged training window, the norm against the earlier checkpoints
and the initial parameters). The failure message names the newest sound checkpoint, says which
newer ones it passed over and why, and pruning never deletes it.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path

FACTOR = 10.0  # a checkpoint's loss or parameter norm above FACTOR x the run's median: exploded


@dataclass
class CheckpointHistory:
    losses: list[float] = field(default_factory=list)  # every training window's mean loss
    norms: list[float] = field(default_factory=list)  # the initial and every checkpoint's norm
    sound: tuple[Path, int] | None = None  # (record, step) of the newest sound checkpoint
    passed_over: list[tuple[int, str]] = field(default_factory=list)  # (step, why) since

    def start(self, norm: float, checkpoint: tuple[Path, int] | None = None) -> None:
        """The run's first parameters (fresh, or restored from `checkpoint`, taken as sound)."""
        self.norms.append(norm)
        self.sound = checkpoint

    def log_loss(self, loss: float) -> None:
        if math.isfinite(loss):
            self.losses.append(loss)

    def why_unsound(self, loss: float | None, norm: float) -> str | None:
        """Why a checkpoint with this loss and parameter norm is not sound (None: it is)."""
        if not math.isfinite(norm):
            return f"its parameter norm is {norm}"
        if self.norms and norm > FACTOR * statistics.median(self.norms):
            return (f"its parameter norm {norm:.3g} is over {FACTOR:g}x the run's median "
                    f"{statistics.median(self.norms):.3g}")  # fmt: skip
        if loss is None:
            return None
        if not math.isfinite(loss):
            return f"its training loss is {loss}"
        if self.losses and loss > FACTOR * statistics.median(self.losses):
            return (f"its training loss {loss:.3g} is over {FACTOR:g}x the run's median "
                    f"{statistics.median(self.losses):.3g}")  # fmt: skip
        return None

    def judge(self, record: Path, step: int, loss: float | None, norm: float) -> bool:
        """Record a checkpoint just written; True when it is sound (and now the last good)."""
        why = self.why_unsound(loss, norm)
        if math.isfinite(norm):
            self.norms.append(norm)
        if why is None:
            self.sound, self.passed_over = (record, step), []
            return True
        self.passed_over.append((step, why))
        return False

    def describe(self) -> str:
        """The last good checkpoint, for a failure message."""
        if self.sound is None:
            text = "none (no sound checkpoint was written yet)"
        else:
            text = f"{self.sound[0]} (step {self.sound[1]})"
        if self.passed_over:
            skipped = "; ".join(f"step {s}: {why}" for s, why in self.passed_over)
            text += f"; newer checkpoints passed over as already exploded ({skipped})"
        return text
