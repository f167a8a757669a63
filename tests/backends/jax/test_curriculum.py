"""`curriculum = lengths(start=, every=)`: stage s trains on the task at length
min(n, start * 2**s) for `every` steps, then full length; evaluation always at full length; a
resumed run draws the batches an unbroken one does."""

from __future__ import annotations

import numpy as np
import pytest

import seqnet
from seqnet.compiler.train_config import Curriculum
from seqnet.data.batches import curriculum_batches

SPEC = """input x : int32[8] vocab 2
output y : float32[2] = dense(mean(embed(x, 4), axis=0), 2)
train {{
  data = {data}
  loss = cross_entropy(y, label)
  batch = 16
  {curriculum}
}}
"""


def test_stage_lengths_double_from_start_up_to_n():
    c = Curriculum(start=2, every=10)
    assert c.lengths(16) == (2, 4, 8, 16) and Curriculum(start=3, every=1).lengths(8) == (3, 6, 8)
    assert [c.stage(s, 16) for s in (0, 9, 10, 29, 30, 10_000)] == [0, 0, 1, 2, 3, 3]
    assert Curriculum(start=2, every=0).lengths(16) == (16,)  # every = 0: no curriculum
    assert Curriculum(start=16, every=5).lengths(16) == (16,)


def test_curriculum_batches_follow_the_stages_and_resume_exactly():
    stages = [{"x": np.full((40, 1), s) * 100 + np.arange(40)[:, None]} for s in range(3)]
    run = [b["x"] for b in _take(curriculum_batches(stages, 3, 4, 0, 0), 11)]
    assert [int(x[0, 0]) // 100 for x in run] == [0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 2]
    for start in (2, 3, 7):  # a resumed run sees exactly the unbroken run's batches
        resumed = [b["x"] for b in _take(curriculum_batches(stages, 3, 4, 0, start), 11 - start)]
        for a, b in zip(run[start:], resumed, strict=True):
            np.testing.assert_array_equal(a, b)


def _take(stream, n):
    return [next(stream) for _ in range(n)]


def test_training_batches_are_short_then_full_and_eval_is_full():
    from seqnet.backends.jax.train import Runtime

    model = seqnet.loads(SPEC.format(data="task.parity(8)", curriculum="curriculum = lengths(start=2, every=3)"))
    rt = Runtime(model, model.train_config)
    arrays = rt.driver.train_data()
    stream = rt.driver.train_stream(arrays, 0)
    try:
        for step in range(12):
            x, label = (np.asarray(a) for a in (lambda b: (b["x"], b["label"]))(next(stream)))
            length = (2, 4, 8, 8)[step // 3]
            assert (x[:, length:] == 0).all(), step
            np.testing.assert_array_equal(label, x.sum(axis=1) % 2)
            if length < 8:
                assert x[:, :length].any()
        assert (x[:, 4:] != 0).any()  # the last stage is the full task
    finally:
        stream.close()
    assert (rt.load_split("eval", 64)["x"][:, 4:] != 0).any()


@pytest.mark.parametrize(
    "data,curriculum,code,message",
    [
        ("task.parity(8)", "curriculum = lengths(2, every=3)", "SQN0105", "lengths' arguments are named"),
        ("task.parity(8)", "curriculum = linear(start=2)", "SQN0502", "curriculum is written lengths("),
        ("task.parity(8)", "curriculum = lengths(begin=2)", "SQN0103", "lengths has no argument 'begin'"),
        ("task.parity(8)", "curriculum = lengths(start=0, every=3)", "SQN0108", "lengths' start must be"),
        ("task.parity(8)", "curriculum = lengths(start=9, every=3)", "SQN0108", "start=9 is longer than"),
        ("task.brackets(8)", "curriculum = lengths(start=2, every=3)", "SQN0502", "but brackets cannot"),
    ],
)
def test_curriculum_errors_are_located(data, curriculum, code, message):
    with pytest.raises(seqnet.SpecError) as e:
        seqnet.loads(SPEC.format(data=data, curriculum=curriculum))
    d = e.value.diagnostics[0]
    assert d.code == code and message in d.message, d.message
    assert d.span.line == 7  # the curriculum line


def test_every_zero_is_no_curriculum_even_where_one_could_not_run():
    cfg = seqnet.loads(SPEC.format(data="task.brackets(8)", curriculum="curriculum = lengths(every=0)")).train_config
    assert cfg.curriculum == Curriculum(start=2, every=0)


def test_a_mode_without_minibatches_refuses_a_curriculum():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[3] / "specs" / "ensemble_mask.seqnet").read_text()
    assert "train {\n" in text
    with pytest.raises(seqnet.SpecError) as e:
        seqnet.loads(text.replace("train {\n", "train {\n  curriculum = lengths(start=2, every=3)\n"))
    d = e.value.diagnostics[0]
    assert d.code == "SQN0502" and "mode = mask_merge does not train on minibatches" in d.message
