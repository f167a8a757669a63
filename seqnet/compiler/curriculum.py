"""The train section's `curriculum = lengths(start=2, every=250)`: checked against the data
source (it must be able to shorten its sequences: a `length` argument) and the mode (it must
train on the source's minibatches). The semantics are `train_config.Curriculum`'s."""

from __future__ import annotations

from seqnet.compiler import values as V
from seqnet.compiler.modes.catalog import load_modes
from seqnet.compiler.names import did_you_mean
from seqnet.compiler.train_config import Curriculum
from seqnet.errors import CompileError
from seqnet.grammar import ast

_ARGS = {"start": ("a whole number of tokens, at least 1 (the first stage's length)", 1, "start=2"),
         "every": ("a whole number of steps per stage, at least 0 (0: no curriculum)", 0, "every=250")}  # fmt: skip
_EXAMPLE = "curriculum = lengths(start=2, every=250)"


def read_curriculum(el, setting: ast.Setting, ctx, out: dict) -> Curriculum:
    call = setting.value
    if not ast.is_call(call, "lengths"):
        raise CompileError("SQN0502", "curriculum is written lengths(start=..., every=...)", call.span,
                           hint=f"for example {_EXAMPLE}")  # fmt: skip
    if call.args:
        raise CompileError("SQN0105", "lengths' arguments are named: lengths(start=2, every=250)",
                           call.args[0].span)  # fmt: skip
    args, spans = {}, {}
    for kw in call.kwargs:
        if kw.name not in _ARGS:
            raise CompileError("SQN0103", f"lengths has no argument '{kw.name}'", kw.name_span,
                               hint=did_you_mean(kw.name, _ARGS) or "arguments: start, every")  # fmt: skip
        what, least, example = _ARGS[kw.name]
        value = el.evaluate(kw.value, ctx)
        if not (isinstance(value, V.Num) and value.is_int and value.value >= least):
            raise CompileError("SQN0108", f"lengths' {kw.name} must be {what}, got {V.describe(value)}",
                               kw.value.span,
                               hint=f"for example lengths({example})")  # fmt: skip
        args[kw.name], spans[kw.name] = value.value, kw.value.span
    made = Curriculum(**args)
    if made.every:
        _check_fits(made, call, spans, out)
    return made


def _check_fits(made: Curriculum, call: ast.Call, spans: dict, out: dict) -> None:
    from seqnet.data import SOURCES

    mode = out.get("mode") or "standard"
    if not load_modes()[mode].curriculum:
        raise CompileError("SQN0502", f"mode = {mode} does not train on minibatches of the data, so "
                           "a curriculum cannot shorten them", call.span, hint="remove curriculum")  # fmt: skip
    data = out.get("data")
    if data is None:  # the data setting failed and said why
        return
    source = SOURCES[data.name]
    if source.arg("length") is None:
        able = sorted(n for n, s in SOURCES.items() if s.arg("length") is not None)
        raise CompileError("SQN0502", f"a curriculum shortens the sequences of its data source, but "
                           f"{data.name} cannot", call.span,
                           hint="sources with length=: " + ", ".join(able))  # fmt: skip
    n = data.args.get("n")
    if isinstance(n, int) and made.start > n:
        raise CompileError("SQN0108", f"lengths' start={made.start} is longer than the sequence (n={n})",
                           spans.get("start", call.span), hint=f"start=1 .. {n}")  # fmt: skip
