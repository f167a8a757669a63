"""The train section's settings reach the TrainConfig, with errors for bad values."""

import pytest

import seqnet

BASE = """input x : int32[6] vocab 2
output y : float32[2] = dense(mean(embed(x, 8)), 2)
train {{
  data = task.parity(6)
  loss = cross_entropy(y, label)
  batch = 16
{extra}
}}
"""


def test_examples_and_decoder_free_settings_resolve():
    cfg = seqnet.loads(BASE.format(extra="  examples = 64\n  clip = 1.0")).train_config
    assert cfg.examples == 64 and cfg.clip == 1.0 and cfg.batch == 16


def test_examples_fewer_than_a_batch_is_an_error():
    with pytest.raises(seqnet.SpecError) as e:
        seqnet.loads(BASE.format(extra="  examples = 8"))
    assert "fewer than one batch" in e.value.render()


def test_examples_override_from_the_command_line():
    cfg = seqnet.loads(BASE.format(extra=""), examples=128).train_config
    assert cfg.examples == 128


def test_training_uses_exactly_the_requested_examples(tmp_path):
    from seqnet.backends.jax.train import Runtime

    model = seqnet.loads(BASE.format(extra="  examples = 48\n  steps = 2"))
    arrays = Runtime(model, model.train_config).load_split("train", model.train_config.examples)
    assert len(arrays["x"]) == 48
