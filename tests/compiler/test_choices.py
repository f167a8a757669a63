"""Compile-time choices: `choose(KEY, a=..., b=...)` and a wormhole's `enabled=`.

What they promise: the chosen branch compiles to exactly the graph it would give written alone
(names, ops, attributes, types, parameters), only it creates parameters, every branch is still
checked (a mistake in one the settings do not pick is reported, located, with a note saying so),
the branches agree on the type of what they give, and the parameters of each alternative are
recorded for `summary`.
"""

from __future__ import annotations

import pytest

from seqnet.compiler.graph import total_params
from seqnet.compiler.summary import summarize, summary_table
from seqnet.grammar.format import format_module
from seqnet.grammar.parser import parse
from seqnet.pipeline import compile_source
from seqnet.source import SourceFile

HEAD = """\
const BLOCK = "attn"
dim N = 8
input x : float32[N, 16]
block mlp(x) {
  h = dense(x, 32, act=relu)
  return dense(h, 16)
}
h = dense(x, 16)
"""
TAIL = "output y : float32[2] = dense(mean(h), 2)\n"
CHOSEN = HEAD + "h = choose(BLOCK, attn=attention(h, heads=2), mlp=mlp(h))\n" + TAIL


def compile_text(text, **overrides):
    return compile_source(SourceFile("t.seqnet", text), {k: str(v) for k, v in overrides.items()})


def ok(text, **overrides):
    graph, diags = compile_text(text, **overrides)
    assert graph is not None, "\n\n".join(d.render() for d in diags)
    return graph


def errors(text, **overrides):
    graph, diags = compile_text(text, **overrides)
    assert graph is None
    return [d for d in diags if d.severity == "error"]


def shape_of(g) -> list[tuple]:
    """The graph as the backends see it, without source locations."""
    out = []
    for n, d in sorted(g.nodes(data=True), key=lambda item: item[1]["order"]):
        params = {k: tuple(p.shape) for k, p in d["params"].items()}
        out.append((n, d["op"], tuple(sorted(d["attrs"].items(), key=str)), d["args"],
                    tuple(map(str, d["outputs"])), tuple(sorted(params.items())), d["param_owner"]))  # fmt: skip
    edges = sorted((u, v, e["arg"], e["wormhole"]) for u, v, e in g.edges(data=True))
    return [out, edges, dict(g.graph["outputs"])]


@pytest.mark.parametrize("key, alone", [("attn", "attention(h, heads=2)"), ("mlp", "mlp(h)")])
def test_the_chosen_branch_is_the_graph_written_alone(key, alone):
    chosen = ok(CHOSEN, BLOCK=key)
    written = ok(HEAD + f"h = {alone}\n" + TAIL)
    assert shape_of(chosen) == shape_of(written)
    assert total_params(chosen) == total_params(written)


def test_only_the_chosen_branch_creates_parameters_and_each_budget_is_recorded():
    attn, mlp = ok(CHOSEN), ok(CHOSEN, BLOCK="mlp")
    assert not any(n.startswith("h_1/") for n in attn)  # no node of the mlp branch
    assert not any(d["op"] == "attention" for _, d in mlp.nodes(data=True))
    (c,) = summarize(attn)["choices"]
    assert c["chosen"] == "attn" and c["key"] == "BLOCK"
    assert c["params"] == {"attn": 4 * 16 * 16 + 16, "mlp": 16 * 32 + 32 + 32 * 16 + 16}
    assert total_params(attn) - total_params(mlp) == c["params"]["attn"] - c["params"]["mlp"]
    assert summarize(mlp)["choices"][0]["params"] == c["params"]
    assert "choose(BLOCK) at t.seqnet:9:5: attn 1,040 parameters (chosen), mlp 1,072 parameters" \
        in summary_table(summarize(attn))  # fmt: skip


def test_a_mistake_in_a_branch_not_chosen_is_reported_with_a_note():
    (e,) = errors(HEAD + "h = choose(BLOCK, attn=attention(h, heads=2), mlp=dens(h, 16))\n" + TAIL)
    assert (e.code, e.span.line, e.span.column) == ("SQN0102", 9, 51)
    assert e.notes[-1].label == "in the choice 'mlp' of choose(BLOCK), checked though the settings choose 'attn'"
    assert e.hint == "did you mean 'dense'?"


def test_branches_must_agree_on_dtype_shape_and_vocab():
    (e,) = errors(HEAD + "h = choose(BLOCK, attn=attention(h, heads=2), mlp=dense(h, 8))\n" + TAIL)
    assert e.code == "SQN0307" and e.span.column == 51
    assert "'attn' gives a tensor float32[N, 16], 'mlp' gives a tensor float32[N, 8]" in e.message
    (e,) = errors(HEAD + "h = choose(BLOCK, attn=h, mlp=3)\n" + TAIL)
    assert e.code == "SQN0307" and "the number 3" in e.message
    ids = 'dim N = 4\nconst K = "a"\ninput x : int32[N] vocab 5\ninput z : int32[N] vocab 7\n'
    (e,) = errors(ids + "t = choose(K, a=x, b=z)\noutput y : float32[N, 2] = dense(embed(t, 4), 2)\n")
    assert e.code == "SQN0307" and "'a' gives a tensor int32[N] vocab 5, 'b' gives a tensor int32[N] vocab 7" in e.message


def test_the_key_must_name_a_choice_and_says_where_it_was_set():
    (e,) = errors(CHOSEN, BLOCK="mpl")
    assert (e.code, e.span.line, e.span.column) == ("SQN0108", 9, 12) and e.hint == "did you mean 'mlp'?"
    assert e.message == "choose has no choice 'mpl'; choices: attn, mlp"
    assert e.notes[0].span.file == "<command line>" and e.notes[0].label == "'mpl' comes from here"
    (e,) = errors(CHOSEN.replace('"attn"', '"atn"'))
    assert e.code == "SQN0108" and (e.notes[0].span.line, e.notes[0].span.column) == (1, 15)
    (e,) = errors(CHOSEN.replace("choose(BLOCK", "choose(BLOK"))
    assert e.code == "SQN0101" and e.hint == "did you mean 'BLOCK'?"
    (e,) = errors(CHOSEN.replace("choose(BLOCK", "choose(N"))
    assert e.code == "SQN0106" and e.message == "choose's key must be a string, name or boolean, got the number 8 (N)"
    (e,) = errors(CHOSEN.replace("choose(BLOCK, ", "choose(BLOCK, h, "))
    assert e.code == "SQN0106" and e.message.startswith("choose takes a key and named choices")


def test_a_boolean_key_chooses_true_or_false():
    text = HEAD.replace('const BLOCK = "attn"', "const BIG = false") + \
        "h = choose(BIG, true=mlp(h), false=dense(h, 16))\n" + TAIL  # fmt: skip
    assert not any("/" in n for n in ok(text))  # false: no block nodes
    assert any(n.startswith("h_1/") for n in ok(text, BIG="true"))
    (e,) = errors(text.replace("false=", "small="))
    assert e.code == "SQN0108" and "true= and false=" in e.message


def test_choices_nest_and_pick_numbers_for_dims():
    text = (HEAD.replace("dim N = 8", 'const SIZE = "small"\ndim W = choose(SIZE, small=16, big=32)\ndim N = 8')
            + "h = choose(BLOCK, attn=choose(SIZE, small=attention(h, heads=2), big=mlp(h)), mlp=mlp(h))\n"
            + TAIL)  # fmt: skip
    g = ok(text)
    assert g.graph["dims"]["W"] == 16 and ok(text, SIZE="big").graph["dims"]["W"] == 32
    # the dim's choice picks a number: only the choices of tensors are listed, with their parameters
    assert [c.what for c in g.graph["choices"]] == ["choose(SIZE)", "choose(BLOCK)"]
    assert g.graph["choices"][-1].params == {"attn": 1040, "mlp": 1072}  # the inner choice's pick
    assert ok(text, SIZE="big").graph["choices"][-1].params == {"attn": 1072, "mlp": 1072}


def test_a_choice_in_a_shared_repeat_sums_each_copy():
    g = ok(HEAD + "h = repeat 3 shared { choose(BLOCK, attn=attention(h, heads=2), mlp=mlp(h)) }\n" + TAIL)
    (c,) = g.graph["choices"]
    assert c.times == 3 and c.params == {"attn": 1040, "mlp": 1072}  # the copies share the first's


WORMHOLE = """\
const WORMHOLE = true
input x : float32[8]
h1 = dense(x, 8, act=tanh)
h2 = dense(h1, 8, act=tanh)
wormhole h2 -> h1 gate=sigmoid enabled=WORMHOLE
output y : float32[2] = dense(h2, 2)
"""


def test_a_disabled_wormhole_is_the_spec_with_its_line_deleted():
    off = ok(WORMHOLE, WORMHOLE="false")
    deleted = ok("\n".join(line for line in WORMHOLE.splitlines() if not line.startswith("wormhole")))
    assert shape_of(off) == shape_of(deleted)
    on = ok(WORMHOLE)
    assert total_params(on) - total_params(off) == 8 * 8 + 8 * 8 + 8  # W, W_g and b_g
    (c,) = on.graph["choices"]
    assert (c.what, c.chosen, c.params) == ("wormhole h2 -> h1 enabled=WORMHOLE", "true", {"true": 136, "false": 0})


def test_a_disabled_wormhole_is_still_checked():
    (e,) = errors(WORMHOLE.replace("h2 -> h1", "h1 -> h2"), WORMHOLE="false")
    assert e.code == "SQN0402"
    (e,) = errors(WORMHOLE.replace("gate=sigmoid", "gate=sigmod"), WORMHOLE="false")
    assert e.code == "SQN0108"
    (e,) = errors(WORMHOLE, WORMHOLE="1")
    assert e.code == "SQN0106" and "enabled= must be true or false" in e.message
    (e,) = errors(WORMHOLE.replace("enabled=", "enabeld="))
    assert e.code == "SQN0103" and e.hint == "did you mean 'enabled'?"


LONG = HEAD + ("h = repeat 2 shared { choose(BLOCK, attn=attention(h, heads=2, head_dim=8), "
               "mlp=dense(dense(h, 64, act=relu), 16), norm=layernorm(h)) }\n") + TAIL  # fmt: skip


@pytest.mark.parametrize("text", [CHOSEN, WORMHOLE, LONG])
def test_fmt_round_trips_choices(text):
    once = format_module(parse(SourceFile("t.seqnet", text))[0])
    assert format_module(parse(SourceFile("t.seqnet", once))[0]) == once
    assert shape_of(ok(once)) == shape_of(ok(text))
    if text is LONG:  # too long for a line: one choice a line, inside the repeat's own lines
        assert "h = repeat 2 shared {\n  choose(BLOCK,\n      attn=attention(h, heads=2, head_dim=8),\n" in once
    else:
        assert "choose(BLOCK, attn=attention(h, heads=2), mlp=mlp(h))" in once or "enabled=WORMHOLE" in once


TRAINED = """\
const OPT = "adam"
input x : float32[64]
output y : float32[10] = dense(x, 10)
train {
  data = digits(flat=true)
  loss = cross_entropy(y, label)
  optimizer = choose(OPT, adam=adam(lr=1e-3), sgd=sgd(lr=0.1))
  steps = choose(OPT, adam=100, sgd=300)
}
"""


def test_train_settings_choose_too_and_every_choice_is_checked():
    adam, sgd = ok(TRAINED).graph["train"], ok(TRAINED, OPT="sgd").graph["train"]
    assert (adam.optimizer.name, adam.optimizer.args, adam.steps) == ("adam", {"lr": 1e-3}, 100)
    assert (sgd.optimizer.name, sgd.optimizer.args, sgd.steps) == ("sgd", {"lr": 0.1}, 300)
    assert ok(TRAINED).graph["choices"] == []  # numbers and settings: no parameters to state
    (e,) = errors(TRAINED.replace("sgd=sgd(", "sgd=sdg("))
    assert e.code == "SQN0502" and e.notes[-1].label.startswith("in the choice 'sgd' of train setting optimizer")
    assert [d.code for d in errors(TRAINED, OPT="sdg")] == ["SQN0108", "SQN0108"]  # both settings
