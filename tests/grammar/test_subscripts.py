"""Subscripts (`x[1:, -1]`): generated subscripts parse, print canonically and re-parse to the same
text, and the shape `check` infers is NumPy's for every subscript NumPy would give a non-empty
result for; every other one is a located error, never a traceback."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from seqnet.grammar import ast
from seqnet.grammar.format import format_module
from seqnet.grammar.parser import parse
from seqnet.pipeline import compile_source
from seqnet.source import SourceFile

SHAPE = (6, 5, 4)
BOUND = st.one_of(st.none(), st.integers(-8, 8))


@st.composite
def item(draw):
    """(text, Python index) of one subscript item: an integer, or a slice with optional parts."""
    if draw(st.booleans()):
        i = draw(st.integers(-7, 7))
        return str(i), i
    start, stop = draw(BOUND), draw(BOUND)
    step = draw(st.one_of(st.none(), st.integers(1, 3)))
    text = f"{'' if start is None else start}:{'' if stop is None else stop}"
    if step is not None:
        text += f":{step}"
    return text, slice(start, stop, step)


@st.composite
def subscript(draw):
    items = draw(st.lists(item(), min_size=1, max_size=4))
    spaced = draw(st.booleans())
    sep = ", " if spaced else ","
    return sep.join(t for t, _ in items), tuple(i for _, i in items)


def _numpy_shape(index) -> tuple[int, ...] | None:
    """NumPy's result shape, or None where seqnet refuses: too many indices, an index or bound
    out of range, a step that is not positive or an empty result."""
    if len(index) > len(SHAPE):
        return None
    for size, i in zip(SHAPE, index, strict=False):
        if isinstance(i, int) and not -size <= i < size:
            return None
        if isinstance(i, slice):
            if i.start is not None and not -size <= i.start < size:
                return None
            if i.stop is not None and not -size <= i.stop <= size:
                return None
            if len(range(size)[i]) == 0:
                return None
    return np.empty(SHAPE)[index].shape


def _spec(text: str) -> str:
    return f"input x : float32[{', '.join(map(str, SHAPE))}]\noutput y = x[{text}]\n"


@settings(max_examples=150, deadline=None)
@given(subscript())
def test_subscripts_infer_numpys_shape_or_a_located_error(case):
    text, index = case
    want = _numpy_shape(index)
    if want == ():  # every axis indexed: a scalar per example, which is fine too
        want = ()
    graph, diags = compile_source(SourceFile("s.seqnet", _spec(text)))
    if want is None:
        assert graph is None
        errors = [d for d in diags if d.severity == "error"]
        assert errors and all(d.span is not None and d.span.line == 2 for d in errors)
        assert all(d.code in ("SQN0303", "SQN0304") for d in errors), [d.render() for d in errors]
    else:
        assert graph is not None, [d.render() for d in diags]
        node, port = graph.graph["outputs"]["y"]
        assert graph.nodes[node]["outputs"][port].dims == want


@settings(max_examples=100, deadline=None)
@given(subscript())
def test_subscripts_format_canonically_and_round_trip(case):
    text, _ = case
    module, diags = parse(SourceFile("s.seqnet", _spec(text)))
    assert module is not None and not diags
    sub = module.body[1].value
    assert isinstance(sub, ast.Subscript) and len(sub.items) == text.count(",") + 1
    once = format_module(module)
    module2, _ = parse(SourceFile("s.seqnet", once))
    assert format_module(module2) == once
    assert once.splitlines()[1] == "output y = x[" + text.replace(",", ", ").replace(",  ", ", ") + "]"


def test_dims_in_bounds_keep_their_text():
    spec = "dim N = 6\ninput t : int32[N] vocab 9\noutput a = t[0:N-1]\noutput b = t[1:]\n"
    graph, diags = compile_source(SourceFile("d.seqnet", spec))
    assert graph is not None, [d.render() for d in diags]
    types = {k: graph.nodes[n]["outputs"][p] for k, (n, p) in graph.graph["outputs"].items()}
    assert str(types["a"]) == "int32[N-1] vocab 9"  # slicing keeps the vocabulary
    assert str(types["b"]) == "int32[N-1] vocab 9"


def test_subscript_of_a_call_and_a_chain():
    spec = "input x : float32[4, 6]\noutput y = relu(x)[1:][0, ::3]\n"
    graph, diags = compile_source(SourceFile("c.seqnet", spec))
    assert graph is not None, [d.render() for d in diags]
    node, port = graph.graph["outputs"]["y"]
    assert graph.nodes[node]["outputs"][port].dims == (2,)
