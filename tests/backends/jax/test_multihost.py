"""Multi-host training over loopback (JAX distributed, gloo collectives): two processes of two
CPU devices each end with the same parameters as one process driving four devices; four
processes of one device with fsdp each write their own shards, match one process, survive the
kill -9 of one of them without a committed checkpoint of half-written shards, and resume.

Each process is forked from the warm server of tests/warm.py (JAX imported, no backend made):
its devices, collectives and distributed client are its own, set up after the fork. One
difference from a fresh interpreter: a forked child ends with os._exit, so JAX's own exit-time
shutdown of the distributed client does not run (a process that fails ends at once, as
`seqnet train` ends one that lost a peer through cluster.leave)."""

import json
import os
import socket
import textwrap
from pathlib import Path

import numpy as np
import warm
from hang_guard import HANG_GUARD_S

ROOT = Path(__file__).resolve().parents[3]

# each process: its devices, then JAX distributed over loopback (the script's body follows)
HEADER = """
import os, sys
import numpy as np
processes, pid, devices, port, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
os.environ["XLA_FLAGS"] = os.environ.get("XLA_FLAGS", "") + f" --xla_force_host_platform_device_count={devices}"
import jax
from seqnet.backends.jax import cluster
if processes > 1:
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    cluster.initialize(f"127.0.0.1:{port}", processes, pid, heartbeat_s=20)
import seqnet
from seqnet.backends.jax.train import train
"""

SCRIPT = HEADER + textwrap.dedent("""
    model = seqnet.load(os.path.join(@ROOT@, "specs", "mlp_digits.seqnet"), steps=8, batch=32, H=32)
    result = train(model, out=os.path.join(out, f"run{pid}"), progress=False)
    assert jax.device_count() == 4, jax.device_count()
    leaves = {"/".join(str(k) for k in path): np.asarray(v)
              for path, v in jax.tree_util.tree_flatten_with_path(result.params)[0]}
    np.savez(os.path.join(out, f"params{pid}.npz"), **leaves)
""").replace("@ROOT@", repr(str(ROOT)))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(tmp_path: Path, processes: int, devices: int, tag: str) -> list[dict]:
    out = _launch(tmp_path, SCRIPT, processes, devices, tag)
    return [dict(np.load(out / f"params{i}.npz")) for i in range(processes)]


def _launch(tmp_path: Path, text: str, processes: int, devices: int, tag: str, check: bool = True,
            **env_vars) -> Path:  # fmt: skip
    """Run `text` as `processes` processes of `devices` CPU devices each; their output folder
    (tmp_path / tag, which may hold an earlier run), with each one's output in log<i>.txt.
    check: every process must exit with 0."""
    script = tmp_path / f"{tag}.py"
    script.write_text(text)
    out = tmp_path / tag
    out.mkdir(exist_ok=True)
    port = str(_free_port())
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SEQNET_JAX_CACHE": str(tmp_path / "cache"), **env_vars}
    procs = [  # `python SCRIPT ...`, each forked from the warm server (tests/warm.py)
        warm.start("warm", "_script", [str(script), str(processes), str(i), str(devices), port, str(out)],
                   env=env, cwd=ROOT)
        for i in range(processes)
    ]  # fmt: skip
    logs = ["".join(p.communicate(timeout=HANG_GUARD_S)) for p in procs]  # a peer that never connects
    for p, log in zip(procs, logs):
        (out / f"log{procs.index(p)}.txt").write_text(log)
        assert p.returncode == 0 or not check, log[-3000:]
    return out


def test_two_hosts_match_one_host(tmp_path):
    single = _run(tmp_path, 1, 4, "single")[0]
    multi = _run(tmp_path, 2, 2, "multi")
    assert multi[0].keys() == single.keys()
    for name, value in single.items():
        np.testing.assert_allclose(multi[0][name], value, rtol=1e-5, atol=1e-6, err_msg=name)
        np.testing.assert_array_equal(multi[0][name], multi[1][name])  # replicated on every host


# small and quick: data made on the fly, one eval batch; fsdp splits every parameter 4 divides
FSDP_SPEC = """input x : int32[8] vocab 2
h = dense(mean(embed(x, 16, vocab=2)), 32, act=relu)
output y : float32[2] = dense(h, 2)
train {
  data = task.parity(8)
  loss = cross_entropy(y, label)
  optimizer = adam(lr=1e-2)
  batch = 16
  steps = 8
  eval_batches = 1
  checkpoint_every = 3
  mesh = mesh(data=-1)
  sharding = sharding(fsdp=data, fsdp_min=0)
}
"""

SHARDED = HEADER + textwrap.dedent("""
    from pathlib import Path
    from seqnet.backends.jax import checkpoint as ck
    model, out = seqnet.loads(@SPEC@), os.path.join(out, "run")
    if os.environ.get("SEQNET_TEST_RESUME") == "1":
        result = train(model, out=out, resume=True, progress=False, keep=None)
        whole = all(v.is_fully_addressable for v in jax.tree_util.tree_leaves(result.params))
        assert result.start_step == 3 and jax.device_count() == processes and not whole
        sys.exit(0)
    if pid == processes - 1:  # the last process dies half way through writing its shards of step 6
        def torn(path, data, within=None):
            if Path(path).name.startswith("step_00000006.p"):
                Path(path).write_bytes(data[: len(data) // 2])
                os.kill(os.getpid(), 9)
            return write(path, data, within)
        write, ck.atomic_write_bytes = ck.atomic_write_bytes, torn
    try:
        train(model, out=out, progress=False, keep=None)
    except cluster.PeerLost as e:
        print(f"seqnet: error: {e}", flush=True)
        cluster.leave(1)
    raise AssertionError("the run went on without its last process")
""").replace("@SPEC@", repr(FSDP_SPEC))


def test_four_processes_with_fsdp_resume_after_a_kill_each_writing_its_shards_like_one_process(tmp_path):
    """fsdp over 4 processes of one device. The last process is killed (kill -9) half way through
    writing its shards of step 6: the others stop with a clear error, no hang, and step 6 is no
    checkpoint. All four resume from step 3: each restores and writes only its own shards (no
    element twice), step 6 comes out bit for bit as the killed run had computed it, and step 8
    is one process's state up to float32 rounding."""
    from safetensors.numpy import load_file

    from seqnet.backends.jax import checkpoint as ck

    n = 4
    folder = _launch(tmp_path, SHARDED, n, 1, "fsdp", check=False)
    logs = [(folder / f"log{i}.txt").read_text() for i in range(n)]
    ckpts = folder / "run" / "checkpoints"
    # process 0, host of the coordination service, says what happened and how to go on; the
    # others say the same, unless JAX's client ends them first for the coordinator gone
    assert "lost contact with the others at step 6" in logs[0], logs[0][-3000:]
    assert f"last committed checkpoint: {ckpts / 'step_00000003.json'}" in logs[0], logs[0][-3000:]
    assert "Traceback" not in logs[0], logs[0][-3000:]
    for log in logs[1 : n - 1]:
        assert "lost contact with the others" in log or "distributed service detected fatal errors" in log, log[-3000:]
    assert (ckpts / "step_00000006.p3.safetensors").exists()  # torn, and no record commits it
    assert [p.name for p in ck.list_checkpoints(ckpts)] == ["step_00000003.json"]
    killed = [load_file(ckpts / f"step_00000006.p{i}.safetensors") for i in range(n - 1)]

    _launch(tmp_path, SHARDED, n, 1, "fsdp", SEQNET_TEST_RESUME="1")
    for step in (3, 6, 8):
        record = json.loads((ckpts / f"step_{step:08d}.json").read_text())
        files = [s["file"] for s in record["shards"]]
        assert files == [f"step_{step:08d}.p{i}.safetensors" for i in range(n)]
        pieces = [load_file(ckpts / f) for f in files]
        mine = [sum(v.size for k, v in p.items() if k.startswith("params/h/w@")) for p in pieces]
        assert mine == [16 * 32 // n] * n  # each process a quarter of the [16, 32] kernel
        written = sum(v.size for p in pieces for v in p.values())
        assert written == sum(np.prod(a["shape"], dtype=int) for a in record["arrays"].values())
        if step == 6:  # what the killed run's survivors had written: the same bits
            for before, after in zip(killed, pieces):
                assert before.keys() == after.keys()
                for k in before:
                    np.testing.assert_array_equal(after[k], before[k], err_msg=k)

    # one process, one device: the same state up to float32 rounding
    import seqnet
    from seqnet.backends.jax.train import train

    one = train(seqnet.loads(FSDP_SPEC), out=tmp_path / "one", progress=False, mesh={"data": 1})
    _, want = ck.read(one.checkpoint)
    _, got = ck.read(ckpts / "step_00000008.json")
    assert got.keys() == want.keys()
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-5, atol=1e-6, err_msg=k)


def test_a_failed_collective_of_a_multi_process_run_is_a_lost_peer(monkeypatch):
    """What the loop turns into PeerLost: in a run of several processes, a JaxRuntimeError or an
    error that reads like a failed collective (jit dispatch re-raises some as ValueError); not
    seqnet's own errors, nor anything in a run of one process."""
    import jax
    import pytest

    from seqnet.backends.jax import cluster
    from seqnet.backends.jax.failures import TrainingError

    gloo = ValueError("UNKNOWN: Gloo AllGather failed: [pair.cc:538] Read error: Connection reset by peer")
    cluster.check_peers(gloo, "at step 6")  # one process: not about peers
    monkeypatch.setattr(jax, "process_count", lambda: 4)
    monkeypatch.setattr(jax, "process_index", lambda: 2)
    with pytest.raises(cluster.PeerLost, match=r"process 2 of 4 lost contact with the others at step 6 "
                       r"\(UNKNOWN: Gloo AllGather failed.*--resume"):  # fmt: skip
        cluster.check_peers(gloo, "at step 6")
    cluster.check_peers(ValueError("operands could not be broadcast together"), "at step 6")
    cluster.check_peers(TrainingError("loss is NaN at step 6 (UNAVAILABLE in the data?)"), "at step 6")


def test_the_cli_reports_a_lost_peer_and_leaves_at_once(tmp_path, monkeypatch, capsys):
    """`seqnet train` prints the PeerLost line and exits through cluster.leave (not through
    jax.distributed's shutdown barrier, which would wait for the dead process)."""
    import pytest

    from seqnet import cli
    from seqnet.backends.jax import cluster
    from seqnet.backends.jax import train as train_module

    def lost(*args, **kwargs):
        raise cluster.PeerLost("process 0 of 2 lost contact with the others at step 3")

    def leave(code):
        raise SystemExit(code)

    monkeypatch.setattr(train_module, "train", lost)
    monkeypatch.setattr(cluster, "leave", leave)
    spec = tmp_path / "m.seqnet"
    spec.write_text(FSDP_SPEC)
    with pytest.raises(SystemExit) as e:
        cli.main(["train", str(spec), "--out", str(tmp_path / "run")])
    assert e.value.code == cli.EXIT_SPEC
    assert "seqnet: error: process 0 of 2 lost contact with the others at step 3" in capsys.readouterr().err
