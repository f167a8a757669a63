"""`seqnet sweep` without training: the grid, point ids, points files, run-folder states and the
results table (the runs themselves: tests/test_sweep_runs.py)."""

from __future__ import annotations

import json
import math

import pytest

from seqnet.sweep import report
from seqnet.sweep.points import Point, PointsError, grid, point_id, read_points, split_values
from seqnet.sweep.runs import FINISHED, FRESH, PARTIAL, STARTED, Run
from tests.cli_run import run as cli_run


def test_the_grid_is_every_combination_first_name_slowest():
    points = grid(["lr=1e-3,3e-4", "N=8,16,32"])
    assert [p.settings for p in points] == [
        {"lr": "1e-3", "N": "8"}, {"lr": "1e-3", "N": "16"}, {"lr": "1e-3", "N": "32"},
        {"lr": "3e-4", "N": "8"}, {"lr": "3e-4", "N": "16"}, {"lr": "3e-4", "N": "32"},
    ]  # fmt: skip
    assert [p.id for p in points][:2] == ["lr=1e-3_N=8", "lr=1e-3_N=16"]
    assert grid([]) == [Point({})] and Point({}).id == "default"


def test_a_quoted_value_keeps_its_comma():
    assert split_values("'a,b', c") == ["'a,b'", "c"]


@pytest.mark.parametrize("sets, says", [
    (["lr"], "NAME=VALUE"), (["lr=1,,2"], "empty value"), (["lr=1,1"], "listed twice"),
    (["lr=1", "lr=2"], "given twice"), (["9x=1"], "NAME=VALUE"),
])  # fmt: skip
def test_bad_set_lists_are_refused(sets, says):
    with pytest.raises(PointsError, match=says):
        grid(sets)


def test_ids_never_collide_and_are_folder_names():
    settings = [{"act": "gelu"}, {"act": "'gelu'"}, {"act": "a/b"}, {"act": "a-b"}, {"x": "1_y=2"},
                {"x": "1", "y": "2"}, {"act": "../up"}, {"n": "1" * 200}]  # fmt: skip
    ids = [point_id(s) for s in settings]
    assert len(set(ids)) == len(ids)
    assert all("/" not in i and not i.startswith(".") and len(i) < 100 for i in ids), ids
    assert ids[0] == "act=gelu" and ids[5] == "x=1_y=2"


def test_points_from_jsonl_and_json(tmp_path):
    jsonl = tmp_path / "p.jsonl"
    jsonl.write_text('{"lr": 0.001, "share": "none"}\n\n{"lr": 3e-4, "norm": true}\n')
    points = read_points(jsonl)
    assert [p.settings for p in points] == [{"lr": "0.001", "share": "none"}, {"lr": "0.0003", "norm": "true"}]
    assert [p.where for p in points] == [f"{jsonl}:1:1", f"{jsonl}:3:1"]
    js = tmp_path / "p.json"
    js.write_text('[\n  {"N": 8},\n  {"N": 16}\n]\n')
    assert [(p.settings, p.where) for p in read_points(js)] == [({"N": "8"}, f"{js}:2:3"), ({"N": "16"}, f"{js}:3:3")]


@pytest.mark.parametrize("text, says", [
    ('{"lr": 1}\n{"lr": [1, 2]}\n', ":2:1: lr must be a number, a string or true/false"),
    ('{"lr": 1}\n{"lr": 1}\n', ":2:1: the point lr=1 is listed more than once"),
    ('[{"lr": 1} {"lr": 2}]', ":1:12: expected ',' or ']'"),
    ('[{"lr": 1}', ":1:11: the list is not closed"),
    ('{"lr": 1} {"lr": 2}\n', ":1:11: one point a line"),
    ('{"lr": 1\n', ":2:1: not JSON"), ('[3]', ":1:2: a point is an object"), ("", "no points"),
    ('{"a b": 1}', "'a b' is not a setting name"),
])  # fmt: skip
def test_a_bad_points_file_is_located(tmp_path, text, says):
    path = tmp_path / "p.jsonl"
    path.write_text(text)
    with pytest.raises(PointsError) as e:
        read_points(path)
    assert says in str(e.value) and str(e.value).startswith(str(path))


def _write_run(folder, steps, evals=(), checkpoint=None, train=()):
    folder.mkdir(parents=True)
    recs = [{"step": s, "split": "train", "loss": v, "metrics": {"accuracy": a}} for s, v, a in train]
    recs += [{"step": s, "split": "eval", "loss": v, "metrics": {"accuracy": a}} for s, v, a in evals]
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs) + '{"step": 9, "spl')
    if checkpoint is not None:
        (folder / "checkpoints").mkdir()
        (folder / "checkpoints" / f"step_{checkpoint:08d}.json").write_text("{}")
    return Run(Point({"lr": "1"}), 0, 0, steps, folder)


def test_a_run_folder_says_how_far_its_run_got(tmp_path):
    done = _write_run(tmp_path / "a", 20, evals=[(10, 1.0, 0.5), (20, 0.5, 0.9)], checkpoint=20)
    half = _write_run(tmp_path / "b", 20, evals=[(10, 1.0, 0.5)], checkpoint=10)
    started = _write_run(tmp_path / "c", 20, train=[(1, 2.0, 0.1)])
    fresh = Run(Point({}), 0, 0, 20, tmp_path / "d")
    assert [r.state() for r in (done, half, started, fresh)] == [FINISHED, PARTIAL, STARTED, FRESH]
    assert [r.train_flags() for r in (done, half, started, fresh)] == [[], ["--resume"], ["--overwrite"], []]


def test_the_table_has_the_mean_and_sample_sd_over_seeds():
    recs = [{"point": "lr=1", "run": "lr=1/seed0", "status": "ok", "steps": 20, "wall_s": 2.0,
             "metrics": {"loss": 1.0, "accuracy": 0.5}},
            {"point": "lr=1", "run": "lr=1/seed1", "status": "ok", "steps": 20, "wall_s": 4.0,
             "metrics": {"loss": 2.0, "accuracy": 0.7}},
            {"point": "lr=1", "run": "lr=1/seed2", "status": "failed", "error": "boom", "metrics": {}},
            {"point": "lr=2", "run": "lr=2/seed0", "status": "ok", "steps": 20, "wall_s": 3.0,
             "metrics": {"loss": 0.25, "accuracy": 0.75}}]  # fmt: skip
    lines = report.table(recs).splitlines()
    assert "| point | seeds ok | steps | loss | accuracy | wall s |" in lines
    sd = math.sqrt(0.5)  # loss 1, 2: sample sd
    assert f"| `lr=1` | 2/3 | 20 | 1.5 ± {sd:.4g} | 0.6 ± {math.sqrt(0.02):.4g} | 3 ± {math.sqrt(2):.4g} |" in lines
    assert "| `lr=2` | 1/1 | 20 | 0.25 | 0.75 | 3 |" in lines
    assert "- `lr=1/seed2`: failed: boom" in lines


def test_curves_average_the_seeds_at_common_steps():
    h0 = [{"step": 1, "split": "train", "loss": 1.0, "metrics": {}}, {"step": 2, "split": "train", "loss": 3.0,
                                                                        "metrics": {}}]
    h1 = [{"step": 1, "split": "train", "loss": 2.0, "metrics": {}}, {"step": 2, "split": "eval", "loss": 9.0}]
    steps, means, sds = report.curves({"p": [h0, h1]})["p"]["loss"]
    assert steps == [1] and means == [1.5] and sds == pytest.approx([math.sqrt(0.5)], rel=1e-12, abs=0)


def test_sweep_usage_errors(capsys, tmp_path):
    spec = "specs/mlp_digits.seqnet"
    assert cli_run(["sweep", spec, "--out", str(tmp_path / "s"), "--set", "lr=1,,2"], capsys)[0] == 2
    rc, _, err = cli_run(["sweep", spec, "--out", str(tmp_path / "s"), "--set", "seed=1", "--seeds", "2"], capsys)
    assert rc == 2 and "--seeds" in err
    (tmp_path / "p.jsonl").write_text("{")
    rc, _, err = cli_run(["sweep", spec, "--out", str(tmp_path / "s"), "--points", str(tmp_path / "p.jsonl")], capsys)
    assert rc == 1 and f"{tmp_path / 'p.jsonl'}:1:2: not JSON" in err
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "results.jsonl").write_text("")
    rc, _, err = cli_run(["sweep", spec, "--out", str(tmp_path / "busy"), "--set", "lr=1"], capsys)
    assert rc == 1 and "holds an earlier sweep" in err and "--resume" in err


# The fresh process is started with a preexec_fn (its PR_SET_PDEATHSIG), so subprocess forks
# this test process, where another test may have started JAX's threads: JAX warns at any fork,
# though a fork that goes straight to exec is safe. A sweep's own process never starts JAX.
@pytest.mark.filterwarnings("ignore:os.fork\\(\\) was called:RuntimeWarning")
def test_a_run_that_cannot_be_forked_starts_as_a_fresh_process_and_says_so(tmp_path, monkeypatch):
    """The warm server failing (here: made to raise) must not fail the sweep: the run and the
    runs after it start as `python -m seqnet ...`, and the run's log says why."""
    import os
    import sys

    from seqnet.sweep.launch import Launcher

    def broken(*_):
        raise OSError("no forkserver here")

    launcher = Launcher(fork=True)
    monkeypatch.setattr(launcher, "_fork", broken)
    log = tmp_path / "run.log"
    proc = launcher.start(["fmt", "--help"], log, dict(os.environ))
    assert proc.wait(timeout=120) == 0
    text = log.read_text()
    assert text.startswith("seqnet sweep: could not fork this run from the warm process (no forkserver here); "
                           "starting it as a fresh process\n")  # fmt: skip
    assert "usage: seqnet fmt" in text and not launcher.fork
    assert launcher.command(["fmt"]) == [sys.executable, "-m", "seqnet", "fmt"]
