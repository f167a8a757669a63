"""One spec over several tasks: `choose(KEY, name=value, ...)` sizes it per setting, and
`data = task(TASK, N)` names the data source by a value (issue 11: the claims measured wider)."""

from pathlib import Path

import pytest

import seqnet

SPECS = Path(__file__).resolve().parents[2] / "specs"
TASKS = {"parity": (2, 2), "sum_mod": (5, 5), "count_mod": (2, 5), "s5": (120, 120)}  # (V, C)


def _errors(text: str, **sets) -> list:
    with pytest.raises(seqnet.SpecError) as e:
        seqnet.loads(text, **sets)
    return e.value.diagnostics


@pytest.mark.parametrize("spec", ["fen_parity", "lstm_parity"])
@pytest.mark.parametrize("task", sorted(TASKS))
def test_one_spec_covers_the_four_tasks(spec, task):
    model = seqnet.load(SPECS / f"{spec}.seqnet", TASK=task, N=4)
    vocab, classes = TASKS[task]
    cfg = model.train_config
    assert cfg.data.name == task and cfg.data.args["n"] == 4
    assert model.graph.graph["dims"]["V"] == vocab and model.graph.graph["dims"]["C"] == classes
    assert model.outputs["y"].dims == (classes,) and model.inputs["x"].vocab == vocab


CHOICE = """const NORM = "none"
input x : float32[4]
h = choose(NORM, none=x, rms=rmsnorm(x, scale=false))
output y : float32[4] = h
"""


def test_choose_elaborates_only_the_chosen_value():
    ops = lambda m: sorted(op for _, op in m.graph.nodes(data="op"))  # noqa: E731
    assert "rmsnorm" not in ops(seqnet.loads(CHOICE))
    assert "rmsnorm" in ops(seqnet.loads(CHOICE, NORM="rms"))


@pytest.mark.parametrize(
    "line,message",
    [
        ('dim V = choose(K, a=1, b=2)', "choose has no choice 'c'; choices: a, b"),
        ("dim V = choose(2, a=1)", "choose's key must be a string, name or boolean, got the number 2"),
        ("dim V = choose(K)", "choose takes a key and named choices"),
        ("dim V = choose(K, c=1.5)", "dim V must be a positive integer, got the number 1.5"),
    ],
)
def test_choose_errors_are_located(line, message):
    text = f'const K = "c"\n{line}\ninput x : float32[V]\noutput y : float32[V] = x\n'
    errs = _errors(text)
    assert errs[0].message.startswith(message), errs[0].message
    assert errs[0].span.line == 2


TASK_SPEC = """const TASK = "parity"
input x : int32[4] vocab 2
output y : float32[2] = dense(mean(embed(x, 8), axis=0), 2)
train {{
  data = {data}
  loss = cross_entropy(y, label)
}}
"""


def test_task_named_by_a_value_binds_the_remaining_arguments():
    cfg = seqnet.loads(TASK_SPEC.format(data='task("count_mod", 4, k=2)')).train_config
    assert cfg.data.name == "count_mod" and cfg.data.args == {"n": 4, "k": 2}
    assert seqnet.loads(TASK_SPEC.format(data="data(TASK, 4)")).train_config.data.name == "parity"


def test_task_named_by_a_value_is_checked_like_a_written_one():
    errs = _errors(TASK_SPEC.format(data="task(TASK, 4)"), TASK="s5")  # vocab 120 into vocab 2
    assert errs[0].code == "SQN0503" and "vocab 120" in errs[0].message
    errs = _errors(TASK_SPEC.format(data="task(4)"))
    assert errs[0].code == "SQN0502" and "names its data source first" in errs[0].message
    errs = _errors(TASK_SPEC.format(data="task(TASK, 4, 2, 1)"))
    assert errs[0].code == "SQN0105" and errs[0].span.column == 27  # the "1" past parity's n and length


def test_fen_spec_normalises_its_encodings_by_const():
    """NORM = rms: the token and fusion encoders end in a parameter-free rmsnorm; none: they don't."""

    def region_ops(model):
        g = model.graph
        seg = next(n for n in g.nodes if g.nodes[n].get("regions"))
        regions = g.nodes[seg]["regions"]
        return {role: sorted(op for _, op in r.nodes(data="op")) for role, r in regions.items()}

    plain = region_ops(seqnet.load(SPECS / "fen_parity.seqnet", N=4))
    normed = region_ops(seqnet.load(SPECS / "fen_parity.seqnet", N=4, NORM="rms"))
    for role in ("token", "fusion"):
        assert "rmsnorm" not in plain[role] and normed[role].count("rmsnorm") == 1
    assert "rmsnorm" not in normed["decoder"]
