"""Multi-host training: two processes of two CPU devices each (JAX distributed over loopback,
gloo collectives) end with the same parameters as one process driving four devices."""

import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
from hang_guard import HANG_GUARD_S

ROOT = Path(__file__).resolve().parents[3]

# each process: its devices, then JAX distributed over loopback (the script's body follows)
HEADER = """
import os, sys
import numpy as np
processes, pid, devices, port, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
os.environ["XLA_FLAGS"] = os.environ.get("XLA_FLAGS", "") + f" --xla_force_host_platform_device_count={devices}"
import jax
if processes > 1:
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address=f"127.0.0.1:{port}",
                               num_processes=processes, process_id=pid)
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


def _launch(tmp_path: Path, text: str, processes: int, devices: int, tag: str, **env_vars) -> Path:
    """Run `text` as `processes` processes of `devices` CPU devices each; their output folder
    (tmp_path / tag, which may hold an earlier run)."""
    script = tmp_path / f"{tag}.py"
    script.write_text(text)
    out = tmp_path / tag
    out.mkdir(exist_ok=True)
    port = str(_free_port())
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SEQNET_JAX_CACHE": str(tmp_path / "cache"), **env_vars}
    procs = [
        subprocess.Popen([sys.executable, str(script), str(processes), str(i), str(devices), port, str(out)],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for i in range(processes)
    ]  # fmt: skip
    logs = [p.communicate(timeout=HANG_GUARD_S)[0] for p in procs]  # a peer that never connects
    for p, log in zip(procs, logs):
        assert p.returncode == 0, log[-3000:]
    return out


def test_two_hosts_match_one_host(tmp_path):
    single = _run(tmp_path, 1, 4, "single")[0]
    multi = _run(tmp_path, 2, 2, "multi")
    assert multi[0].keys() == single.keys()
    for name, value in single.items():
        np.testing.assert_allclose(multi[0][name], value, rtol=1e-5, atol=1e-6, err_msg=name)
        np.testing.assert_array_equal(multi[0][name], multi[1][name])  # replicated on every host


SHARDED = HEADER + textwrap.dedent("""
    model = seqnet.load(os.path.join(@ROOT@, "specs", "mlp_digits.seqnet"), steps=6, batch=32, H=32)
    resume = os.environ.get("SEQNET_TEST_RESUME") == "1"
    result = train(model, out=os.path.join(out, "run"), progress=False, checkpoint_every=3, keep=None,
                   sharding={"fsdp": "data", "fsdp_min": 0}, resume=resume)
    assert result.start_step == (3 if resume else 0), result.start_step
    whole = all(v.is_fully_addressable for v in jax.tree_util.tree_leaves(result.params))
    assert jax.device_count() == 4 and whole == (processes == 1)
""").replace("@ROOT@", repr(str(ROOT)))


def test_two_hosts_with_fsdp_each_write_their_shards_and_match_one_host(tmp_path):
    """fsdp over 4 devices on 2 processes: every process writes the pieces of the shards it holds
    (no element twice, none whole), process 0 commits them, and the state read back is the one
    process's (same arithmetic up to float32 rounding); two processes resuming from step 3 each
    restore their own shards and reach step 6 bit for bit."""
    from safetensors.numpy import load_file

    from seqnet.backends.jax import checkpoint as ck

    single = _launch(tmp_path, SHARDED, 1, 4, "fsdp_single") / "run" / "checkpoints"
    multi = _launch(tmp_path, SHARDED, 2, 2, "fsdp_multi") / "run" / "checkpoints"
    for step in (3, 6):
        record = json.loads((multi / f"step_{step:08d}.json").read_text())
        files = [s["file"] for s in record["shards"]]
        assert files == [f"step_{step:08d}.p0.safetensors", f"step_{step:08d}.p1.safetensors"]
        pieces = [load_file(multi / f) for f in files]
        w = "params/h/w"
        mine = [sum(v.size for k, v in p.items() if k.startswith(w + "@")) for p in pieces]
        assert mine == [64 * 32 // 2] * 2  # each process half of the [64, 32] kernel
        written = sum(v.size for p in pieces for v in p.values())
        assert written == sum(np.prod(a["shape"], dtype=int) for a in record["arrays"].values())
        _, got = ck.read(multi / f"step_{step:08d}.json")
        _, want = ck.read(single / f"step_{step:08d}.json")
        assert got.keys() == want.keys()
        for k in want:
            np.testing.assert_allclose(got[k], want[k], rtol=1e-5, atol=1e-6, err_msg=k)
    # every process restores its shards of the committed step 3 (as after a crash that lost
    # step 6) and trains on: step 6 again, bit for bit
    shutil.copytree(multi.parent.parent, tmp_path / "fsdp_resume")
    ck.remove(tmp_path / "fsdp_resume" / "run" / "checkpoints" / "step_00000006.json")
    resumed = _launch(tmp_path, SHARDED, 2, 2, "fsdp_resume", SEQNET_TEST_RESUME="1") / "run" / "checkpoints"
    _, again = ck.read(resumed / "step_00000006.json")
    _, first = ck.read(multi / "step_00000006.json")
    for k in first:
        np.testing.assert_array_equal(again[k], first[k], err_msg=k)
