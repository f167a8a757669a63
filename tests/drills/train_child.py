"""A training run for the drills, in its own process: `python train_child.py SPEC OUT KILL`.

KILL says where the process SIGKILLs itself (kill -9: no handler, no cleanup, no flush):
  none              run to the end
  step:D            D steps after this process started (or resumed) training
  write:N:mid       during its N-th file write: the temp file written and fsynced, not renamed
  write:N:after     just after its N-th file write landed (before whatever came next)
  hold:K:FILE       not a kill: at step K write FILE + ".ready", then wait until FILE exists

It resumes when the run folder has a checkpoint, replaces a run without one (--overwrite), and
starts fresh otherwise, as a person rerunning the command would. A test driver, not seqnet's.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path


def main(spec: str, out: str, kill: str) -> None:
    import seqnet
    from seqnet import atomic
    from seqnet.backends.jax import checkpoint as ck
    from seqnet.backends.jax import train as T

    kind, *arg = kill.split(":")
    callback = None
    die = lambda: os.kill(os.getpid(), signal.SIGKILL)  # noqa: E731
    if kind == "step":
        first = []

        def callback(step, logs):
            first.append(step)
            if len(first) == int(arg[0]):
                die()
    elif kind == "hold":
        def callback(step, logs):
            if step == int(arg[0]):
                Path(arg[1] + ".ready").write_text(str(os.getpid()))
                while not Path(arg[1]).exists():
                    time.sleep(0.02)
    elif kind == "write":
        real, count = atomic.write_with, [0]

        def write_with(path, writer, **kw):
            count[0] += 1
            if count[0] != int(arg[0]):
                return real(path, writer, **kw)
            if arg[1] == "mid":
                def torn(f):
                    writer(f)
                    f.flush()
                    os.fsync(f.fileno())
                    die()

                return real(path, torn, **kw)
            result = real(path, writer, **kw)
            die()
            return result

        atomic.write_with = write_with
    model = seqnet.load(spec)
    out_dir = Path(out)
    resume = bool(ck.list_checkpoints(out_dir / "checkpoints"))
    metrics = out_dir / "metrics.jsonl"
    overwrite = not resume and metrics.exists() and metrics.stat().st_size > 0
    r = T.train(model, out=out_dir, resume=resume, overwrite=overwrite, progress=False, log_every=4,
                callback=callback)  # fmt: skip
    print(f"done {r.start_step} {r.step}")


if __name__ == "__main__":
    main(*sys.argv[1:])
