"""examples/generate_text.py samples one character at a time and feeds it back."""

import importlib.util
from pathlib import Path

import jax

import seqnet

ROOT = Path(__file__).resolve().parent.parent


def _example():
    spec = importlib.util.spec_from_file_location("generate_text", ROOT / "examples" / "generate_text.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_sampling_extends_the_prompt_deterministically():
    gen = _example()
    model = seqnet.load(ROOT / "specs" / "gru_text.seqnet", T=8, H=16)
    params = model.init(jax.random.key(0))
    a = gen.sample(model, params, "def ", 12, temperature=1.0, seed=3)
    b = gen.sample(model, params, "def ", 12, temperature=1.0, seed=3)
    assert a == b and a.startswith("def ") and len(a) == 16
    greedy = gen.sample(model, params, "ab", 5, temperature=0.0, seed=0)
    assert len(greedy) == 7
