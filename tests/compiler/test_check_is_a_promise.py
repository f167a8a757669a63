"""`check` is a promise: a spec it accepts trains, evaluates and predicts.

Two corpora: the golden diagnostics specs (with their `.args`), and specs generated from a small
grammar of plausible architectures over the built-in data (inputs declared right or wrong, bodies
that keep or reduce the sequence, user cells, learned tensors, subscripts and shifts, heads of the
right or a wrong width or tied to the embedding, every loss and metric against every field, sums
of loss terms, and over padded data: lengths and masks, right, of the wrong length or type, or on
an op that takes none; heads chosen by a setting, `choose(HEAD, a=..., b=...)`, whose choices agree
or not and whose key names a choice or not; wormholes switched on or off by `enabled=`). Whatever
`check` accepts must then run two training steps, evaluate and predict through the CLI with exit
code 0; whatever it rejects must be rejected as a user error (exit 1), never an internal one.
"""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from seqnet import cli

HERE = Path(__file__).resolve().parent
GOLDEN = HERE.parent / "diagnostics"
FAST = ["--set", "steps=2", "--set", "batch=4", "--set", "eval_batches=1"]

# name: (data call, {input: (dtype, dims, vocab)}, {target field: (dtype, dims, classes)}, N)
SOURCES = {
    "parity": ("task.parity(N)", {"x": ("int32", ("N",), 2)}, {"label": ("int32", (), 2)}),
    "sum_mod": ("task.sum_mod(N, 3)", {"x": ("int32", ("N",), 3)}, {"label": ("int32", (), 3)}),
    "digits": ("digits(flat=true)", {"x": ("float32", (64,), None)}, {"label": ("int32", (), 10)}),
    "sine": ("sine(N)", {"x": ("float32", ("N", 1), None)}, {"target": ("float32", ("N", 1), None)}),
    "copy": ("copy(N, 5)", {"x": ("int32", ("N",), 5)}, {"target": ("int32", ("N",), 5)}),
    "reverse": ("task.reverse(N, 5)", {"x": ("int32", ("N",), 5)}, {"target": ("int32", ("N",), 5)}),
}
PADDED = {"reverse"}  # sources with a `length` field (int32[], one per example)
CELL = "block cell(x, state) {\n  h = dense(concat(x, state), 8, act=tanh)\n  return h, h\n}"
LOSSES = ("cross_entropy", "mse", "bce", "l1")
METRICS = (None, "accuracy", "mse", "cross_entropy")


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """The CLI in-process (hypothesis cannot share pytest's capsys between examples)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = cli.main(argv)
    assert "Traceback" not in out.getvalue() + err.getvalue()
    assert "internal error" not in err.getvalue(), err.getvalue()
    return rc, out.getvalue(), err.getvalue()


def _type(dtype: str, dims, vocab) -> str:
    text = f"{dtype}[{', '.join(map(str, dims))}]"
    return text + (f" vocab {vocab}" if vocab is not None else "")


@st.composite
def specs(draw) -> str:
    """A spec over one built-in data source; right more often than wrong."""
    name = draw(st.sampled_from(sorted(SOURCES)))
    call, inputs, targets = SOURCES[name]
    (x_dtype, x_dims, x_vocab), = inputs.values()
    lines = ["dim N = 4"]
    vocab = x_vocab
    if x_vocab is not None and draw(st.integers(0, 5)) == 0:  # a wrong or missing vocabulary
        vocab = draw(st.sampled_from([None, x_vocab - 1, x_vocab + 1]))
    lines.append(f"input x : {_type(x_dtype, x_dims, vocab)}")
    padded = name in PADDED
    if padded:  # the lengths, declared right more often than wrong
        lines.append(f"input length : {draw(st.sampled_from(['int32[]'] * 4 + ['int32[N]', 'float32[]']))}")
    if x_dtype == "int32":
        explicit = draw(st.sampled_from([""] * 6 + [", vocab=2", ", vocab=8"]))
        ids = draw(st.sampled_from(["x"] * 4 + ["shift(x, 1)", "x[0:N]", "x[1:]"]))  # subscripts
        lines.append(f"e = embed({ids}, 8{explicit})")
        if draw(st.integers(0, 3)) == 0:  # a learned tensor (positions)
            lines.append("e = e + param([N, 8])")
        reduce = [("h = lstm(e, 8, mode=many_to_one)", (8,)), ("h = mean(e, axis=0)", (8,)),
                  ("h = scan(cell, e, state=[8], mode=many_to_one)", (8,))]  # fmt: skip
        keep = [("h = lstm(e, 8, mode=many_to_many)", ("N", 8)), ("h = gru(e, 8)", ("N", 8)),
                ("h = attention(e)", ("N", 8)), ("h = scan(cell, e, state=[8])", ("N", 8))]  # fmt: skip
        if padded:  # masks and lengths, now and then of the wrong length or on the wrong op
            keep += [("h = lstm(e, 8, lengths=length)", ("N", 8)),
                     ("h = attention(e, causal=true, mask=sequence_mask(length, N))", ("N", 8)),
                     ("h = gru(e, 8, lengths=length, reverse=true)", ("N", 8)),
                     ("h = scan(cell, e, state=[8], lengths=length)", ("N", 8)),
                     ("h = attention(e, mask=sequence_mask(length, 3))", ("N", 8)),
                     ("h = dense(e, 8, lengths=length)", ("N", 8))]  # fmt: skip
            reduce += [("h = lstm(e, 8, mode=many_to_one, lengths=length)", (8,))]
        fits = reduce if not next(iter(targets.values()))[1] else keep  # what the target wants
        body, shape = draw(st.sampled_from(fits * 3 + reduce + keep))
        if "scan(cell" in body:
            lines.insert(1, CELL)
    elif len(x_dims) == 1:
        body, shape = "h = dense(x, 8, act=relu)", (8,)
        solver = draw(st.sampled_from([None, None, "fixed_point", "unrolled", "forward"]))
        if solver is not None:  # a gated back-edge, solved to a fixed point, or switched off
            enabled = draw(st.sampled_from(["", "", " enabled=true", " enabled=false"]))
            body = ("g = dense(x, 8, act=tanh)\nh = dense(g, 8, act=tanh)\n"
                    f"wormhole h -> g solver={solver} max_iter=5{enabled}")  # fmt: skip
    else:
        body, shape = draw(st.sampled_from([
            ("h = dense(x, 8, act=tanh)", ("N", 8)),
            ("h = lstm(x, 8, mode=many_to_one)", (8,)),
        ]))  # fmt: skip
    lines.append(body)
    (target, (_t_dtype, t_dims, classes)), = targets.items()
    width = draw(st.sampled_from([classes or 1] * 6 + [1, 2, 5, 10]))
    heads = ["dense(h, {w})"] * 3 + ["sigmoid(dense(h, {w}))"]
    if x_dtype == "int32":  # tied to the embedding: fits when the width is its vocabulary
        heads.append("dense(h, {w}, tie=e)")
    head = draw(st.sampled_from(heads))
    out_dims = (*shape[:-1], width)
    value = head.format(w=width)
    if draw(st.integers(0, 3)) == 0:  # the head chosen by a setting, the other choice of a width
        other = draw(st.sampled_from([width, width, width + 1]))
        value = f"choose(HEAD, a={value}, b=dense(h, {other}, act=relu))"
        lines.insert(0, f'const HEAD = "{draw(st.sampled_from(["a", "b", "c"]))}"')
    lines.append(f"output y : float32[{', '.join(map(str, out_dims))}] = {value}")
    natural = "cross_entropy" if classes else "mse"
    loss = draw(st.sampled_from((natural,) * 4 + LOSSES))
    metric = draw(st.sampled_from(("accuracy" if classes else "mse",) * 3 + METRICS))
    field = target if draw(st.integers(0, 7)) else "x"  # now and then: the input as the target
    skip = draw(st.sampled_from(["", ", lengths=length", ", lengths=length", ", lengths=x"])) if padded else ""
    term = f"{loss}(y, {field}{skip})"
    if draw(st.integers(0, 4)) == 0:  # a weighted sum of two terms
        term += f" + 0.5 * {draw(st.sampled_from(LOSSES))}(y, {field})"
    lines += ["train {", f"  data = {call}", f"  loss = {term}"]
    if metric is not None:
        lines.append(f"  metrics = [{metric}(y, {field}{skip})]")
    lines += ["  batch = 4", "  examples = 16", "}"]
    del t_dims
    return "\n".join(lines) + "\n"


def _inputs_for(spec: Path, folder: Path, args: list[str]) -> Path:
    """An .npz of three eval examples for the spec's inputs, drawn from its own data source."""
    from seqnet.data import get_source
    from seqnet.model import load

    overrides = dict(a.split("=", 1) for a in args[1::2] if a.split("=", 1)[0] not in
                     ("steps", "batch", "eval_batches"))  # fmt: skip
    model = load(spec, **overrides)
    c = model.train_config
    base = {"base_dir": str(spec.parent)} if get_source(c.data.name).uses_base_dir else {}
    arrays = get_source(c.data.name).load("eval", 3, c.seed, **base, **c.data.args)
    path = folder / "inputs.npz"
    np.savez(path, **{k: np.asarray(arrays[k])[:3] for k in model.inputs})
    return path


def assert_promise(spec: Path, args: list[str], folder: Path) -> bool:
    """Check the spec; if it is accepted with a train section, train, eval and predict must all
    succeed. Returns whether it was accepted."""
    rc, _out, err = run_cli(["check", "--json", str(spec), *args])
    assert rc in (0, 1), err
    if rc == 1:
        return False
    from seqnet.model import load

    overrides = dict(a.split("=", 1) for a in args[1::2])
    if load(spec, **overrides).train_config is None:
        return True
    run = folder / "run"
    rc, _out, err = run_cli(["train", str(spec), "--out", str(run), "--no-progress", *args, *FAST])
    assert rc == 0, f"check accepted {spec.name}, but train failed:\n{spec.read_text()}\n{err}"
    rc, out, err = run_cli(["eval", str(spec), "--checkpoint", str(run), *args, *FAST])
    assert rc == 0, f"check accepted {spec.name}, but eval failed:\n{spec.read_text()}\n{err}"
    assert all(np.isfinite(v) for v in json.loads(out).values() if isinstance(v, float))
    inputs = _inputs_for(spec, folder, args)
    pred = folder / "pred.npz"
    rc, _out, err = run_cli(["predict", str(spec), "--checkpoint", str(run), "--input", str(inputs),
                             "-o", str(pred), *args])  # fmt: skip
    assert rc == 0, f"check accepted {spec.name}, but predict failed:\n{spec.read_text()}\n{err}"
    return True


def _golden_cases():
    for spec in sorted(GOLDEN.glob("*.seqnet")):
        extra = spec.with_suffix(".args")
        yield pytest.param(spec, extra.read_text().split() if extra.exists() else [], id=spec.stem)


@pytest.mark.parametrize("spec, args", list(_golden_cases()))
def test_golden_corpus_keeps_the_promise(spec, args, tmp_path, monkeypatch):
    monkeypatch.chdir(GOLDEN)
    assert_promise(spec, args, tmp_path)


ACCEPTED = (
    "dim N = 4\ninput x : int32[N] vocab 2\ne = embed(x, 8)\nh = lstm(e, 8, mode=many_to_one)\n"
    "output y : float32[2] = dense(h, 2)\ntrain {\n  data = task.parity(N)\n"
    "  loss = cross_entropy(y, label)\n  metrics = [accuracy(y, label)]\n  batch = 4\n  examples = 16\n}\n"
)
PER_POSITION = ACCEPTED.replace("many_to_one", "many_to_many").replace("float32[2]", "float32[N, 2]")
PADDED_ACCEPTED = (
    f"dim N = 4\n{CELL}\ninput x : int32[N] vocab 5\ninput length : int32[]\ne = embed(x, 8)\n"
    "a = attention(e, causal=true, mask=sequence_mask(length, N))\n"
    "h = scan(cell, lstm(a, 8, lengths=length), state=[8], lengths=length)\n"
    "output y : float32[N, 5] = dense(h, 5, tie=e)\ntrain {\n  data = task.reverse(N, 5)\n"
    "  loss = cross_entropy(y, target, lengths=length) + 0.5 * cross_entropy(y, target)\n"
    "  metrics = [accuracy(y, target, lengths=length)]\n  batch = 4\n  examples = 16\n}\n"
)
MASK_TOO_SHORT = PADDED_ACCEPTED.replace("sequence_mask(length, N)", "sequence_mask(length, 3)")
CHOSEN = ACCEPTED.replace("dim N = 4", 'const HEAD = "b"\ndim N = 4').replace(
    "dense(h, 2)", "choose(HEAD, a=dense(h, 2), b=dense(h, 2, act=relu))")  # fmt: skip


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs())
@example(ACCEPTED)
@example(PER_POSITION)
@example(ACCEPTED.replace("vocab 2", "vocab 3"))
@example(PADDED_ACCEPTED)
@example("dim N = 4\ninput x : float32[N, 1]\nh = dense(x, 8, act=tanh)\n"
         "output y : float32[N, 1] = dense(h, 1)\ntrain {\n  data = sine(N)\n  loss = mse(y, target)\n"
         "  metrics = [mse(y, target)]\n  batch = 4\n  examples = 16\n}\n")  # fmt: skip
def test_generated_specs_keep_the_promise(text):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        spec = folder / "generated.seqnet"
        spec.write_text(text)
        assert_promise(spec, [], folder)


def test_the_generator_reaches_both_sides(tmp_path):
    """The examples above are accepted and rejected as intended (the property is not vacuous)."""
    for text, accepted in ((ACCEPTED, True), (PER_POSITION, False),
                           (ACCEPTED.replace("vocab 2", "vocab 3"), False),
                           (PADDED_ACCEPTED, True), (MASK_TOO_SHORT, False), (CHOSEN, True),
                           (CHOSEN.replace("b=dense(h, 2,", "b=dense(h, 3,"), False),
                           (CHOSEN.replace('HEAD = "b"', 'HEAD = "c"'), False),
                           (PADDED_ACCEPTED.replace("lengths=length) +", "lengths=x) +"), False)):  # fmt: skip
        spec = tmp_path / "s.seqnet"
        spec.write_text(text)
        rc, _out, err = run_cli(["check", str(spec)])
        assert (rc == 0) == accepted, err
