"""Autoregressive generation: `model.generate` and `seqnet generate`.

A spec generates when its one input is token ids, int[T] with a vocab V, and an output holds
per-position logits, float[T, V] (`autoregressive` checks this first and points at what does
not fit). Generation feeds the prompt, then draws one token at a time from the logits at the
newest position and feeds it back.

The context is what the model sees: up to T tokens at positions 0..n-1 (a causal model reads
nothing to the right of n-1). When a new token does not fit, the context restarts from its
newest T//2 tokens (at least one), so it never needs more positions than training had. Cached
and uncached generation see the same contexts, so they give the same tokens:

* cached (`incremental.StepProgram`): each new token costs one step of every layer (a
  recurrent state, a KV cache); a restart refills the cache from its T//2 tokens.
* uncached: every new token re-runs the whole window (the context padded to T). Used when a
  node of the spec has no incremental rule (or refuses its configuration), and reported.

Sampling: logits / temperature, restricted to the top_k largest when given (temperature 0:
the most likely token); the i-th draw uses fold_in(key(seed), i), so a seed fixes the output.
"""

from __future__ import annotations

import functools
import weakref
from dataclasses import dataclass, field

import numpy as np

from seqnet.errors import Diagnostic, SpecError, UserError


class GenerateError(UserError):
    """Generation was asked for something it cannot do (a bad setting, an empty prompt)."""


@dataclass
class Generation:
    ids: list[int]  # the prompt's and the generated tokens
    new: list[int]  # the generated tokens
    cached: bool
    refusals: list = field(default_factory=list)  # why not cached (incremental.Refusal)
    logits: list = field(default_factory=list)  # per new token, when asked for


def _refuse(message: str, span, hint: str) -> SpecError:
    return SpecError([Diagnostic("SQN0701", message, span, hint=hint)])


def autoregressive(model) -> tuple[str, str]:
    """(input name, output name) of a spec that can generate; else a located SpecError."""
    from seqnet.compiler.ir import node as ir_node

    g = model.graph
    inputs = list(g.graph["inputs"])
    if len(inputs) != 1:
        span = ir_node(g, inputs[1]).span if len(inputs) > 1 else None
        raise _refuse(f"generate feeds one input of token ids; this spec has {len(inputs)}: "
                      f"{', '.join(inputs) or 'none'}", span,
                      "an autoregressive spec reads `input x : int32[T] vocab V` alone")  # fmt: skip
    name = inputs[0]
    t = model.inputs[name]
    if t.is_float or t.rank != 1 or not t.vocab:
        raise _refuse(f"generate feeds token ids int32[T] with a vocab, but input '{name}' "
                      f"is {t.resolved()}", ir_node(g, name).span,
                      f"declare it as `input {name} : int32[T] vocab V`")  # fmt: skip
    length, vocab = t.dims[0], t.vocab
    outputs = model.outputs
    fits = [k for k, o in outputs.items() if o.is_float and o.dims == (length, vocab)]
    if not fits:
        first = next(iter(outputs))
        raise _refuse(f"generate reads per-position logits float32[{length}, {vocab}] "
                      f"(window {length}, vocab {vocab}), but output '{first}' is "
                      f"{outputs[first].resolved()}", g.graph["output_spans"].get(first),
                      "an autoregressive spec gives logits over the vocab at every position, "
                      f"e.g. `output y : float32[{length}, {vocab}] = dense(h, {vocab})`")  # fmt: skip
    return name, fits[0]


@functools.lru_cache(maxsize=32)
def _sampler(temperature: float, top_k: int | None):
    """pick(logits, seed, i): the i-th token drawn; jitted once per setting."""
    import jax
    import jax.numpy as jnp

    @jax.jit
    def pick(logits, seed, i):
        logits = logits.astype(jnp.float32)
        if temperature == 0:
            return jnp.argmax(logits).astype(jnp.int32)
        scaled = logits / temperature
        if top_k is not None:
            kth = jax.lax.top_k(scaled, top_k)[0][-1]
            scaled = jnp.where(scaled < kth, -jnp.inf, scaled)
        key = jax.random.fold_in(jax.random.key(seed), i)
        return jax.random.categorical(key, scaled).astype(jnp.int32)

    return pick


# the decoders of each lowered model, kept so that their jitted functions compile once
_DECODERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _decoder(model, program, input_name: str, output_name: str, cached: bool):
    lowered = model.jax_lowering()
    kept = _DECODERS.setdefault(lowered, {})
    key = (cached, output_name)
    if key not in kept:
        length = model.inputs[input_name].dims[0]
        kept[key] = (_Cached(program, output_name, length) if cached
                     else _Window(lowered, input_name, output_name, length))  # fmt: skip
    return kept[key]


class _Window:
    """Uncached: the whole window re-run for every new token."""

    def __init__(self, lowered, input_name, output_name, length):
        import jax

        self.length = length

        @jax.jit
        def run(params, window, n):
            out = lowered.apply(params, {input_name: window[None]})[output_name][0]
            return jax.lax.dynamic_index_in_dim(out, n - 1, axis=0, keepdims=False)

        self._run = run
        self.context: list[int] = []

    def restart(self, params, context):
        self.context = list(context)
        return self._logits(params)

    def advance(self, params, token, pos):
        self.context.append(token)
        return self._logits(params)

    def _logits(self, params):
        n = len(self.context)
        window = np.zeros(self.length, np.int32)
        window[:n] = self.context
        return self._run(params, window, np.int32(n))


class _Cached:
    """Cached: one incremental step per new token; a restart refills the cache."""

    def __init__(self, program, output_name, length):
        import jax
        import jax.numpy as jnp

        self.length = length

        def step(params, cache, token, pos):
            outs, cache = program.step(params, cache, token[None], pos)
            return outs[output_name][0], cache

        @jax.jit
        def fill(params, tokens, n):
            cache = program.init(params, 1)
            logits0, cache = step(params, cache, tokens[0], jnp.int32(0))

            def body(i, carry):
                _, c = carry
                return step(params, c, tokens[i], i)

            return jax.lax.fori_loop(1, n, body, (logits0, cache))

        self._fill, self._step = fill, jax.jit(step)
        self.cache = None

    def restart(self, params, context):
        tokens = np.zeros(self.length, np.int32)
        tokens[: len(context)] = context
        logits, self.cache = self._fill(params, tokens, np.int32(len(context)))
        return logits

    def advance(self, params, token, pos):
        logits, self.cache = self._step(params, self.cache, np.int32(token), np.int32(pos))
        return logits


def plan(model):
    """(input, output, StepProgram): how `model` generates; `program.cached` says whether every
    node runs incrementally, and `program.refusals` why not."""
    from seqnet.backends.jax.incremental import StepProgram

    input_name, output_name = autoregressive(model)
    return input_name, output_name, StepProgram(model.jax_lowering(), input_name)


def generate_ids(model, params, prompt: list[int], steps: int, *, temperature: float = 1.0,
                 top_k: int | None = None, seed: int = 0, cache: bool | str = "auto",
                 keep_logits: bool = False) -> Generation:  # fmt: skip
    """Generate `steps` tokens after `prompt` (token ids). cache: "auto" (cached when every
    node can run incrementally), True (required), False (re-run the window every token)."""
    import jax
    import jax.numpy as jnp

    input_name, output_name, program = plan(model)
    length, vocab = model.inputs[input_name].dims[0], model.inputs[input_name].vocab
    _check_settings(prompt, steps, temperature, top_k, vocab)
    if cache is True and not program.cached:
        raise GenerateError("this spec cannot generate with a cache: "
                            + "; ".join(map(str, program.refusals)))  # fmt: skip
    cached = program.cached if cache == "auto" else bool(cache)
    params = jax.tree.map(jnp.asarray, params)
    decoder = _decoder(model, program, input_name, output_name, cached)
    pick = _sampler(float(temperature), None if top_k is None else int(top_k))
    keep = max(1, length // 2)
    ids = [int(i) for i in prompt]
    start = max(0, len(ids) - length)
    logits = decoder.restart(params, ids[start:])
    result = Generation(ids=ids, new=[], cached=cached, refusals=list(program.refusals))
    for i in range(steps):
        if keep_logits:
            result.logits.append(np.asarray(logits))
        token = int(pick(logits, int(seed), i))
        ids.append(token)
        result.new.append(token)
        if i == steps - 1:
            break
        if len(ids) - start > length:
            start = len(ids) - keep
            logits = decoder.restart(params, ids[start:])
        else:
            logits = decoder.advance(params, token, len(ids) - 1 - start)
    return result


def _check_settings(prompt, steps, temperature, top_k, vocab) -> None:
    if not len(prompt):
        raise GenerateError("the prompt is empty: generation starts from at least one token")
    bad = [int(i) for i in prompt if not 0 <= int(i) < vocab]
    if bad:
        raise GenerateError(f"prompt token {bad[0]} is outside the input's vocab (0..{vocab - 1})")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise GenerateError(f"steps must be a whole number >= 0, got {steps!r}")
    if not (isinstance(temperature, (int, float)) and np.isfinite(temperature) and temperature >= 0):
        raise GenerateError(f"temperature must be a finite number >= 0, got {temperature!r}")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer))
                              or not 1 <= top_k <= vocab):  # fmt: skip
        raise GenerateError(f"top_k must be a whole number from 1 to the vocab ({vocab}), got {top_k!r}")


# --- text ----------------------------------------------------------------------------------------


def text_codec(model):
    """(encode, decode) of the spec's data source vocabulary; a GenerateError when it has none."""
    config = model.train_config
    source = config.data.name if config is not None else None
    if source != "text":
        what = f"data source '{source}'" if source else "no train section"
        raise GenerateError(f"text prompts are encoded with the vocabulary of the spec's `text` data "
                            f"source, and this spec has {what}; pass the prompt as token ids "
                            "(a list of ints) instead")  # fmt: skip
    path = config.data.args.get("path")
    if path:  # the user's own corpus: its own vocabulary
        from seqnet.data import corpus

        codec = corpus.Codec(corpus.chars(path, config.data.args.get("base_dir")))
        return codec.encode, codec.decode
    from seqnet.data import decode, encode

    return (lambda s: [int(i) for i in encode(s)]), decode


def generate(model, params, prompt, steps: int, *, temperature: float = 1.0,
             top_k: int | None = None, seed: int = 0, cache: bool | str = "auto"):  # fmt: skip
    """The prompt and `steps` generated tokens: text for a text prompt (decoded with the data
    source's vocabulary), token ids for a list of ids."""
    if isinstance(prompt, str):
        encode, decode = text_codec(model)
        out = generate_ids(model, params, encode(prompt), steps, temperature=temperature,
                           top_k=top_k, seed=seed, cache=cache)  # fmt: skip
        return prompt + decode(out.new)
    out = generate_ids(model, params, list(prompt), steps, temperature=temperature, top_k=top_k,
                       seed=seed, cache=cache)  # fmt: skip
    return out.ids
