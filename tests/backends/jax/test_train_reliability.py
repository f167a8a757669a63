"""What a run folder survives: a second run at the same time, planted symlinks and special files,
records without hashes, killed writes, reruns and resumes, and non-finite data or parameters.

Each test here reproduces a reported failure; they run a tiny model for a few steps."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import warm  # noqa: E402
from cli_run import run as run_cli  # noqa: E402

import seqnet  # noqa: E402
from seqnet import atomic  # noqa: E402
from seqnet.backends.jax import checkpoint as ck  # noqa: E402
from seqnet.backends.jax import train as T  # noqa: E402
from seqnet.backends.jax.runfolder import RunFolderBusy, RunLock  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]
SPEC = """
input x : float32[64]
h = dense(x, 8, act=relu)
output y : float32[10] = dense(h, 10)
train {
  data = digits(flat=true)
  loss = cross_entropy(y, label)
  optimizer = adam(lr=1e-3)
  batch = 32
  steps = 10
  checkpoint_every = 5
  eval_batches = 2
  metrics = [accuracy(y, label)]
}
"""


def model():
    return seqnet.loads(SPEC, name="tiny.sqn")


@pytest.fixture()
def spec_file(tmp_path):
    path = tmp_path / "tiny.sqn"
    path.write_text(SPEC)
    return path


def train(out, **kw):
    return T.train(model(), out=out, progress=False, **kw)


def eval_records(out: Path) -> list[dict]:
    lines = (out / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["split"] == "eval"]


# -- one run at a time --------------------------------------------------------------------------

def test_a_second_train_into_a_locked_folder_is_refused_naming_the_owner(tmp_path, spec_file, capsys):
    out = tmp_path / "run"
    out.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from pathlib import Path\n"
         "from seqnet.backends.jax.runfolder import RunLock\n"
         f"with RunLock(Path({str(out)!r})):\n    print('held', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
    try:
        assert holder.stdout.readline() == "held\n"
        with pytest.raises(RunFolderBusy, match=rf"in use by .*pid {holder.pid} on host"):
            train(out)
        for flags in ([], ["--overwrite"], ["--resume"]):
            rc, _, err = run_cli(["train", str(spec_file), "--out", str(out), "--no-progress", *flags], capsys)
            assert rc == 1 and f"pid {holder.pid}" in err, err
        assert sorted(p.name for p in out.iterdir()) == [".seqnet.lock"]  # nothing written
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
        holder.stdout.close()  # left to the garbage collector, it was the suite's ResourceWarning
    assert not (out / ".seqnet.lock").exists()  # released
    assert train(out).step == 10  # and free again


def test_a_stale_lock_of_a_dead_process_is_taken_over_with_a_warning(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    (out / ".seqnet.lock").write_text(json.dumps({"pid": int(dead), "host": socket.gethostname()}))
    assert train(out).step == 10
    err = capsys.readouterr().err
    assert f"taking over the lock of a training run that is gone (pid {dead}" in err
    assert not (out / ".seqnet.lock").exists()


def test_the_lock_refuses_in_process_too(tmp_path):
    with RunLock(tmp_path), pytest.raises(RunFolderBusy, match=f"pid {os.getpid()}"):
        RunLock(tmp_path).acquire()


# -- never delete or overwrite what is not ours ------------------------------------------------

def test_export_leaves_an_unrelated_dot_old_folder_alone(tmp_path):
    pytest.importorskip("flatbuffers")
    from seqnet.backends.jax.export import export

    out = tmp_path / "run"
    m = model()
    T.train(m, out=out, progress=False, steps=5)
    target = tmp_path / "exp"
    export(m, out, target)
    unrelated = tmp_path / ".exp.old"
    unrelated.mkdir()
    (unrelated / "thesis.tex").write_text("years of work")
    export(m, out, target)  # replaces the earlier export
    assert (unrelated / "thesis.tex").read_text() == "years of work"
    assert (target / "manifest.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".exp.old", "exp", "run"]


@pytest.mark.parametrize("planted", ["checkpoints/step_00000015.safetensors", "checkpoints/step_00000015.json",
                                     "metrics.jsonl", "curves.png"])  # fmt: skip
def test_resume_does_not_write_through_a_symlink_out_of_the_run_folder(tmp_path, planted):
    out = tmp_path / "run"
    train(out)
    victim = tmp_path / "elsewhere" / "precious.txt"
    victim.parent.mkdir()
    victim.write_text("keep me")
    link = out / planted
    link.unlink(missing_ok=True)
    link.symlink_to(victim)
    if planted == "curves.png":  # a plot is a convenience: the run goes on, without it
        assert train(out, resume=True, steps=20).plot_path is None or victim.read_text() == "keep me"
    else:
        with pytest.raises(atomic.OutsideFolder, match=r"is a symlink to .*precious.txt, outside"):
            train(out, resume=True, steps=20)
    assert victim.read_text() == "keep me"


def test_a_checkpoints_folder_symlinked_elsewhere_is_refused(tmp_path):
    out = tmp_path / "run"
    train(out)
    elsewhere = tmp_path / "elsewhere"
    (out / "checkpoints").rename(elsewhere)
    (out / "checkpoints").symlink_to(elsewhere)
    before = sorted(p.name for p in elsewhere.iterdir())
    with pytest.raises(atomic.OutsideFolder):
        train(out, resume=True, steps=20)
    assert sorted(p.name for p in elsewhere.iterdir()) == before


# -- special files and records that cannot be verified -----------------------------------------

def run_isolated(*argv, timeout=120):
    """`seqnet ARGV` in a (warm) child with an 8 GiB address-space limit and a timeout: a
    regression here hangs (a FIFO) or reads forever (/dev/zero), and must fail instead."""
    return warm.run_cli(argv, env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT, timeout=timeout,
                        address_space=8 << 30)  # fmt: skip


@pytest.fixture(scope="module")
def five_steps(tmp_path_factory):
    """One 5-step run, copied by each test that damages it."""
    out = tmp_path_factory.mktemp("five_steps") / "run"
    train(out, steps=5)
    return out


@pytest.mark.skipif(not hasattr(os, "mkfifo") or not Path("/dev/zero").exists(), reason="needs FIFOs")
@pytest.mark.parametrize("kind", ["fifo", "devzero", "fifo-record"])
def test_special_checkpoint_files_are_refused_not_read(tmp_path, spec_file, five_steps, kind):
    out = tmp_path / "run"
    shutil.copytree(five_steps, out)
    record = ck.list_checkpoints(out / "checkpoints")[-1]
    data = record.with_suffix(".safetensors")
    if kind == "fifo":
        data.unlink()
        os.mkfifo(data)
    elif kind == "devzero":
        data.unlink()
        data.symlink_to("/dev/zero")
    else:
        record.unlink()
        os.mkfifo(record)
    what = "named pipe" if kind.startswith("fifo") else "character device"
    for argv in (["eval", str(spec_file), "--checkpoint", str(out)],
                 ["eval", str(spec_file), "--checkpoint", str(record)],
                 ["train", str(spec_file), "--out", str(out), "--resume", "--no-progress"]):
        rc, _, err = run_isolated(*argv)
        assert rc == 1, err
        assert what in err and "Traceback" not in err, err


def test_a_record_without_its_hash_is_refused(tmp_path, capsys):
    out = tmp_path / "run"
    train(out, steps=5)
    record = ck.list_checkpoints(out / "checkpoints")[-1]
    meta = json.loads(record.read_text())
    del meta["sha256"]
    record.write_text(json.dumps(meta))
    with pytest.raises(ck.CheckpointError, match="no sha256 .* cannot be verified"):
        ck.read(record)
    with pytest.raises(ck.CheckpointError, match="no intact checkpoint"):
        T.evaluate(model(), out)


# -- reruns, resumes and killed writes ----------------------------------------------------------

def test_an_empty_metrics_file_of_a_run_that_died_does_not_block_a_plain_rerun(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "metrics.jsonl").write_text("")  # died before its first record and checkpoint
    assert train(out).step == 10
    assert [r["step"] for r in eval_records(out)] == [10]
    (out / "metrics.jsonl").write_text('{"step": 1, "split": "train", "loss": 2.0}\n')
    with pytest.raises(T.TrainingError, match="holds an earlier run"):  # one with records is kept
        train(out)


def test_resuming_a_finished_run_adds_no_second_final_eval(tmp_path):
    out = tmp_path / "run"
    train(out)
    before = (out / "metrics.jsonl").read_text()
    for _ in range(2):
        r = train(out, resume=True)
        assert r.step == 10 and r.metrics
    assert (out / "metrics.jsonl").read_text() == before
    assert [r["step"] for r in eval_records(out)] == [10]


def test_temp_files_of_killed_writes_are_cleaned_by_the_next_run(tmp_path, capsys):
    out = tmp_path / "run"
    train(out, steps=5)
    ours = [out / "checkpoints" / ".step_00000010.safetensors.0badc0de.tmp",
            out / ".metrics.jsonl.12345678.tmp", out / "metrics.jsonl.new"]  # fmt: skip
    theirs = [out / ".notes.tmp", out / "checkpoints" / "mine.tmp", out / ".x.nothex12.tmp"]
    for p in ours + theirs:
        p.write_text("x")
    train(out, resume=True)
    assert [p for p in ours if p.exists()] == []
    assert all(p.read_text() == "x" for p in theirs)
    assert "left by a write that was killed" in capsys.readouterr().err


# -- non-finite data and parameters --------------------------------------------------------------

def test_predict_refuses_nonfinite_inputs_unless_allowed(tmp_path, spec_file, capsys):
    out = tmp_path / "run"
    train(out, steps=5)
    x = np.zeros((4, 64), np.float32)
    x[2, 7] = np.nan
    np.savez(tmp_path / "x.npz", x=x)
    with pytest.raises(T.InputError, match=r"'x' holds nan at example 2, position \[7\]"):
        T.predict(model(), out, tmp_path / "x.npz")
    rc, _, err = run_cli(["predict", str(spec_file), "--checkpoint", str(out), "--input",
                          str(tmp_path / "x.npz"), "-o", str(tmp_path / "p.npz")], capsys)  # fmt: skip
    assert rc == 1 and "example 2" in err and "--allow-nonfinite" in err
    assert not (tmp_path / "p.npz").exists()
    rc, _, _ = run_cli(["predict", str(spec_file), "--checkpoint", str(out), "--input",
                        str(tmp_path / "x.npz"), "-o", str(tmp_path / "p.npz"), "--allow-nonfinite"],
                       capsys)  # fmt: skip
    assert rc == 0
    y = np.load(tmp_path / "p.npz")["y"]
    assert np.isnan(y[2]).all() and np.isfinite(y[[0, 1, 3]]).all()


def with_nan_in(monkeypatch, split: str, field: str, index: tuple):
    import seqnet.data as data

    real = data.get_source

    class Poisoned:
        def __init__(self, source):
            self.source = source

        def load(self, which, *args, **kw):
            arrays = dict(self.source.load(which, *args, **kw))
            if which == split:
                a = np.array(arrays[field], dtype=np.float32)
                a[index] = np.nan
                arrays[field] = a
            return arrays

    monkeypatch.setattr(data, "get_source", lambda name: Poisoned(real(name)))


@pytest.mark.parametrize("split", ["train", "eval"])
def test_a_nan_in_the_data_is_named_not_reported_as_divergence(tmp_path, monkeypatch, split):
    with_nan_in(monkeypatch, split, "x", (13, 5))
    with pytest.raises(T.InputError, match=rf"\({split} split\): field 'x' holds nan at example 13, "
                                           r"position \[5\]") as e:  # fmt: skip
        train(tmp_path / "run")
    assert "learning rate" not in str(e.value)


def test_an_eval_split_with_nan_fails_evaluate(tmp_path, monkeypatch):
    out = tmp_path / "run"
    train(out, steps=5)
    with_nan_in(monkeypatch, "eval", "x", (0, 0))
    with pytest.raises(T.InputError, match="eval split"):
        T.evaluate(model(), out)


def test_a_checkpoint_of_nan_parameters_is_refused(tmp_path):
    out = tmp_path / "run"
    r = train(out, steps=5)
    _, tensors = ck.read(out)
    params = {k: np.array(v) for k, v in tensors.items()}
    params["params/h/w"][3, 1] = np.inf
    record = ck.list_checkpoints(out / "checkpoints")[-1]
    meta = json.loads(record.read_text())
    from safetensors.numpy import save as st_save

    data = st_save(params)
    record.with_suffix(".safetensors").write_bytes(data)  # consistent hash: only the values are bad
    import hashlib

    meta.update(sha256=hashlib.sha256(data).hexdigest(), bytes=len(data))
    record.write_text(json.dumps(meta))
    np.savez(tmp_path / "x.npz", x=np.zeros((2, 64), np.float32))
    for use in (lambda: T.evaluate(model(), record), lambda: T.predict(model(), record, tmp_path / "x.npz"),
                lambda: train(out, resume=True)):  # fmt: skip
        with pytest.raises(ck.CheckpointError, match=r"'params/h/w' holds inf at index \[3, 1\]"):
            use()
    assert r.step == 5
