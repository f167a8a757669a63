"""The JAX training runtime: training, resume, failures, checkpoints, predict, multi-device."""

from __future__ import annotations

import json
import os
import re
import textwrap
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import warm
from hang_guard import HANG_GUARD_S

import seqnet
from seqnet.backends.jax import checkpoint as ck
from seqnet.backends.jax import memory
from seqnet.backends.jax import train as T

SPEC = """
input x : float32[64]
h = dense(x, {hidden}, act=relu)
output y : float32[10] = dense(h, 10)
train {{
  data = digits(flat=true)
  loss = cross_entropy(y, label)
  optimizer = adam(lr=1e-3)
  batch = 64
  steps = 300
  metrics = [accuracy(y, label)]
}}
"""


class StandInMLP:
    """The digits MLP by hand, without the graph lowering's extras (segment lowering, stats)."""

    def __init__(self, hidden: int = 128):
        self.hidden = hidden

    def init(self, key):
        k1, k2 = jax.random.split(key)
        h = self.hidden
        return {"h": {"w": jax.random.normal(k1, (64, h)) / 8.0, "b": jnp.zeros(h)},
                "y": {"w": jax.random.normal(k2, (h, 10)) / np.sqrt(h), "b": jnp.zeros(10)}}  # fmt: skip

    def apply(self, params, inputs, *, rng=None, train=False):
        h = jax.nn.relu(inputs["x"] @ params["h"]["w"] + params["h"]["b"])
        return {"y": h @ params["y"]["w"] + params["y"]["b"]}


def make_model(hidden: int = 128, standin: bool = False, **overrides):
    """The digits spec compiled, with its real lowering (or the hand-written stand-in, which has
    no segment lowering, when a test needs that)."""
    model = seqnet.loads(SPEC.format(hidden=hidden), name="digits.sqn", **overrides)
    if standin:
        model._lowered = StandInMLP(hidden)
    return model


def leaves_equal(a, b) -> bool:
    la, lb = jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)
    return len(la) == len(lb) and all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(la, lb, strict=True))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("digits")
    model = make_model()
    result = T.train(model, out=out, steps=150, progress=False)
    return model, result


def test_digits_mlp_learns(trained):
    model, r = trained
    assert r.step == 150
    assert r.metrics["accuracy"] > 0.85, r.metrics
    assert np.isfinite(r.metrics["loss"])
    assert r.steps_per_s > 0
    lines = [json.loads(s) for s in r.metrics_path.read_text().splitlines()]
    assert lines and all({"step", "split", "loss", "metrics", "time"} <= set(x) for x in lines)
    assert lines[-1]["split"] == "eval" and lines[-1]["step"] == 150
    assert any(x["split"] == "train" for x in lines)
    assert (r.out_dir / "curves.png").stat().st_size > 1000
    assert r.checkpoint is not None and r.checkpoint.name == "step_00000150.json"
    assert r.checkpoint.with_suffix(".safetensors").exists()
    # evaluate() from the checkpoint reproduces the final evaluation
    again = T.evaluate(model, r.out_dir)
    assert again["accuracy"] == pytest.approx(r.metrics["accuracy"], rel=1e-6, abs=1e-6)


def test_resume_is_bit_identical(tmp_path):
    model = make_model()
    straight = T.train(model, out=tmp_path / "a", steps=20, progress=False)
    T.train(model, out=tmp_path / "b", steps=10, progress=False)
    resumed = T.train(model, out=tmp_path / "b", steps=20, resume=True, progress=False)
    assert resumed.step == 20
    assert leaves_equal(straight.params, resumed.params)
    steps = [x["step"] for x in resumed.history if x["split"] == "train"]
    assert steps == sorted(steps) and steps[-1] == 20


def _snapshot(folder):
    return sorted((str(p.relative_to(folder)), p.read_bytes()) for p in folder.rglob("*") if p.is_file())


def test_bfloat16_compute_trains_float_inputs(tmp_path):
    """dtype=bfloat16: matmuls run in bfloat16, parameters and optimiser state stay float32."""
    model = make_model(dtype="bfloat16")
    rt = T.Runtime(model, T.resolve_config(model, 5, {}))
    params, _ = rt.init_state()
    x = jnp.zeros((2, 64), jnp.float32)
    jaxpr = str(jax.make_jaxpr(lambda p: rt.forward(p, {"x": x}, None, False))(params))
    dots = re.findall(r"(\w+)\[[\d,]*\] = dot_general", jaxpr)
    assert dots and set(dots) == {"bf16"}, dots
    r = T.train(model, out=tmp_path, steps=40, progress=False)
    assert all(leaf.dtype == jnp.float32 for leaf in jax.tree.leaves(r.params))
    losses = [x["loss"] for x in r.history if x["split"] == "train"]
    assert np.isfinite(losses).all() and losses[-1] < losses[0]
    assert r.metrics["accuracy"] > 0.5  # 40 steps of adam on digits, bfloat16 compute


def test_fresh_run_never_deletes_an_earlier_one(tmp_path):
    """Training into a folder that holds a run is refused (nothing touched) unless overwrite."""
    model = make_model()
    first = T.train(model, out=tmp_path / "run", steps=6, progress=False)
    before = _snapshot(tmp_path / "run")
    with pytest.raises(T.TrainingError, match=r"holds an earlier run \(checkpoints up to "
                       r"step_00000006.json, metrics.jsonl\); nothing was changed.*--resume.*--overwrite"):
        T.train(model, out=tmp_path / "run", steps=3, progress=False)
    assert _snapshot(tmp_path / "run") == before
    again = T.train(model, out=tmp_path / "run", steps=3, progress=False, overwrite=True)
    assert [p.name for p in ck.list_checkpoints(tmp_path / "run" / "checkpoints")] == ["step_00000003.json"]
    assert again.step == 3 and first.step == 6
    steps = [json.loads(line)["step"] for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert max(steps) == 3  # the old run's records are gone with it, not mixed in
    (tmp_path / "file").write_text("mine")
    with pytest.raises(T.TrainingError, match="is a file"):
        T.train(model, out=tmp_path / "file", steps=3, progress=False)
    assert (tmp_path / "file").read_text() == "mine"


def test_overwrite_keeps_the_old_run_until_the_new_one_checkpoints(tmp_path):
    model = make_model()
    T.train(model, out=tmp_path / "run", steps=6, progress=False)

    def fail_at_start(step, logs):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        T.train(model, out=tmp_path / "run", steps=3, progress=False, overwrite=True, callback=fail_at_start)
    assert [p.name for p in ck.list_checkpoints(tmp_path / "run" / "checkpoints")] == ["step_00000006.json"]
    resumed = T.train(model, out=tmp_path / "run", steps=8, progress=False, resume=True)
    assert resumed.step == 8 and resumed.start_step == 6


def test_overwrite_at_the_same_steps_keeps_the_new_run(tmp_path):
    """The new run's checkpoint at a step the old run also had is the new one, and survives."""
    old = T.train(make_model(), out=tmp_path / "run", steps=6, progress=False, checkpoint_every=2)
    new_model = make_model(hidden=32)  # another shape: the old checkpoint cannot pass for it
    new = T.train(new_model, out=tmp_path / "run", steps=6, progress=False, overwrite=True,
                  checkpoint_every=2, seed=1)  # fmt: skip
    names = [p.name for p in ck.list_checkpoints(tmp_path / "run" / "checkpoints")]
    assert names == ["step_00000002.json", "step_00000004.json", "step_00000006.json"]
    assert T.evaluate(new_model, tmp_path / "run") == pytest.approx(new.metrics, rel=1e-6, abs=1e-6)
    assert old.step == new.step == 6


def test_overwrite_of_a_longer_run_is_not_pruned_away(tmp_path):
    T.train(make_model(), out=tmp_path / "run", steps=10, progress=False, checkpoint_every=2)
    r = T.train(make_model(), out=tmp_path / "run", steps=3, progress=False, overwrite=True)
    assert [p.name for p in ck.list_checkpoints(tmp_path / "run" / "checkpoints")] == ["step_00000003.json"]
    assert r.checkpoint.name == "step_00000003.json"


def test_a_failed_overwrite_leaves_the_old_metrics_and_plot(tmp_path):
    model = make_model()
    T.train(model, out=tmp_path / "run", steps=6, progress=False)
    metrics = (tmp_path / "run" / "metrics.jsonl").read_bytes()
    curves = (tmp_path / "run" / "curves.png").read_bytes()

    def fail(step, logs):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        T.train(model, out=tmp_path / "run", steps=3, progress=False, overwrite=True, callback=fail)
    assert (tmp_path / "run" / "metrics.jsonl").read_bytes() == metrics
    assert (tmp_path / "run" / "curves.png").read_bytes() == curves
    assert not (tmp_path / "run" / "metrics.jsonl.new").exists()
    T.train(model, out=tmp_path / "run", steps=2, progress=False, overwrite=True)
    steps = [json.loads(line)["step"] for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert max(steps) == 2


def test_unwritable_checkpoint_folder_is_refused_before_training(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "checkpoints").write_text("a file where the folder goes")
    calls = []
    with pytest.raises(T.TrainingError, match="cannot write checkpoints to"):
        T.train(make_model(), out=tmp_path / "run", steps=3, progress=False,
                callback=lambda step, logs: calls.append(step))  # fmt: skip
    assert calls == []


def test_resume_skips_records_it_cannot_read(tmp_path):
    model = make_model()
    T.train(model, out=tmp_path / "run", steps=4, progress=False)
    log = tmp_path / "run" / "metrics.jsonl"
    log.write_text(log.read_text() + "5\n[1, 2]\n{\"step\": \"x\"}\n")
    r = T.train(model, out=tmp_path / "run", steps=6, progress=False, resume=True)
    assert r.step == 6
    assert all(isinstance(rec, dict) for rec in map(json.loads, log.read_text().splitlines()))


def test_interrupt_checkpoints_and_resumes_identically(tmp_path):
    model = make_model()
    settings = dict(steps=20, progress=False,
                    schedule={"name": "warmup_cosine", "args": {"warmup": 4, "end": 0.1}}, clip=1.0)  # fmt: skip
    straight = T.train(model, out=tmp_path / "a", **settings)

    def ctrl_c(step, logs):
        if step == 10:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        T.train(model, out=tmp_path / "b", callback=ctrl_c, **settings)
    records = ck.list_checkpoints(tmp_path / "b" / "checkpoints")
    assert [json.loads(p.read_text())["step"] for p in records] == [10]
    resumed = T.train(model, out=tmp_path / "b", resume=True, **settings)
    assert leaves_equal(straight.params, resumed.params)


def test_ctrl_c_during_setup_stops_cleanly_and_writes_nothing(tmp_path, monkeypatch, capsys):
    """The first Ctrl-C only sets a flag from the start of train(): setup stops at its next phase."""
    import signal

    model = make_model()
    real = T.Runtime.load_split
    handlers = []

    def load_and_press_ctrl_c(self, split, n=None):
        if not handlers:  # one press, while the training split loads
            handler = signal.getsignal(signal.SIGINT)
            handlers.append(handler)
            handler(signal.SIGINT, None)  # what the OS would call: must not raise the first time
        return real(self, split, n)

    monkeypatch.setattr(T.Runtime, "load_split", load_and_press_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        T.train(model, out=tmp_path / "run", steps=5, progress=False)
    assert handlers and handlers[0] is not signal.default_int_handler
    assert "interrupted after loading the data, before the first step: nothing was written" in capsys.readouterr().err
    assert ck.list_checkpoints(tmp_path / "run" / "checkpoints") == []
    assert signal.getsignal(signal.SIGINT) is not handlers[0]  # restored afterwards


def test_divergence_names_step_and_checkpoint(tmp_path):
    model = make_model()
    with pytest.raises(T.TrainingError) as e:
        T.train(model, out=tmp_path, steps=30, lr=1e30, checkpoint_every=1, progress=False)
    msg = str(e.value)
    assert "diverged at step" in msg and ("loss" in msg or "grad norm" in msg)
    step = int(msg.split("diverged at step ")[1].split(":")[0])
    assert step >= 1
    if step > 1:  # the checkpoint before the bad step: named only if it had not exploded yet
        _, tensors = ck.read(tmp_path / "checkpoints" / f"step_{step - 1:08d}.json")
        norm = np.sqrt(sum(np.sum(np.square(v.astype(np.float64))) for k, v in tensors.items()
                           if k.startswith("params")))  # fmt: skip
        if norm < 1e6:
            assert f"step_{step - 1:08d}.json" in msg
        else:  # lr=1e30: one step takes the parameters to ~1e30, finite but exploded (issue 13)
            assert f"step {step - 1}: its parameter norm" in msg and "passed over" in msg, msg
            assert f"step_{step - 1:08d}.json" not in msg
    else:
        assert "no checkpoint" in msg
    # and it points at the spec: which node's parameters or output first went non-finite
    assert "non-finite value comes out of" in msg or "are not finite" in msg, msg
    assert ":" in msg.split("(")[-1]  # a file:line:col location


def test_nonfinite_located_at_its_node():
    import jax
    import jax.numpy as jnp

    model = seqnet.loads(
        "input x : float32[4]\nh = dense(x, 4)\nz = h / dense(x, 4, bias=false)\n"
        "output y : float32[4] = dense(z, 4)\n"
    )
    lowered = model._jax()
    params = lowered.init(jax.random.key(0))
    assert lowered.first_nonfinite(params, {"x": jnp.ones((2, 4))}) is None
    where = lowered.first_nonfinite(params, {"x": jnp.zeros((2, 4))})  # 0 / 0 in z
    assert "'z'" in where and "<string>:3:5" in where, where
    params["h"]["w"] = params["h"]["w"].at[0, 0].set(jnp.nan)
    assert "parameters of 'h'" in lowered.first_nonfinite(params, {"x": jnp.ones((2, 4))})


def test_corrupt_truncated_and_mismatched_checkpoints_refused(tmp_path):
    model = make_model()
    r = T.train(model, out=tmp_path / "run", steps=3, progress=False)
    data = r.checkpoint.with_suffix(".safetensors")
    good = data.read_bytes()

    data.write_bytes(good[:-50])
    with pytest.raises(ck.CheckpointError, match="truncated"):
        T.evaluate(model, r.out_dir)
    bad = bytearray(good)
    bad[len(bad) // 2] ^= 0xFF
    data.write_bytes(bytes(bad))
    with pytest.raises(ck.CheckpointError, match="corrupt"):
        T.train(model, out=r.out_dir, steps=5, resume=True, progress=False)
    data.write_bytes(b"\x00" * 10)
    r.checkpoint.write_text(json.dumps({"format": 1, "step": 3}))  # a record without hashes
    with pytest.raises(ck.CheckpointError, match="cannot be verified"):
        T.evaluate(model, r.out_dir)
    import hashlib

    r.checkpoint.write_text(json.dumps({"format": 1, "step": 3, "bytes": 10,  # hashed garbage
                                        "sha256": hashlib.sha256(b"\x00" * 10).hexdigest()}))  # fmt: skip
    with pytest.raises(ck.CheckpointError, match="not a readable safetensors"):
        T.evaluate(model, r.out_dir)
    r.checkpoint.write_text("{not json")
    with pytest.raises(ck.CheckpointError, match="corrupt"):
        T.evaluate(model, r.out_dir)
    with pytest.raises(ck.CheckpointError, match="does not exist"):
        T.evaluate(model, tmp_path / "elsewhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ck.CheckpointError, match="no checkpoint"):
        T.evaluate(model, tmp_path / "empty")

    # another spec (other dims) is refused with the parameter that differs
    r2 = T.train(model, out=tmp_path / "run2", steps=2, progress=False)
    other = make_model(hidden=32)
    with pytest.raises(ck.CheckpointError, match="does not match this model"):
        T.evaluate(other, r2.out_dir)
    # another optimizer's state cannot resume
    with pytest.raises(ck.CheckpointError, match="optimizer"):
        T.train(model, out=r2.out_dir, steps=4, resume=True, progress=False,
                optimizer={"name": "sgd", "args": {"lr": 0.1}})  # fmt: skip


def test_a_damaged_newest_checkpoint_falls_back_to_the_one_before(tmp_path, capsys):
    model = make_model()
    straight = T.train(model, out=tmp_path / "a", steps=8, progress=False)
    r = T.train(model, out=tmp_path / "b", steps=6, progress=False, checkpoint_every=2)
    records = ck.list_checkpoints(r.out_dir / "checkpoints")
    assert [p.name for p in records] == ["step_00000002.json", "step_00000004.json", "step_00000006.json"]
    newest = records[-1].with_suffix(".safetensors")
    newest.write_bytes(newest.read_bytes()[:-10])
    capsys.readouterr()
    T.evaluate(model, r.out_dir)
    assert "skipped a damaged checkpoint" in capsys.readouterr().err
    resumed = T.train(model, out=r.out_dir, steps=8, resume=True, progress=False)
    assert resumed.start_step == 4 and resumed.step == 8
    assert "truncated" in capsys.readouterr().err
    assert leaves_equal(straight.params, resumed.params)  # steps 5-8 redone bit-identically
    meta, _ = ck.read(r.out_dir)  # the final step is this run's own, intact
    assert meta["step"] == 8 and not meta["skipped"]
    with pytest.raises(ck.CheckpointError, match="truncated"):  # asked for by name: no fallback
        T.evaluate(model, records[-1])


def test_orphaned_checkpoint_data_is_cleaned_up(tmp_path):
    model = make_model()
    r = T.train(model, out=tmp_path / "run", steps=2, progress=False)
    orphan = r.out_dir / "checkpoints" / "step_00000099.safetensors"  # a save killed mid-way
    orphan.write_bytes(b"partial")
    T.train(model, out=r.out_dir, steps=4, resume=True, progress=False)
    assert not orphan.exists()


def test_checkpoint_writes_are_atomic(tmp_path, monkeypatch):
    params = {"a": {"w": jnp.arange(6.0).reshape(2, 3)}}
    first = ck.save(tmp_path, 1, params, None, meta={"spec": "t"})
    before = first.with_suffix(".safetensors").read_bytes()

    # a writer failing mid-way leaves the old file and no temporary behind
    def half(f):
        f.write(b"partial")
        raise OSError("disk full")

    with pytest.raises(OSError):
        ck.atomic_write(first.with_suffix(".safetensors"), half)
    assert first.with_suffix(".safetensors").read_bytes() == before

    # a failure while saving step 2 (after its data file, before its record) leaves step 1 the latest
    real = ck.atomic_write_bytes
    def failing(path, data, within=None):
        if str(path).endswith("step_00000002.json"):
            raise OSError("killed")
        return real(path, data, within)

    monkeypatch.setattr(ck, "atomic_write_bytes", failing)
    with pytest.raises(OSError):
        ck.save(tmp_path, 2, {"a": {"w": params["a"]["w"] + 1}}, None, meta={"spec": "t"})
    monkeypatch.setattr(ck, "atomic_write_bytes", real)
    assert ck.list_checkpoints(tmp_path) == [first]
    _, tensors = ck.read(tmp_path)
    np.testing.assert_array_equal(tensors["params/a/w"], np.arange(6.0).reshape(2, 3))
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_predict_checks_inputs_and_writes_outputs(trained, tmp_path):
    model, r = trained
    x = np.random.default_rng(0).random((5, 64), dtype=np.float32)
    np.savez(tmp_path / "in.npz", x=x)
    outs = T.predict(model, r.out_dir, tmp_path / "in.npz", tmp_path / "out.npz")
    expect = model._jax().apply(r.params, {"x": jnp.asarray(x)}, rng=None, train=False)["y"]
    np.testing.assert_allclose(outs["y"], np.asarray(expect), atol=1e-6, rtol=1e-6)
    with np.load(tmp_path / "out.npz") as f:
        np.testing.assert_array_equal(f["y"], outs["y"])

    np.savez(tmp_path / "bad.npz", x=np.zeros((5, 63), np.float32))
    with pytest.raises(T.InputError, match=r"input 'x'.*expected.*64.*got.*63"):
        T.predict(model, r.out_dir, tmp_path / "bad.npz")
    np.savez(tmp_path / "int.npz", x=np.zeros((5, 64), np.int32))
    with pytest.raises(T.InputError, match=r"input 'x'.*dtype.*float32.*int32"):
        T.predict(model, r.out_dir, tmp_path / "int.npz")
    np.savez(tmp_path / "none.npz", z=x)
    with pytest.raises(T.InputError, match=r"input 'x' is missing"):
        T.predict(model, r.out_dir, tmp_path / "none.npz")


def test_token_ids_outside_the_vocabulary_are_refused():
    model = seqnet.loads("input x : int32[4] vocab 3\noutput y : float32[4, 2] = embed(x, 2)\n")
    ok = T.check_inputs(model, {"x": np.array([[0, 1, 2, 2]], np.int64)})
    assert ok["x"].dtype == np.int32
    bad = np.zeros((3, 4), np.int32)
    bad[2, 1] = 3
    with pytest.raises(T.InputError, match=r"token ids must lie in 0..2 .*example 2 holds 3 at position \(1,\)"):
        T.check_inputs(model, {"x": bad})
    with pytest.raises(T.InputError, match="example 0 holds -1"):
        T.check_inputs(model, {"x": -np.ones((1, 4), np.int32)})


def test_targets_a_loss_cannot_use_are_refused():
    from seqnet.compiler.types import TensorType

    logits = TensorType.of("float32", [3])
    T.check_targets("cross_entropy", logits, "label", np.array([0, 2, 1]), "d")  # fine
    T.check_targets("cross_entropy", logits, "label", np.eye(3)[[0, 2]], "d")  # soft labels: fine
    with pytest.raises(T.InputError, match=r"class indices 0..2 .*3 classes.*holds 17 at example 1"):
        T.check_targets("cross_entropy", logits, "label", np.array([0, 17, 1]), "d")
    with pytest.raises(T.InputError, match="holds -1 at example 0"):
        T.check_targets("accuracy", logits, "label", np.array([-1, 0]), "d")
    with pytest.raises(T.InputError, match=r"whole numbers.*example 1 holds 0.5"):
        T.check_targets("cross_entropy", logits, "label", np.array([1.0, 0.5]), "d")
    with pytest.raises(T.InputError, match=r"bce targets must lie in \[0, 1\].*2.0 at example 1"):
        T.check_targets("bce", TensorType.of("float32", [1]), "y", np.array([[0.0], [2.0]]), "d")
    T.check_targets("mse", logits, "y", np.array([[5.0, -3.0, 1e6]]), "d")  # any real target


def test_training_on_out_of_range_labels_says_so(tmp_path):
    x = np.random.default_rng(0).random((64, 64), dtype=np.float32)
    label = np.arange(64) % 10
    label[5] = 17
    np.savez(tmp_path / "d.npz", x=x, label=label)
    spec = SPEC.format(hidden=8).replace("digits(flat=true)", f'npz("{tmp_path / "d.npz"}")')
    (tmp_path / "s.seqnet").write_text(spec)
    model = seqnet.load(tmp_path / "s.seqnet")
    with pytest.raises(T.InputError, match="'label' holds 17 at example"):
        T.train(model, out=tmp_path / "run", steps=2, progress=False)


def test_predict_refuses_files_that_are_not_input_npz(trained, tmp_path):
    model, r = trained
    x = np.zeros((3, 64), np.float32)
    np.save(tmp_path / "x.npy", x)
    np.savez(tmp_path / "good.npz", x=x)
    (tmp_path / "trunc.npz").write_bytes((tmp_path / "good.npz").read_bytes()[:200])
    (tmp_path / "empty.npz").write_bytes(b"")
    (tmp_path / "text.npz").write_text("x = 1, 2, 3\n")
    np.savez(tmp_path / "zero.npz", x=np.zeros((0, 64), np.float32))
    cases = {"x.npy": "single array", "trunc.npz": "npz", "empty.npz": "not an .npz file",
             "text.npz": "not an .npz file", "zero.npz": "no examples", "missing.npz": "no such file"}
    for name, words in cases.items():
        with pytest.raises(T.InputError, match=words) as e:
            T.predict(model, r.out_dir, tmp_path / name)
        assert "pickle" not in str(e.value)


def test_memory_estimate_refuses(tmp_path, monkeypatch):
    model = make_model()
    monkeypatch.setattr(memory, "available_memory", lambda: 1000)
    with pytest.raises(T.MemoryEstimateError, match=r"needs about .*KiB \(parameters .*, gradients .*, "
                       r"adam state .*, activations .*\) but only 1000.0 B is available"):
        T.train(model, out=tmp_path, steps=1, progress=False)
    params = (64 * 128 + 128 + 128 * 10 + 10) * 4
    activations = (64 + 128 + 10) * 4 * 64 * 2  # x, h, y per example; batch 64; forward + backward
    assert T.memory_parts(model, model.train_config) == {
        "parameters": params, "gradients": params, "adam state": 2 * params, "activations": activations}
    assert T.estimate_memory(model, model.train_config) == 4 * params + activations


def test_local_mode_needs_segment_lowering(tmp_path):
    model = make_model(standin=True)
    with pytest.raises(T.TrainingError, match="local_loss_terms"):
        T.train(model, out=tmp_path, steps=1, mode="local", progress=False)


@pytest.mark.parametrize("settings,words", [
    ({"batch": 0}, "batch must be a positive integer, got 0"),
    ({"steps": -1}, "steps must be a non-negative integer, got -1"),
    ({"steps": 2.5}, "steps must be a non-negative integer, got 2.5"),
    ({"lr": -1}, "lr must be a positive number, got -1"),
    ({"dtype": "float16"}, "dtype must be float32 or bfloat16"),
    ({"clip": 0}, "clip must be a positive number"),
    ({"optimizer": {"name": "adam", "args": {"b1": 1.5}}}, "adam's b1 must be a number in"),
    ({"schedule": {"name": "warmup_cosine", "args": {"warmup": -5}}}, "warmup must be a whole number"),
    ({"resume": True, "overwrite": True}, "pick one"),
])
def test_python_train_settings_obey_the_spec_rules(tmp_path, settings, words):
    """model.train(...) checks its keyword settings as `--set` and the train section do."""
    with pytest.raises(T.TrainingError, match=re.escape(words)):
        T.train(make_model(), out=tmp_path / "run", progress=False, **settings)
    assert not (tmp_path / "run" / "checkpoints").exists() or not any((tmp_path / "run" / "checkpoints").iterdir())


def test_a_file_that_is_not_a_checkpoint_is_named_as_such(trained, tmp_path):
    model, r = trained
    with pytest.raises(ck.CheckpointError, match="is not a checkpoint: give a run folder"):
        T.evaluate(model, r.out_dir / "metrics.jsonl")


def test_unknown_setting_is_named(tmp_path):
    with pytest.raises(TypeError, match="unknown setting 'stpes'"):
        T.train(make_model(standin=True), out=tmp_path, stpes=3)


def test_four_devices_match_one(tmp_path):
    script = textwrap.dedent(f"""
        import sys, numpy as np, jax
        sys.path[:0] = [{str(Path(__file__).parent)!r}, {str(Path(__file__).parents[2])!r}]
        from test_train import make_model
        from seqnet.backends.jax import train as T
        assert len(jax.devices()) == 4, jax.devices()
        m = make_model()
        four = T.train(m, out={str(tmp_path / "four")!r}, steps=10, progress=False, mesh={{"data": 4}})
        one = T.train(m, out={str(tmp_path / "one")!r}, steps=10, progress=False, mesh={{"data": 1}})
        assert len(jax.tree_util.tree_leaves(four.params)[0].sharding.device_set) == 4
        diff = max(float(np.max(np.abs(np.asarray(a) - np.asarray(b)))) for a, b in
                   zip(jax.tree_util.tree_leaves(four.params), jax.tree_util.tree_leaves(one.params)))
        print("maxdiff", diff)
        assert diff < 1e-5, diff
    """)
    env = {**os.environ, "XLA_FLAGS": f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count=4", "JAX_PLATFORMS": "cpu",
           "PYTHONPATH": str(Path(seqnet.__file__).parent.parent)}  # fmt: skip
    path = tmp_path / "four_devices.py"  # run in a child forked from the warm server (tests/warm.py)
    path.write_text(script)
    rc, out, err = warm.run_script(path, [], env=env, cwd=tmp_path, timeout=HANG_GUARD_S)
    assert rc == 0, out + err
    assert "maxdiff" in out


def test_wormhole_convergence_is_logged_and_warned(tmp_path, capsys):
    text = """
input x : float32[64]
h1 = dense(x, 16, act=tanh)
h2 = dense(h1, 16, act=tanh)
wormhole h2 -> h1 gate=sigmoid gate_bias=2.0 tol=1e-5 max_iter={max_iter}
output y : float32[10] = dense(h2, 10)
train {{
  data = digits(flat=true)
  loss = cross_entropy(y, label)
  batch = 32
  steps = 4
}}
"""
    gate = "wormhole/wormhole_h2_to_h1"
    for max_iter, warned in ((2, True), (400, False)):
        out = tmp_path / str(max_iter)
        T.train(seqnet.loads(text.format(max_iter=max_iter)), out=out, progress=False)
        lines = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
        train_line = [x for x in lines if x["split"] == "train"][-1]
        logged = {**train_line, **train_line.get("metrics", {})}
        assert f"{gate}/iterations" in logged and f"{gate}/converged" in logged, logged
        assert (logged[f"{gate}/converged"] < 1.0) == warned
        captured = capsys.readouterr()
        assert ("did not converge" in captured.out + captured.err) == warned
