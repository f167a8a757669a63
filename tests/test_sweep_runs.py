"""`seqnet sweep` for real: each run its own `seqnet train` process, forked from a warm one
(seqnet/sweep/launch.py) or, with SEQNET_SWEEP_FORK=0, a fresh interpreter. A tiny spec, few steps."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SPEC = """dim H = 8
input x : float32[64]
h = dense(x, H, act=relu)
output y : float32[10] = dense(h, 10)
train {
  data = digits(flat=true)
  loss = cross_entropy(y, label)
  optimizer = adam(lr=1e-2)
  batch = 32
  steps = 12
  eval_every = 6
  metrics = [accuracy(y, label)]
}
"""


def sweep(*args, fork: bool = True, **popen):
    env = dict(os.environ, PYTHONPATH=str(ROOT), SEQNET_SWEEP_FORK="1" if fork else "0")
    cmd = [sys.executable, "-m", "seqnet", "sweep", *map(str, args)]
    if popen:
        return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)


def history(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """lr = 0.01, 0.003 and a bad value, x 2 seeds, 2 runs at once."""
    tmp = tmp_path_factory.mktemp("sweep")
    spec = tmp / "tiny.seqnet"
    spec.write_text(SPEC)
    out = tmp / "out"
    done = sweep(spec, "--set", "lr=0.01,bogus,0.003", "--seeds", 2, "--jobs", 2, "--out", out)
    return out, done


def test_the_grid_runs_every_point_and_seed(swept):
    out, done = swept
    assert "Traceback" not in done.stdout + done.stderr
    runs = sorted(str(p.relative_to(out).parent) for p in out.glob("*/seed*/metrics.jsonl"))
    assert runs == ["lr=0.003/seed0", "lr=0.003/seed1", "lr=0.01/seed0", "lr=0.01/seed1"]
    for point in ("lr=0.01", "lr=0.003"):  # the seeds differ: the spec's seed (0) + k
        first = [history(out / point / f"seed{k}")[0]["loss"] for k in (0, 1)]
        assert first[0] != first[1]
    assert "4/4 runs, 2/2 points done" in done.stderr


def test_a_bad_point_is_reported_with_its_location_and_the_rest_finish(swept):
    out, done = swept
    assert done.returncode == 1  # not every point ran
    assert "sweep: point lr=bogus (--set) is invalid and is skipped" in done.stderr
    assert "<command line>:1:10: error[SQN0108]: lr must be a positive number" in done.stderr
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [(r["run"], r["status"]) for r in records] == [
        ("lr=0.01/seed0", "ok"), ("lr=0.01/seed1", "ok"), ("lr=0.003/seed0", "ok"),
        ("lr=0.003/seed1", "ok"), ("lr=bogus/seed0", "invalid"), ("lr=bogus/seed1", "invalid")]  # fmt: skip
    assert not (out / "lr=bogus").exists()


def test_a_forked_run_trains_exactly_like_a_plain_seqnet_train(swept, tmp_path):
    """The sweep's run of lr = 0.01, seed 1 against `python -m seqnet train` of the same point in
    a fresh interpreter: the same records, bit for bit, but for their
    times and throughputs."""
    out, _ = swept
    plain = tmp_path / "plain"
    done = subprocess.run([sys.executable, "-m", "seqnet", "train", str(out.parent / "tiny.seqnet"), "--set", "lr=0.01",
                           "--set", "seed=1", "--out", str(plain), "--no-progress"],
                          env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True, timeout=900)  # fmt: skip
    assert done.returncode == 0, done.stderr
    log = (out / "lr=0.01" / "seed1.log").read_text()
    assert log.startswith(f"$ {sys.executable} -m seqnet train ")
    assert "Traceback" not in log and "trained 12 steps" in log
    timed = ("time", "examples_per_s", "steps_per_s")
    forked = [{k: v for k, v in r.items() if k not in timed} for r in history(out / "lr=0.01" / "seed1")]
    assert forked == [{k: v for k, v in r.items() if k not in timed} for r in history(plain)]


def test_results_and_table_match_the_runs_own_metrics(swept):
    out, _ = swept
    records = {r["run"]: r for r in map(json.loads, (out / "results.jsonl").read_text().splitlines())}
    table = (out / "results.md").read_text().splitlines()
    for point in ("lr=0.01", "lr=0.003"):
        finals = []
        for k in (0, 1):
            last = [r for r in history(out / point / f"seed{k}") if r["split"] == "eval"][-1]
            assert last["step"] == 12
            rec = records[f"{point}/seed{k}"]
            assert rec["steps"] == 12 and rec["seed"] == k and rec["settings"] == {"lr": point[3:]}
            assert rec["metrics"] == {"loss": last["loss"], **last["metrics"]}
            assert rec["wall_s"] > 0
            finals.append(last)
        cells = []
        for name in ("loss", "accuracy"):
            values = [f["loss"] if name == "loss" else f["metrics"][name] for f in finals]
            mean = sum(values) / 2
            sd = math.sqrt(sum((v - mean) ** 2 for v in values))  # n - 1 = 1
            cells.append(f"{mean:.4g} ± {sd:.4g}")
        row = next(line for line in table if line.startswith(f"| `{point}` |"))
        assert row.startswith(f"| `{point}` | 2/2 | 12 | {cells[0]} | {cells[1]} | ")
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _wait_for(predicate, proc, timeout=600):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert proc.poll() is None, proc.stdout.read()
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_a_killed_sweep_resumes_without_rerunning_finished_runs(tmp_path):
    """Points from a JSON file; the sweep is killed (SIGKILL) during the second, longer run,
    after its first checkpoint: the run, forked from the sweep's warm server, is told with a
    Ctrl-C and stops at a checkpoint. --resume skips the first run and continues the second."""
    spec = tmp_path / "tiny.seqnet"
    spec.write_text(SPEC)
    points = tmp_path / "points.json"
    points.write_text(json.dumps([{"lr": 0.01}, {"lr": 0.003, "steps": 4000, "checkpoint_every": 50,
                                                   "eval_every": 4000}]))  # fmt: skip
    out = tmp_path / "out"
    proc = sweep(spec, "--points", points, "--jobs", 1, "--out", out, popen=True)
    long = out / "lr=0.003_steps=4000_checkpoint_every=50_eval_every=4000" / "seed0"
    try:
        _wait_for(lambda: list((long / "checkpoints").glob("step_*.json")), proc)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    first = out / "lr=0.01" / "seed0"
    metrics_before = (first / "metrics.jsonl").read_bytes()
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [(r["run"], r["status"]) for r in records] == [("lr=0.01/seed0", "ok")]
    deadline = time.monotonic() + 300  # the orphaned run got a Ctrl-C: it checkpoints and exits
    while (long / ".seqnet.lock").exists():
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert "interrupted at step" in (long.parent / "seed0.log").read_text()
    stopped_at = max(int(p.stem[5:]) for p in (long / "checkpoints").glob("step_*.json"))
    assert stopped_at < 4000

    # resumed by fresh interpreters: the unforked way continues what a forked run checkpointed
    done = sweep(spec, "--points", points, "--jobs", 1, "--out", out, "--resume", fork=False)
    assert done.returncode == 0, done.stderr
    assert "(0 invalid, 1 finished earlier, 1 to run, 1 at once)" in done.stderr
    assert (first / "metrics.jsonl").read_bytes() == metrics_before
    assert (first.parent / "seed0.log").read_text().count("$ ") == 1  # never rerun
    log = (long.parent / "seed0.log").read_text()
    commands = [line for line in log.splitlines() if line.startswith("$ ")]
    assert len(commands) == 2 and "--resume" not in commands[0] and commands[1].endswith(" --resume")
    assert f"trained steps {stopped_at}-4000" in log
    records = {r["run"]: r for r in map(json.loads, (out / "results.jsonl").read_text().splitlines())}
    assert records["lr=0.01/seed0"]["status"] == "ok" and not records["lr=0.01/seed0"]["resumed"]
    resumed = records["lr=0.003_steps=4000_checkpoint_every=50_eval_every=4000/seed0"]
    assert resumed["status"] == "ok" and resumed["resumed"] and resumed["steps"] == 4000
