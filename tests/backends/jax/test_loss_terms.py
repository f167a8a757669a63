"""Several loss terms in `train`: parsed into weighted terms, each checked by the objective rules,
and trained as their weighted sum with every term logged as its own metric."""

from __future__ import annotations

import json

import numpy as np
import pytest

import seqnet
from seqnet.pipeline import compile_source
from seqnet.source import SourceFile

SPEC = """
const w = 0.25
input x : float32[64]
h = dense(x, 16, act=relu)
output y = dense(h, 10)
output z = dense(h, 64)
train {{
  data = digits(flat=true)
  loss = {loss}
  steps = 3
  batch = 16
  eval_batches = 1
}}
"""


def _config(loss: str):
    graph, diags = compile_source(SourceFile("l.seqnet", SPEC.format(loss=loss)))
    assert graph is not None, "\n".join(d.render() for d in diags)
    return graph.graph["train"]


@pytest.mark.parametrize("loss, weights", [
    ("cross_entropy(y, label) + 0.1 * mse(z, x)", [1.0, 0.1]),
    ("cross_entropy(y, label) - mse(z, x) * 2", [1.0, -2.0]),
    ("w * cross_entropy(y, label) + l1(z, x) / 4 + -mse(z, x)", [0.25, 0.25, -1.0]),
    ("0.5 * (cross_entropy(y, label) + mse(z, x))", [0.5, 0.5]),
])  # fmt: skip
def test_terms_and_weights(loss, weights):
    config = _config(loss)
    assert [t.weight for t in config.terms] == pytest.approx(weights, rel=1e-12, abs=0)
    assert config.loss == config.terms[0]


def test_one_plain_term_is_the_config_it_always_was():
    config = _config("cross_entropy(y, label)")
    assert config.loss_terms == () and config.terms == (config.loss,) and config.loss.weight == 1.0


@pytest.mark.parametrize("loss, code, at", [
    ("cross_entropy(y, label) + 0.1", "SQN0502", "0.1"),  # a bare number is no term
    ("cross_entropy(y, label) + 0.1 * mse(q, x)", "SQN0502", "q"),  # q: no such output
    ("cross_entropy(y, label) + z * mse(z, x)", "SQN0502", "z *"),  # a tensor weight
    ("cross_entropy(y, label) + mse(z, label)", "SQN0504", "label)"),  # mse on class labels
])  # fmt: skip
def test_each_term_is_checked_where_it_is_written(loss, code, at):
    text = SPEC.format(loss=loss)
    graph, diags = compile_source(SourceFile("l.seqnet", text))
    errors = [d for d in diags if d.severity == "error"]
    assert graph is None and len(errors) == 1
    assert errors[0].code == code, errors[0].render()
    line = text.splitlines()[8]
    want = line.rindex(at) + 1  # the last occurrence: the term, not the first loss
    assert (errors[0].span.line, errors[0].span.column) == (9, want), errors[0].render()


def test_trains_the_weighted_sum_and_logs_each_term(tmp_path):
    model = seqnet.loads(SPEC.format(loss="cross_entropy(y, label) + 0.1 * mse(z, x)"), name="l.seqnet")
    result = model.train(tmp_path / "run")
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    for rec in records:
        if rec.get("loss") is None:
            continue
        m = rec["metrics"]
        total = m["loss/cross_entropy"] + 0.1 * m["loss/mse"]
        np.testing.assert_allclose(rec["loss"], total, rtol=1e-5, atol=1e-6)
    assert {"loss/cross_entropy", "loss/mse"} <= set(result.metrics)
