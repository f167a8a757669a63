"""Dims keep the text they were written as, and sums of them fold their constants correctly."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

import seqnet
from seqnet.compiler.types import sum_expr

NAMES = ("N", "E", "H")


def _value(text: str, env: dict[str, int]) -> int:
    """Evaluate a linear dim text (names, integers, + and -) without eval."""
    total = 0
    for sign, body in re.findall(r"([+-]?)([A-Za-z_0-9]+)", text.replace(" ", "")):
        v = int(body) if body.isdigit() else env[body]
        total += -v if sign == "-" else v
    return total


term = st.one_of(st.sampled_from(NAMES), st.integers(0, 50).map(str))
linear = st.lists(st.tuples(st.sampled_from("+-"), term), min_size=1, max_size=4).map(
    lambda ts: "".join(s + t for s, t in ts).lstrip("+")
)


@given(st.lists(linear, min_size=2, max_size=4), st.fixed_dictionaries({n: st.integers(1, 99) for n in NAMES}))
def test_sum_expr_keeps_the_value(exprs, env):
    folded = sum_expr(exprs)
    want = sum(_value(e, env) for e in exprs)
    if folded is None:  # no names left: the total is a plain number
        assert all(_value(e, {n: 0 for n in NAMES}) == _value(e, env) for e in exprs)
    else:
        assert _value(folded, env) == want
        terms = re.findall(r"([+-]?)([A-Za-z_0-9]+)", folded)
        assert sum(body.isdigit() for _, body in terms) <= 1  # the constants are folded into one


def test_sum_expr_examples():
    assert sum_expr(["E-2", "2"]) == "E"
    assert sum_expr(["E-2", "3"]) == "E+1"
    assert sum_expr(["16", "64"]) is None
    assert sum_expr(["N", "N"]) == "N+N"
    assert sum_expr(["(N+1)", "2"]) == "(N+1)+2"  # brackets: left as written


def test_shapes_show_dims_as_written():
    m = seqnet.loads("""
dim S = 7
dim E = 64
input g : float32[S, S, 3]
f = conv2d(g, E - 2, 2, padding="same")
e = reshape(f, [S * S, E - 2])
e = concat(e, dense(reshape(g, [S * S, 3]), 2))
output y : float32[S*S, E] = dense(e, E)
""")
    shapes = {n: str(m.graph.nodes[n]["outputs"][0]) for n in ("f", "e", "e_1", "y")}
    assert shapes == {"f": "float32[S, S, E-2]", "e": "float32[S*S, E-2]", "e_1": "float32[S*S, E]",
                      "y": "float32[S*S, E]"}
    assert m.graph.nodes["f"]["attrs"]["filters"] == 62 and type(m.graph.nodes["f"]["attrs"]["filters"]) is int


def test_no_dim_text_leaks_into_the_graph():
    """NamedInt is for shape rules only: attributes and parameter shapes are plain ints."""
    from seqnet.compiler.types import NamedInt

    m = seqnet.load("specs/simplicial_agent.seqnet")
    found = []

    def walk(x, path):
        if isinstance(x, NamedInt):
            found.append(path)
        elif isinstance(x, dict):
            for k, v in x.items():
                walk(v, f"{path}/{k}")
        elif isinstance(x, (list, tuple)):
            for i, v in enumerate(x):
                walk(v, f"{path}[{i}]")
        elif hasattr(x, "__dataclass_fields__"):
            for f in x.__dataclass_fields__:
                walk(getattr(x, f), f"{path}.{f}")

    for n, d in m.graph.nodes(data=True):
        walk({k: v for k, v in d.items() if k != "outputs"}, n)  # output types carry Dims by design
    assert found == []


def test_string_consts_take_overrides_as_strings():
    text = 'const ACT = "relu"\ndim A = 4\ninput x : float32[4]\noutput y : float32[4] = dense(x, A, act=ACT)\n'
    assert seqnet.loads(text, ACT="gelu").graph.nodes["y"]["attrs"]["act"] == "gelu"
    from seqnet import cli

    assert cli.main(["check", "-q", "specs/mlp_digits.seqnet", "--set", "H='64'"]) == 1  # quoted: a string
