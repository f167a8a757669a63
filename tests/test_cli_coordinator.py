"""`seqnet train --coordinator`: a malformed address or process id is a usage error (exit 2) that
names the flag, before JAX is started (it used to surface as an IndexError from inside JAX)."""

from __future__ import annotations

import pytest

from tests.cli_run import run

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
