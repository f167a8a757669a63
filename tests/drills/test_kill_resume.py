"""Drills: a training run killed with SIGKILL at random points (mid-step, mid-checkpoint, between
a checkpoint's data and its record, mid-metrics rewrite) and resumed each time ends bit-identical
to a run never interrupted, with every metrics record; and a second run started into the same
folder at the same time is refused while the first loses nothing.

Kept small (a tiny MLP on synthetic sines, 48 steps, no dataset download or sklearn) so it runs
in CI; the kill points come from a seeded RNG, so a failure names a reproducible sequence. The
training runs are forked from a warm server (warm.py), so a dozen of them do not each pay for
importing JAX; the competing runs of the second drill are the CLI's own `seqnet train`, forked the same way."""

from __future__ import annotations

import json
import os
import random
import signal
import time
from pathlib import Path

import numpy as np
import pytest
import warm

ROOT = Path(__file__).resolve().parents[2]
SPEC = """
input x : float32[8, 1]
h = dense(x, 4, act=tanh)
output y : float32[8, 1] = dense(h, 1)
train {
  data = task.sine(8)
  loss = mse(y, target)
  optimizer = adam(lr=1e-2)
  batch = 16
  steps = 48
  examples = 256
  checkpoint_every = 4
  eval_batches = 1
  metrics = [mse(y, target)]
}
"""
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu"}
# one device, as in every child (the suite's other XLA flags kept)
ENV["XLA_FLAGS"] = " ".join(f for f in ENV.get("XLA_FLAGS", "").split() if "device_count" not in f)


def child(spec: Path, out: Path, kill: str = "none") -> warm.Child:
    """`python train_child.py SPEC OUT KILL`, forked from the warm server (see warm.py)."""
    return warm.start("train_child", "main", [str(spec), str(out), kill], env=ENV, cwd=ROOT)


def finish(p: warm.Child, timeout: float = 300) -> tuple[int, str, str]:
    out, err = p.communicate(timeout=timeout)
    return p.returncode, out, err


def final_state(out: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    records = sorted((out / "checkpoints").glob("step_*.json"))
    return load_file(records[-1].with_suffix(".safetensors"))


def records(out: Path) -> list[dict]:
    """metrics.jsonl without what differs between runs by nature (clock time and speed)."""
    keep = ("step", "split", "loss", "metrics", "grad_norm", "lr", "steps")
    return [{k: r.get(k) for k in keep} for r in map(json.loads, (out / "metrics.jsonl").read_text().splitlines())]


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    path = tmp_path_factory.mktemp("drill") / "tiny.seqnet"
    path.write_text(SPEC)
    return path


@pytest.fixture(scope="module")
def reference(spec, tmp_path_factory):
    out = tmp_path_factory.mktemp("reference") / "run"
    rc, stdout, err = finish(child(spec, out))
    assert rc == 0 and "done 0 48" in stdout, err
    return out


def kill_points(rng: random.Random, n: int) -> list[str]:
    """Where each run dies: a few steps in, or at one of its first file writes (the metrics
    rewrite, then each checkpoint's data and record), before or after the rename."""
    points = []
    for _ in range(n):
        if rng.random() < 0.4:
            points.append(f"step:{rng.randint(1, 6)}")
        else:
            points.append(f"write:{rng.randint(1, 5)}:{rng.choice(['mid', 'after'])}")
    return points


@pytest.mark.parametrize("seed", [0])
def test_killed_at_random_points_and_resumed_ends_bit_identical(spec, reference, tmp_path, seed):
    out = tmp_path / "run"
    kills = kill_points(random.Random(seed), 12)
    died = 0
    for point in kills:
        rc, _, err = finish(child(spec, out, point))
        assert rc in (-signal.SIGKILL, 0), f"seed {seed}, {point}: exit {rc}\n{err}"
        died += rc == -signal.SIGKILL
    rc, stdout, err = finish(child(spec, out))  # the last rerun, left alone
    assert rc == 0 and stdout.split()[-1] == "48", err
    assert died >= 10, f"seed {seed}: only {died} of {kills} killed a run"

    want, got = final_state(reference), final_state(out)
    assert sorted(got) == sorted(want)
    for key in want:  # parameters and optimiser state, bit for bit
        assert np.array_equal(got[key], want[key]), f"seed {seed}: {key} differs after {kills}"
    assert records(out) == records(reference), f"seed {seed}: metrics differ after {kills}"
    leftovers = [p.name for p in out.rglob("*") if p.name.endswith(".tmp") or p.name.endswith(".new")]
    assert leftovers == [] and not (out / ".seqnet.lock").exists()


def test_a_second_run_into_a_busy_folder_is_refused_and_the_first_loses_nothing(spec, reference, tmp_path):
    out = tmp_path / "run"
    gate = tmp_path / "go"
    first = child(spec, out, f"hold:6:{gate}")
    try:
        while not Path(f"{gate}.ready").exists():  # the first run is training, lock held
            assert first.poll() is None, first.communicate()[1]
            time.sleep(0.05)
        for flags in ([], ["--overwrite"], ["--resume"]):
            rc, _, err = warm.run_cli(["train", str(spec), "--out", str(out), "--no-progress", *flags], env=ENV,
                                      cwd=ROOT, timeout=300)  # fmt: skip
            assert rc == 1, err
            assert f"is in use by a running training run (pid {first.pid} on host" in err
    finally:
        gate.write_text("go")
    rc, stdout, err = finish(first)
    assert rc == 0 and "done 0 48" in stdout, err
    assert records(out) == records(reference)
    want, got = final_state(reference), final_state(out)
    assert all(np.array_equal(got[k], want[k]) for k in want)
