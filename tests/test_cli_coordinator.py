"""`seqnet train --coordinator`: a malformed address or process id is a usage error (exit 2) that
names the flag, before JAX is started (it used to surface as an IndexError from inside JAX)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_run import run

ROOT = Path(__file__).resolve().parents[1]
SPEC = "input x : float32[2, 1]\noutput y : float32[2, 1] = dense(x, 1)\ntrain {\n  data = task.sine(2)\n  loss = mse(y, target)\n}\n"


@pytest.mark.parametrize("address", ["notahost", "host:", ":1234", "host:port", "host:0", "host:70000", ""])
def test_a_malformed_coordinator_address_is_a_usage_error(address, tmp_path, capsys):
    spec = tmp_path / "m.seqnet"
    spec.write_text(SPEC)
    rc, _, err = run(["train", str(spec), "--coordinator", address, "--num-processes", "2",
                      "--process-id", "0"], capsys)  # fmt: skip
    assert rc == 2, err
    assert "--coordinator" in err and "HOST:PORT" in err, err


def test_a_process_id_outside_the_process_count_is_a_usage_error(tmp_path, capsys):
    spec = tmp_path / "m.seqnet"
    spec.write_text(SPEC)
    rc, _, err = run(["train", str(spec), "--coordinator", "localhost:1234", "--num-processes", "2",
                      "--process-id", "2"], capsys)  # fmt: skip
    assert rc == 2, err
    assert "--process-id 2" in err and "0 to 1" in err, err


def _seqnet(argv: list[str], env: dict):
    """`seqnet ARGV...` as a process of its own, forked from the suite's warm server (tests/warm.py:
    the imports done once; its JAX backend and distributed client are made after the fork)."""
    import warm

    return warm.start("warm", "_cli", [0, *argv], env=env, cwd=ROOT)


def _train_together(tmp_path, *extra_args):
    """`seqnet train --coordinator` as separate processes on 127.0.0.1, one per argument list;
    returns their (exit code, stderr). They stop at seqnet's handshake, before JAX starts."""
    import os
    import socket

    from tests.hang_guard import HANG_GUARD_S

    spec = tmp_path / "m.seqnet"
    spec.write_text(SPEC)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    procs = [_seqnet(["train", str(spec), "--out", str(tmp_path / f"run{i}"), "--coordinator", f"127.0.0.1:{port}",
                      "--num-processes", "2", "--join-timeout", "120", *args], env)
             for i, args in enumerate(extra_args)]  # fmt: skip
    errs = [p.communicate(timeout=HANG_GUARD_S)[1] for p in procs]
    return [(p.returncode, err) for p, err in zip(procs, errs)]


def test_two_processes_given_one_process_id_are_refused_naming_it(tmp_path):
    """Used to hang: JAX waited out its 300 s init timeout, then aborted in C++."""
    results = _train_together(tmp_path, ["--process-id", "0"], ["--process-id", "0"])
    for rc, err in results:
        assert rc == 1, err
        assert "two processes were given --process-id 0" in err and "Traceback" not in err, err
    assert not (tmp_path / "run0").exists() and not (tmp_path / "run1").exists()


def test_processes_with_different_settings_are_refused_naming_the_setting(tmp_path):
    results = _train_together(tmp_path, ["--process-id", "0", "--set", "lr=0.1"],
                              ["--process-id", "1", "--set", "lr=0.2"])  # fmt: skip
    for rc, err in results:
        assert rc == 1, err
        assert "optimizer.args.lr: 0.1 in process 0, 0.2 in process 1" in err, err


def _train_discovered(tmp_path, *extra_args):
    """`seqnet train --distributed` as separate processes whose cluster JAX discovers from SLURM's
    environment variables (the first node of the step, 127.0.0.1 here, is the coordinator)."""
    import os
    import socket

    from tests.hang_guard import HANG_GUARD_S

    spec = tmp_path / "m.seqnet"
    spec.write_text(SPEC.replace("loss = mse(y, target)", "loss = mse(y, target)\n  steps = 2"))
    import random

    for job in random.sample(range(4096), 4096):  # JAX takes the port 61440 + job % 4096; random,
        with socket.socket() as s:  # so that tests running at the same time pick different ones
            try:
                s.bind(("127.0.0.1", 61440 + job))
                break
            except OSError:
                continue
    procs = []
    for i, args in enumerate(extra_args):
        env = dict(os.environ, PYTHONPATH=str(ROOT), SLURM_JOB_ID=str(job), SLURM_NTASKS=str(len(extra_args)),
                   SLURM_STEP_NODELIST="127.0.0.1", SLURM_PROCID=str(i), SLURM_LOCALID=str(i))  # fmt: skip
        procs.append(_seqnet(["train", str(spec), "--out", str(tmp_path / f"run{i}"), "--distributed", "--no-progress",
                              *args], env))  # fmt: skip
    errs = [p.communicate(timeout=HANG_GUARD_S)[1] for p in procs]
    return [(p.returncode, err) for p, err in zip(procs, errs)]


def test_a_discovered_cluster_with_different_settings_is_refused_before_training(tmp_path):
    """--distributed has no handshake of seqnet's before JAX starts; the processes compare their
    settings over JAX's collectives right after it has, and every one of them stops."""
    results = _train_discovered(tmp_path, ["--set", "lr=0.1"], ["--set", "lr=0.2"])
    for rc, err in results:
        assert rc == 1, err
        assert "optimizer.args.lr: 0.1 in process 0, 0.2 in process 1" in err and "Traceback" not in err, err
    assert not (tmp_path / "run0" / "metrics.jsonl").exists()


def test_a_discovered_cluster_that_agrees_trains(tmp_path):
    results = _train_discovered(tmp_path, ["--set", "lr=0.1"], ["--set", "lr=0.1"])
    for rc, err in results:
        assert rc == 0, err
        assert "process" in err and "of 2" in err, err
    assert (tmp_path / "run0" / "metrics.jsonl").exists()
