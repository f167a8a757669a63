"""Multi-host training: two processes of two CPU devices each (JAX distributed over loopback,
gloo collectives) end with the same parameters as one process driving four devices."""

import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
from hang_guard import HANG_GUARD_S

ROOT = Path(__file__).resolve().parents[3]

SCRIPT = textwrap.dedent("""
    import os, sys
    import numpy as np
    processes, pid, devices, port, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
    os.environ["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    import jax
    if processes > 1:
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        jax.distributed.initialize(coordinator_address=f"127.0.0.1:{port}",
                                   num_processes=processes, process_id=pid)
    import seqnet
    from seqnet.backends.jax.train import train
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
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    out = tmp_path / tag
    out.mkdir()
    port = str(_free_port())
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SEQNET_JAX_CACHE": str(tmp_path / "cache")}
    procs = [
        subprocess.Popen([sys.executable, str(script), str(processes), str(i), str(devices), port, str(out)],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for i in range(processes)
    ]  # fmt: skip
    logs = [p.communicate(timeout=HANG_GUARD_S)[0] for p in procs]  # a peer that never connects
    for p, log in zip(procs, logs):
        assert p.returncode == 0, log[-3000:]
    return [dict(np.load(out / f"params{i}.npz")) for i in range(processes)]


def test_two_hosts_match_one_host(tmp_path):
    single = _run(tmp_path, 1, 4, "single")[0]
    multi = _run(tmp_path, 2, 2, "multi")
    assert multi[0].keys() == single.keys()
    for name, value in single.items():
        np.testing.assert_allclose(multi[0][name], value, rtol=1e-5, atol=1e-6, err_msg=name)
        np.testing.assert_array_equal(multi[0][name], multi[1][name])  # replicated on every host
