"""Sharding rules in the train section: what `check` accepts, the plan they make for every
parameter (compiler/sharding.py), and the errors of rules that do not fit."""

import json
from pathlib import Path

import pytest

import seqnet
from seqnet.compiler import sharding

SPEC = """dim N = 8
input x : int32[N] vocab 2
block ff(x) {{
  up = dense(x, 64, act=relu)
  return dense(up, 32)
}}
e = embed(x, 32, vocab=16)
h = layernorm(e + attention(e, heads=4))
h = repeat 2 {{ ff(h) }}
output y : float32[2] = dense(mean(h), 2)
train {{
  data = task.parity(N)
  loss = cross_entropy(y, label)
  mesh = mesh({mesh})
  sharding = sharding({rules})
}}
"""


def load(rules: str, mesh: str = "data=2, model=4"):
    return seqnet.loads(SPEC.format(rules=rules, mesh=mesh))


def plan_of(model, devices=8):
    cfg = model.train_config
    sizes = sharding.resolve_mesh(cfg.mesh, devices)
    placements, problems = sharding.plan(model.graph, cfg.sharding, sizes)
    assert problems == []
    return {f"{n}.{p}": pl.spec for (n, p), pl in placements.items()}


def test_family_rules_split_the_named_role_and_node_rules_override_them():
    model = load(
        "dense=columns(model), embedding=vocab(model), attention=heads(model), "
        "nodes=nodes(y=replicated)"
    )
    specs = plan_of(model)
    assert specs["e.table"] == ("model", None)
    assert specs["attention.wq"] == (None, "model") and specs["attention.wo"] == ("model", None)
    assert specs["attention.bo"] == (None,)  # no heads axis: whole
    # block copies of `up` in both repeats, column-parallel, bias too
    ups = {k: v for k, v in specs.items() if k.endswith("up.w") or k.endswith("up.b")}
    assert len(ups) == 4 and all(v[-1] == "model" for v in ups.values()), ups
    assert specs["y.w"] == (None, None) and specs["y.b"] == (None,)
    assert all(v == (None,) for k, v in specs.items() if k.startswith("layernorm"))


def test_rows_split_the_input_axis_and_leave_the_bias_whole():
    specs = plan_of(load("dense=rows(model), nodes=nodes(y=replicated)"))
    assert all(v == ("model", None) for k, v in specs.items() if k.endswith("up.w"))
    assert all(v == (None,) for k, v in specs.items() if k.endswith("up.b"))


def test_fsdp_splits_the_largest_fitting_axis_of_large_parameters_only():
    specs = plan_of(load("fsdp=data, fsdp_min=512", mesh="data=-1"))
    assert specs["e.table"] == (None, "data")  # [16, 32]: the larger axis
    assert all(
        v == ("data", None) or v == (None, "data") for k, v in specs.items() if k.endswith("up.w")
    )
    assert specs["y.w"] == (None, None)  # 64 elements: under fsdp_min
    assert all(v == (None,) for k, v in specs.items() if k.endswith(".b"))


def test_fsdp_and_a_rule_share_a_parameter_on_two_mesh_axes():
    specs = plan_of(load("dense=columns(model), fsdp=data, fsdp_min=0, nodes=nodes(y=replicated)"))
    up = next(v for k, v in specs.items() if k.endswith("up.w"))
    assert up == ("data", "model")


def test_per_device_elements_fall_by_the_split_factor():
    model = load("fsdp=data, fsdp_min=0", mesh="data=-1")
    sizes = sharding.resolve_mesh(model.train_config.mesh, 8)
    placements, _ = sharding.plan(model.graph, model.train_config.sharding, sizes)
    table = placements[("e", "table")]
    assert table.per_device(sizes) == 16 * 32 // 8


def test_an_indivisible_split_is_a_located_error_naming_parameter_axis_and_mesh():
    text = SPEC.format(rules="dense=columns(model)", mesh="data=2, model=4")
    with pytest.raises(seqnet.SpecError) as e:
        seqnet.loads(text)
    out = e.value.render()
    line = text.splitlines().index("output y : float32[2] = dense(mean(h), 2)") + 1
    assert f":{line}:25: error[SQN0505]: parameter 'w' of 'y'" in out
    assert (
        "axis 'out' of size 2 does not divide over mesh axis 'model' (4 devices) of mesh(data=2, model=4)"
        in out
    )
    assert "nodes(y=replicated)" in out


def test_a_minus_one_axis_is_sized_when_the_run_starts():
    """check cannot know the device count: a split over a -1 axis is checked by the runtime."""
    model = load("dense=columns(model)", mesh="data=2, model=-1")
    sizes = sharding.resolve_mesh(model.train_config.mesh, 8)
    _, problems = sharding.plan(model.graph, model.train_config.sharding, sizes)
    assert [p.node for p in problems] == ["y"]


def test_no_sharding_setting_means_everything_replicated():
    model = seqnet.loads(
        SPEC.replace("  sharding = sharding({rules})\n", "").format(mesh="data=-1")
    )
    assert not model.train_config.sharding.active
    assert all(all(a is None for a in v) for v in plan_of(model).values())


MLP = """input x : float32[64]
h = dense(x, 32, act=relu)
output y : float32[10] = dense(h, 10)
train {
  data = digits(flat=true)
  loss = cross_entropy(y, label)
  batch = 32
  mesh = mesh(data=-1)
  sharding = sharding(fsdp=data, fsdp_min=0)
}
"""


def test_summary_shows_each_devices_share_under_the_mesh(tmp_path, capsys):
    from seqnet import cli
    from seqnet.compiler.summary import summarize

    spec = tmp_path / "mlp.seqnet"
    spec.write_text(MLP)
    assert cli.main(["summary", str(spec), "--devices", "8", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    memory = data["per_device"]["parts"]
    # h.w 2048/8, h.b 32/8, y.w 320/8; y.b [10] does not divide by 8 and stays whole
    assert memory["parameters"] == (256 + 4 + 40 + 10) * 4 == memory["gradients"]
    assert memory["adam state"] == 2 * memory["parameters"]
    per_example = summarize(seqnet.loads(MLP).graph)["activation_bytes_per_example"]
    assert memory["activations"] == per_example * (32 // 8) * 2
    splits = data["per_device"]["splits"]
    assert splits["h.w"] == ["data", None] and "y.b" not in splits
    assert cli.main(["summary", str(spec), "--devices", "8"]) == 0
    text = capsys.readouterr().out
    assert "per device (8 devices, mesh(data=8)): parameters 1.2KB" in text
    assert "w[data, -] b[data]" in text  # h's split, in the node table


def test_summary_devices_that_do_not_fit_the_mesh_are_a_usage_error(tmp_path, capsys):
    from seqnet import cli

    spec = tmp_path / "mlp.seqnet"
    spec.write_text(MLP.replace("mesh(data=-1)", "mesh(data=-1, model=4)"))
    assert cli.main(["summary", str(spec), "--devices", "2"]) == 2
    assert "--devices 2 does not fit mesh(data=-1, model=4) (4 devices)" in capsys.readouterr().err


def activations_of(rules: str) -> dict:
    model = load(rules)
    cfg = model.train_config
    sizes = sharding.resolve_mesh(cfg.mesh, 8)
    placements, _ = sharding.plan(model.graph, cfg.sharding, sizes)
    return sharding.activation_specs(model.graph, cfg.sharding, placements, cfg.data_axis)


def test_activations_split_where_a_rule_splits_the_axis_the_result_runs_along():
    """Column-parallel dense and an embedding split by embed leave their results split on the
    model axis; row-parallel dense, heads-split attention, vocab-split tables and fsdp imply no
    split of their results' features (the batch is on the data axis everywhere)."""
    cols = activations_of("dense=columns(model), embedding=embed(model), nodes=nodes(y=replicated)")
    ups = [k for k in cols if k.endswith("/up")]
    assert len(ups) == 2 and all(cols[k] == ("data", None, "model") for k in ups), cols
    assert cols["e"] == ("data", None, "model") and cols["y"] == ("data", None)
    assert cols["x"] == ("data", None) and cols["attention"] == ("data", None, None)
    for rules in ("dense=rows(model), embedding=vocab(model), attention=heads(model)", "fsdp=data"):
        specs = activations_of(rules)
        assert all(s[0] == "data" and set(s[1:]) == {None} for s in specs.values()), (rules, specs)


def test_family_and_node_rules_reach_scanned_cells_and_segment_structures():
    """The cell's dense layers (under the scan node) and a segment structure's roles (stacked
    over their copies, which stay whole) split like top-level ones; a misfit inside a region is
    located at that region's node."""
    from seqnet.compiler.train_config import ShardingConfig, ShardRule

    root = Path(__file__).resolve().parents[2] / "specs"
    columns = ShardRule(target="dense", axis="out", mesh_axis="model")
    sizes = {"data": 2, "model": 4}
    cell = seqnet.load(str(root / "custom_lstm_cell.seqnet"))
    config = ShardingConfig(rules=(columns,), nodes=(ShardRule(target="y"),))
    placements, problems = sharding.plan(cell.graph, config, sizes)
    assert problems == []
    assert placements[("h/cell/dense", "w")].spec == (None, "model")  # [16, 128], in the cell
    assert placements[("h/cell/dense_1", "b")].spec == ("model",)
    assert placements[("h/cell/dense_1", "w")].node == "h/cell/cell/dense_1"

    fen = seqnet.load(str(root / "fen_parity.seqnet"))
    config = ShardingConfig(rules=(columns,), nodes=(ShardRule(target="e", axis="in", mesh_axis="model"),))
    placements, problems = sharding.plan(fen.graph, config, sizes)
    h = placements[("y/decoder/decoder/h", "w")]
    assert h.spec == (None, None, "model") and h.shape[1:] == (96, 64) and h.shape[0] > 1, h
    assert placements[("y/fusion/fusion/e", "w")].spec == (None, "model", None)  # the node rule
    # the decoder's last dense has 2 columns: not a split over 4, reported at that node
    assert [p.node for p in problems] == ["y/decoder/decoder/dense"]
    assert sharding.node_span(fen.graph, problems[0].node) is not None
