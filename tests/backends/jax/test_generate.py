"""Generation: cached (incremental rules) and uncached (the window re-run) give the same tokens
and logits; a seed fixes the output; specs that cannot generate are refused with a located
error, and specs with an op that has no incremental rule generate uncached, saying why."""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np
import pytest

import seqnet
from seqnet.backends.jax.generate import GenerateError, generate_ids, plan

ROOT = Path(__file__).resolve().parents[3]

TRANSFORMER = """\
dim T = 8
dim V = 11
dim E = 16
input x : int32[T] vocab V
h = positional(embed(x, E), kind="{kind}")
h = h + attention(layernorm(h), heads=2, causal=true)
h = h + dense(gelu(dense(rmsnorm(h), 32)), E)
output y : float32[T, V] = dense(layernorm(h), V)
"""

TIED = """\
dim T = 8
dim V = 11
dim E = 16
input x : int32[T] vocab V
emb = embed(x, E)
h = emb + param([T, E])
h = h + attention(layernorm(h), heads=4, causal=true)
output y : float32[T, V] = dense(layernorm(h), V, tie=emb)
"""

RECURRENT = """\
dim T = 6
dim V = 9
input x : int32[T] vocab V
h = {cell}(embed(x, 8), 12)
output y : float32[T, V] = dense(tanh(h), V, act="log_softmax")
""".replace(', act="log_softmax")', ")")


def _models():
    yield "gru_text", seqnet.load(ROOT / "specs" / "gru_text.seqnet", T=8, H=16)
    yield "gpt_char", seqnet.load(ROOT / "specs" / "gpt_char.seqnet", T=8, E=16, LAYERS=2)
    for kind in ("learned", "sinusoidal"):
        yield f"transformer_{kind}", seqnet.loads(TRANSFORMER.format(kind=kind))
    yield "transformer_tied", seqnet.loads(TIED)
    for cell in ("lstm", "rnn"):
        yield cell, seqnet.loads(RECURRENT.format(cell=cell))


MODELS = dict(_models())


@pytest.mark.parametrize("name", sorted(MODELS))
def test_cached_and_uncached_generation_agree(name):
    model = MODELS[name]
    params = model.init(jax.random.key(7))
    window = model.inputs["x"].dims[0]
    steps = 2 * window  # past the window: the context restarts, in both ways alike
    runs = [generate_ids(model, params, [1, 2, 3], steps, temperature=1.0, seed=5, cache=c,
                         keep_logits=True) for c in (True, False)]  # fmt: skip
    cached, uncached = runs
    assert cached.cached and not uncached.cached
    assert cached.new == uncached.new and len(cached.new) == steps
    for a, b in zip(cached.logits, uncached.logits, strict=True):
        np.testing.assert_allclose(a, b, atol=2e-5, rtol=1e-5)


def test_a_seed_fixes_the_output_and_sampling_settings_act():
    model = MODELS["transformer_learned"]
    params = model.init(jax.random.key(0))
    one = model.generate(params, [4, 5], 12, seed=3)
    assert one == model.generate(params, [4, 5], 12, seed=3)
    assert one[:2] == [4, 5] and len(one) == 14
    assert one != model.generate(params, [4, 5], 12, seed=4)
    greedy = model.generate(params, [4, 5], 12, temperature=0)
    assert greedy == model.generate(params, [4, 5], 12, top_k=1, seed=9)


def test_text_prompts_use_the_text_vocabulary():
    model = MODELS["gru_text"]
    params = model.init(jax.random.key(0))
    text = model.generate(params, "def ", 10, seed=1)
    assert text.startswith("def ") and len(text) == 14
    with pytest.raises(GenerateError, match="no train section; pass the prompt as token ids"):
        MODELS["lstm"].generate(MODELS["lstm"].init(jax.random.key(0)), "abc", 3)


def test_an_op_without_incremental_rule_generates_uncached_and_says_why():
    spec = TRANSFORMER.format(kind="learned").replace("causal=true", "causal=false")
    model = seqnet.loads(spec, name="enc.seqnet")
    _, _, program = plan(model)
    (refusal,) = program.refusals
    assert "(attention, enc.seqnet:6:" in str(refusal) and "not causal" in str(refusal)
    params = model.init(jax.random.key(0))
    out = generate_ids(model, params, [1], 4, seed=0)
    assert not out.cached and len(out.new) == 4
    with pytest.raises(GenerateError, match="cannot generate with a cache: 'a"):
        generate_ids(model, params, [1], 4, cache=True)


@pytest.mark.parametrize("spec, where, message", [
    ("input x : float32[4, 2]\noutput y : float32[4, 3] = dense(x, 3)",
     "<string>:1:1", "token ids int32[T] with a vocab, but input 'x' is float32[4, 2]"),
    ("input x : int32[4] vocab 5\noutput y : float32[5] = dense(mean(embed(x, 3), axis=0), 5)",
     "<string>:2:", "reads per-position logits float32[4, 5] (window 4, vocab 5), but output 'y'"),
    ("input x : int32[4] vocab 5\ninput z : int32[4] vocab 5\n"
     "output y : float32[4, 5] = dense(embed(x, 3) + embed(z, 3), 5)",
     "<string>:2:1", "one input of token ids; this spec has 2: x, z"),
])  # fmt: skip
def test_specs_that_cannot_generate_are_refused_where_they_say_so(spec, where, message):
    model = seqnet.loads(spec)
    with pytest.raises(seqnet.SpecError) as e:
        model.generate(model.init(jax.random.key(0)), [1], 3)
    text = e.value.render()
    assert f"{where}" in text and "error[SQN0701]" in text and message in text
    assert "hint:" in text


@pytest.mark.parametrize("kw, message", [
    ({"prompt": []}, "the prompt is empty"),
    ({"prompt": [99]}, "prompt token 99 is outside the input's vocab"),
    ({"top_k": 0}, "top_k must be a whole number from 1"),
    ({"temperature": -1.0}, "temperature must be a finite number >= 0"),
    ({"steps": -2}, "steps must be a whole number >= 0"),
])  # fmt: skip
def test_bad_settings_are_refused(kw, message):
    model = MODELS["lstm"]
    args = {"prompt": [1], "steps": 3, **kw}
    with pytest.raises(GenerateError, match=message):
        generate_ids(model, model.init(jax.random.key(0)), args.pop("prompt"), args.pop("steps"),
                     **args)  # fmt: skip
