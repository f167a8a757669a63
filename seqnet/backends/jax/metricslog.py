"""metrics.jsonl: one JSON record a line, appended as a run goes (and TensorBoard when it imports)."""

from __future__ import annotations

import json
import os
from pathlib import Path


class MetricsLog:
    """Appends one JSON object per line to metrics.jsonl (and TensorBoard when importable)."""

    def __init__(self, out: Path, resume_step: int | None, tensorboard: bool = True,
                 staged: bool = False):  # fmt: skip
        """staged: write to metrics.jsonl.new until `commit()` (a run replacing another keeps
        the old metrics until it has a checkpoint of its own); `discard()` drops it."""
        self.final = out / "metrics.jsonl"
        self.path = self.final.with_name(self.final.name + ".new") if staged else self.final
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

        # Within the run folder: a metrics.jsonl planted as a symlink to elsewhere is refused.
        atomic.write_text(self.path, "".join(json.dumps(r) + "\n" for r in self.history), within=out)
        self._file = atomic.open_append(self.path, out)
        self._tb = None
        if tensorboard:
            self._tb = tensorboard_writer(out / "tensorboard")

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


def tensorboard_writer(logdir: Path):
    for module in ("tensorboardX", "torch.utils.tensorboard"):
        try:
            mod = __import__(module, fromlist=["SummaryWriter"])
            return mod.SummaryWriter(str(logdir))
        except Exception:
            continue
    return None
