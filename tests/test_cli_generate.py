"""`seqnet generate SPEC --checkpoint RUN --prompt TEXT --steps N`: prints the prompt and its
continuation, the same for the same seed; a spec that cannot generate gets a located error."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_run import run

ROOT = Path(__file__).resolve().parent.parent
SPEC = str(ROOT / "specs" / "gru_text.seqnet")
SMALL = ["--set", "T=8", "--set", "H=16"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    import seqnet

    out = tmp_path_factory.mktemp("gen") / "run"
    seqnet.load(SPEC, T=8, H=16, steps=2, batch=4, eval_batches=1).train(out=out, progress=False)
    return out


def test_generate_prints_the_prompt_and_its_continuation(trained, capsys):
    argv = ["generate", SPEC, *SMALL, "--checkpoint", str(trained), "--prompt", "def ",
            "--steps", "20", "--temperature", "0.8", "--top-k", "5", "--seed", "2"]  # fmt: skip
    rc, out, err = run(argv, capsys)
    assert rc == 0, err
    assert out.startswith("def ") and len(out) == len("def ") + 20 + 1  # and the newline
    assert "uncached" not in err
    assert run(argv, capsys)[1] == out


def test_generate_from_a_spec_that_is_not_autoregressive(tmp_path, capsys, trained):
    spec = tmp_path / "cls.seqnet"
    spec.write_text("input x : float32[4, 2]\noutput y : float32[4, 3] = dense(x, 3)\n")
    rc, _, err = run(["generate", str(spec), "--checkpoint", str(trained), "--prompt", "a"], capsys)
    assert rc == 1
    assert "cls.seqnet:1:1: error[SQN0701]: generate feeds token ids int32[T] with a vocab" in err
    assert "hint: declare it as `input x : int32[T] vocab V`" in err


def test_generate_with_a_checkpoint_of_other_dims(trained, capsys):
    rc, _, err = run(["generate", SPEC, "--set", "T=8", "--checkpoint", str(trained),
                      "--prompt", "a"], capsys)  # fmt: skip
    assert rc == 1 and "does not match this model" in err


def test_generate_settings_are_checked(capsys):
    rc, _, err = run(["generate", SPEC, "--checkpoint", "x", "--prompt", "a", "--temperature",
                      "-1"], capsys)  # fmt: skip
    assert rc == 2 and "must be a finite number >= 0" in err
