"""'did you mean' (seqnet/compiler/names.py): small candidate sets get difflib's answer exactly,
as before; a large scope is searched through an index, so the comparisons per suggestion do not
grow with the number of names (it was quadratic: 44 s for 4,000 misspelt statements)."""

from __future__ import annotations

import difflib
import random
import string

import pytest

from seqnet.compiler import names
from seqnet.compiler.context import Scope
from seqnet.pipeline import compile_source
from seqnet.source import SourceFile


@pytest.fixture
def compared(monkeypatch):
    """How many candidates difflib was given, over all suggestions."""
    count = [0]
    real = difflib.get_close_matches

    def counting(word, possibilities, *args, **kw):
        possibilities = list(possibilities)
        count[0] += len(possibilities)
        return real(word, possibilities, *args, **kw)

    monkeypatch.setattr(names.difflib, "get_close_matches", counting)
    return count


def test_small_sets_get_exactly_difflibs_answer():
    rng = random.Random(3)
    for _ in range(300):
        pool = {"".join(rng.choices(string.ascii_lowercase[:6] + "_1", k=rng.randint(1, 8)))
                for _ in range(rng.randint(1, 60))}  # fmt: skip
        query = "".join(rng.choices(string.ascii_lowercase[:6] + "_1", k=rng.randint(1, 8)))
        scope = Scope()
        for n in pool:
            scope.bind(n, None)
        assert scope.suggest(query) == names.did_you_mean(query, pool)


@pytest.mark.parametrize("query,expected", [("layr_1234_out", "layer_1234_out"),  # a letter missing
                                            ("layer_1234_oat", "layer_1234_out"),  # one wrong
                                            ("alyer_1234_out", "layer_1234_out"),  # swapped
                                            ("layerr_1234_outt", "layer_1234_out"),  # two extra
                                            ("layer_1243_out", "layer_1243_out"),
                                            ("zzzzzzzz", None)])  # fmt: skip
def test_a_large_scope_still_finds_a_name_one_or_two_edits_away(query, expected):
    parent = Scope()
    for i in range(3000):
        parent.bind(f"layer_{i}_out", None)
    inner = Scope(parent)
    inner.bind("x", None)
    got = inner.suggest(query)
    assert got == (f"did you mean '{expected}'?" if expected else None), got


def test_names_bound_after_the_first_suggestion_are_found_too():
    scope = Scope()
    for i in range(names.EXACT_UP_TO + 10):
        scope.bind(f"n{i}", None)
    scope.suggest("q")
    scope.bind("hidden_state", None)
    assert scope.suggest("hiden_state") == "did you mean 'hidden_state'?"


def test_comparisons_per_suggestion_do_not_grow_with_the_scope(compared):
    per_query = {}
    for size in (1000, 8000):
        scope = Scope()
        for i in range(size):
            scope.bind(f"block{i}_h", None)
        compared[0] = 0
        for i in range(200):
            assert scope.suggest(f"blok{i}_h") == f"did you mean 'block{i}_h'?"
        per_query[size] = compared[0] / 200
    assert per_query[8000] <= 1.5 * per_query[1000] + 5, per_query
    assert per_query[8000] < 100, per_query  # not the 8,000 names a plain difflib search compares


def test_a_spec_misspelt_in_every_statement_compares_few_names_per_error(compared):
    n = 2 * names.EXACT_UP_TO
    lines = ["input x : float32[4]", "h0 = dense(x, 4)"]
    lines += [f"h{i} = dense(hh{i - 1}, 4)" for i in range(1, n)]
    lines.append(f"output y : float32[4] = dense(h{n - 1}, 4)")
    graph, diags = compile_source(SourceFile("m.seqnet", "\n".join(lines) + "\n"))
    assert graph is None
    unknown = [d for d in diags if d.code == "SQN0101"]
    assert len(unknown) == n - 1
    assert unknown[0].hint == "did you mean 'h0'?" and unknown[-1].hint == f"did you mean 'h{n - 2}'?"
    # difflib over the whole scope while it is small (about EXACT_UP_TO**2 / 2 in all), then a
    # few names per error; comparing with the whole scope every time would be n**2 / 2 = 500,000
    assert compared[0] < names.EXACT_UP_TO**2 / 2 + 100 * n, compared[0]
