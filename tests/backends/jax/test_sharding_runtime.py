"""Sharded parameters and optimiser state on 8 host devices (one child process per test, with
forced host devices, forked from the warm server of tests/warm.py): tensor parallel (data=2 x
model=4) and fsdp=8 train like one device, hold a fraction of the state per device, and a
sharded run's checkpoint resumes on other meshes."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import warm
from hang_guard import HANG_GUARD_S

ROOT = Path(__file__).resolve().parents[3]

PRELUDE = textwrap.dedent('''
    import json, pathlib, shutil, sys
    import numpy as np, jax
    import seqnet
    from seqnet.backends.jax import checkpoint as ck
    from seqnet.backends.jax import train as T
    from seqnet.backends.jax.runtime import Runtime
    assert len(jax.devices()) == 8, jax.devices()
    SPEC = """dim N = 8
    input x : int32[N] vocab 2
    e = embed(x, 32, vocab=16)
    h = layernorm(e + attention(e, heads=4))
    h = dense(h, 64, act=relu)
    output y : float32[2] = dense(mean(h), 2)
    train {
      data = task.parity(N)
      loss = cross_entropy(y, label)
      optimizer = adam(lr=1e-2)
      batch = 16
      steps = 4
      eval_batches = 1
      mesh = mesh(%s)
      sharding = sharding(%s)
    }
    """
    TP = ("data=2, model=4", "dense=columns(model), embedding=vocab(model), attention=heads(model), "
          "nodes=nodes(y=replicated)")
    FSDP = ("data=8", "fsdp=data, fsdp_min=0")
    ONE = ("data=1", "")
    OUT = sys.argv[1]

    def model(mesh_rules):
        return seqnet.loads(SPEC % mesh_rules)

    def leaves(tree):
        return [np.asarray(v) for v in jax.tree_util.tree_leaves(tree)]
''')


ENV = {**os.environ, "XLA_FLAGS": f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count=8", "JAX_PLATFORMS": "cpu",
       "PYTHONPATH": str(ROOT)}  # fmt: skip


def run_script(body: str, tmp_path) -> str:
    """PRELUDE + body as `python SCRIPT TMP_PATH`, in a child forked from the suite's warm server
    (tests/warm.py: JAX imported, no backend made, so the child's 8 host devices are its own)."""
    script = tmp_path / "script.py"
    script.write_text(PRELUDE + textwrap.dedent(body))
    rc, out, err = warm.run_script(script, [str(tmp_path)], env=ENV, cwd=ROOT, timeout=HANG_GUARD_S)
    assert rc == 0, out + err
    return out


def test_tensor_parallel_and_fsdp_train_like_one_device_on_a_fraction_of_the_memory(tmp_path):
    out = run_script('''
        # model=-1 is sized now: 4 devices, and y's [64, 2] kernel cannot split its 2 columns
        bad = model(("data=2, model=-1", "dense=columns(model)"))
        try:
            Runtime(bad, bad.train_config)
        except T.TrainingError as e:
            assert "parameter 'w' of 'y'" in str(e) and "mesh(data=2, model=4)" in str(e), e
        else:
            raise AssertionError("an indivisible split on a -1 axis was not refused")
        runs, memory = {}, {}
        for name, spec in (("one", ONE), ("tp", TP), ("fsdp", FSDP)):
            m = model(spec)
            rt = Runtime(m, m.train_config)
            params, opt = rt.init_state()
            memory[name] = (None, rt.placements.per_device_bytes(params), rt.placements.per_device_bytes(opt))
            # every split leaf holds exactly its share on each device
            for leaf in jax.tree_util.tree_leaves((params, opt)):
                split = np.prod([rt.mesh.shape[a] for a in leaf.sharding.spec if a is not None] or [1])
                assert all(s.data.nbytes * split == leaf.nbytes for s in leaf.addressable_shards)
            state = (params, opt, jax.device_put(np.int32(0), rt.replicated))
            arrays = rt.load_split("train", 64)
            batches = [rt.put_batch({k: v[i * 16:(i + 1) * 16] for k, v in arrays.items()}) for i in range(4)]
            compiled = rt.train_step().lower(state, batches[0]).compile()
            if name == "tp":  # the activations split as the rules imply
                acts = rt.placements.activations
                # column-parallel h_1 leaves its features on model; the vocab-split embedding,
                # heads-split attention and the replicated y imply no split of their features
                assert acts["h_1"] == ("data", None, "model") and acts["e"] == ("data", None, None), acts
                assert acts["y"] == ("data", None), acts
                inputs = {k: batches[0][k] for k in rt.inputs}
                forward = jax.jit(lambda p, x: rt.forward(p, x, None, False)[0])
                lowered = forward.lower(params, inputs)
                assert lowered.as_text().count("sdy.sharding_constraint") == len(acts) - 1  # not x
                # the batch and h_1's features pinned, the other axes left open ({?})
                assert '[{"data"}, {?}, {"model"}]> : tensor<16x8x64xf32>' in lowered.as_text()
                # compiled: each device computes h_1 on its share, [16 / 2, 8, 64 / 4]
                assert any("f32[8,8,16]" in line and "h_1/dot_general" in line
                           for line in lowered.compile().as_text().splitlines())
                plain = jax.jit(lambda p, x: rt.lowered.apply(p, x))(params, inputs)
                np.testing.assert_allclose(forward(params, inputs)["y"], plain["y"], rtol=1e-6, atol=1e-6)
            memory[name] = (compiled.memory_analysis().argument_size_in_bytes, *memory[name][1:])
            step_losses = []
            for batch in batches:
                state, logs = compiled(state, batch)
                step_losses.append(float(logs["loss"]))
            runs[name] = (step_losses, state[0])
        one = runs["one"]
        for name in ("tp", "fsdp"):
            np.testing.assert_allclose(runs[name][0], one[0], rtol=1e-5, atol=1e-6)
            for a, b in zip(leaves(runs[name][1]), leaves(one[1]), strict=True):
                np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
        assert len(set(one[0])) == 4  # four steps that moved the loss
        total = sum(a.nbytes for a in leaves(one[1]))
        assert memory["one"][1] == total
        print("memory", memory)
        # fsdp=8 splits every parameter that 8 divides: all but y's bias [2]
        assert memory["fsdp"][1] == (total - 8) // 8 + 8, (memory["fsdp"], total)
        assert memory["one"][0] / memory["fsdp"][0] > 7.5  # the compiled step's arguments, per device
        assert memory["one"][0] / memory["tp"][0] > 3.0  # model=4 splits most; data=2 halves the batch
        assert memory["fsdp"][2] * 8 < memory["one"][2] * 1.01  # adam's mu and nu follow

        # the rules reach a scanned cell's dense layers and a segment structure's roles
        from seqnet.compiler.train_config import ShardingConfig, ShardRule
        columns = (ShardRule(target="dense", axis="out", mesh_axis="model"),)
        specs = pathlib.Path(seqnet.__file__).resolve().parents[1] / "specs"
        for spec, whole, split in (("custom_lstm_cell", "y", "h/cell/dense_1/w"),  # 2 columns: whole
                                   ("fen_parity", "dense", "y/decoder/decoder/h/w")):
            rules = ShardingConfig(rules=columns, nodes=(ShardRule(target=whole),))
            m = seqnet.load(str(specs / f"{spec}.seqnet"), N=4, batch=16, steps=2)
            placed = {}
            for mesh in ({"data": 2, "model": 4}, {"data": 1, "model": 1}):
                rt = Runtime(m, m.train_config.model_copy(update={"mesh": mesh, "sharding": rules}))
                params, opt = rt.init_state()
                arrays = rt.load_split("train", 16)
                batch = rt.put_batch(arrays)
                forward = jax.jit(lambda p, x: rt.forward(p, x, None, False)[0]["y"])
                placed[mesh["model"]] = (params, np.asarray(forward(params, {k: batch[k] for k in rt.inputs})))
            flat = {"/".join(str(k.key) for k in path): v for path, v in
                    jax.tree_util.tree_flatten_with_path(placed[4][0])[0]}
            w = flat[split]
            assert w.sharding.spec[-1] == "model", (split, w.sharding)
            assert {s.data.shape[-1] for s in w.addressable_shards} == {w.shape[-1] // 4}
            np.testing.assert_allclose(placed[4][1], placed[1][1], rtol=1e-5, atol=1e-6)
    ''', tmp_path)
    assert "memory" in out


def test_a_sharded_checkpoint_resumes_on_other_meshes(tmp_path):
    run_script('''
        full = T.train(model(FSDP), out=f"{OUT}/full", progress=False, checkpoint_every=2, keep=None)
        saved = f"{OUT}/full/checkpoints/step_00000002.json"
        record = json.loads(pathlib.Path(saved).read_text())  # one process: one file of its shards
        assert record["format"] == 2 and [s["file"] for s in record["shards"]] == ["step_00000002.p0.safetensors"]
        results = {}
        for devices in (8, 4, 1):
            folder = f"{OUT}/resume{devices}"
            shutil.copytree(f"{OUT}/full", folder)
            ck.remove(pathlib.Path(f"{folder}/checkpoints/step_00000004.json"))
            m = model(FSDP)
            rt = Runtime(m, m.train_config.model_copy(update={"mesh": {"data": devices}}))
            params, _, _ = rt.restore(saved)  # resharded on load: bit for bit what was saved
            assert {len(v.sharding.device_set) for v in jax.tree_util.tree_leaves(params)} == {devices}
            results[devices] = T.train(m, out=folder, resume=True, progress=False, mesh={"data": devices})
            assert results[devices].start_step == 2
        # same mesh: bit-identical to the uninterrupted run
        for a, b in zip(leaves(results[8].params), leaves(full.params), strict=True):
            np.testing.assert_array_equal(a, b)
        # other meshes: the batch sums split differently, equal within float32 rounding
        for devices in (4, 1):
            for a, b in zip(leaves(results[devices].params), leaves(full.params), strict=True):
                np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
        # predict and export from the sharded checkpoint: the parameters placed in shards (each
        # device an eighth of all but y's bias [2]), 13 examples in chunks of 8 (the last one
        # padded), only the outputs gathered; the same outputs as whole parameters on one device
        from seqnet.backends.jax.export import export, load_exported
        from seqnet.backends.jax.predict import placed_params, predict
        m = model(FSDP)
        placed, rt = placed_params(m, saved)
        total = sum(a.nbytes for a in leaves(placed))
        assert rt.placements.per_device_bytes(placed) == (total - 8) // 8 + 8
        x = np.random.default_rng(0).integers(0, 2, (13, 8)).astype(np.int32)
        np.savez(f"{OUT}/x.npz", x=x)
        got = predict(m, saved, f"{OUT}/x.npz", batch=4)["y"]
        want = np.asarray(m.jax_lowering().apply(m.load_checkpoint(saved), {"x": x})["y"])
        assert got.shape == (13, 2)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
        exported = load_exported(export(m, saved, f"{OUT}/export"))
        np.testing.assert_allclose(exported(x=x)["y"], want, rtol=1e-5, atol=1e-6)
        print("ok")
    ''', tmp_path)


def test_the_shipped_fsdp_spec_trains_on_8_devices_and_evaluates_on_1(tmp_path, capsys):
    """specs/transformer_fsdp.seqnet from the CLI: trained with fsdp over 8 host devices, its
    checkpoint (one file of shards, format 2) evaluated by this process on its one device."""
    from seqnet import cli

    spec = str(ROOT / "specs" / "transformer_fsdp.seqnet")
    sets = ["--set", "N=4", "--set", "LAYERS=1", "--set", "batch=16", "--set", "eval_batches=1"]
    run = tmp_path / "run"
    rc, out, err = warm.run_cli(["train", spec, *sets, "--set", "steps=3", "--out", str(run), "--no-progress"],
                                env=ENV, cwd=ROOT, timeout=HANG_GUARD_S)  # fmt: skip
    assert rc == 0, out + err
    record = json.loads((run / "checkpoints" / "step_00000003.json").read_text())
    assert record["format"] == 2 and len(record["shards"]) == 1
    capsys.readouterr()
    assert cli.main(["eval", spec, *sets, "--checkpoint", str(run)]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert 0.0 <= metrics["accuracy"] <= 1.0 and metrics["loss"] > 0
