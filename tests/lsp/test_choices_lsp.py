"""The language server on choices: `choose` completes and hovers with each choice's parameters
(which one the settings chose), and a wormhole's `enabled=` completes and hovers. In-process,
on the analysis the server keeps (no server started)."""

from __future__ import annotations

from pathlib import Path

from seqnet.lsp.analysis import analyse
from seqnet.lsp.complete import complete
from seqnet.lsp.hover import hover_text

TEXT = """\
const BLOCK = "attn"
const WORMHOLE = false
input x : float32[8, 16]
h = dense(x, 16)
h = choose(BLOCK, attn=attention(h, heads=2), mlp=dense(h, 16, act=relu))
g = dense(h, 16, act=tanh)
wormhole g -> h enabled=WORMHOLE
output y : float32[2] = dense(mean(g), 2)
"""


def test_hover_on_choose_states_each_choices_parameters_and_the_chosen_one():
    a = analyse(TEXT, Path("t.seqnet"))
    assert not [d for d in a.diagnostics if d.severity == "error"]
    text = hover_text(a, 5, 6)  # on `choose`
    assert "choose(KEY, name=value, ...)" in text
    assert "attn 1,040 parameters (chosen), mlp 272 parameters" in text
    assert hover_text(a, 5, 48) == "choice `mlp` of `choose(BLOCK)` (not chosen: BLOCK = attn): 272 parameters"
    assert "chosen" in hover_text(a, 5, 20) and "1,040" in hover_text(a, 5, 20)  # on `attn=`
    assert "as if its line were deleted" in hover_text(a, 7, 18)  # on `enabled=`


def test_choose_and_enabled_complete():
    lines = TEXT.splitlines()
    assert "choose" in {w.label for w in complete(None, [*lines[:4], "h = cho"], 5, 8)}
    assert "enabled" in {w.label for w in complete(None, [*lines[:6], "wormhole g -> h "], 7, 17)}
