"""A catalogue of common mistakes, each with the message and hint a person should see.

Like Lark's `match_examples`: every bad example is parsed once, and the parser state plus the
token at which it fails identify the mistake. The same table drives the golden tests.
"""

from __future__ import annotations

from collections.abc import Callable

from lark.exceptions import UnexpectedToken

# (message, hint, examples that make this mistake)
MISTAKES: list[tuple[str, str, list[str]]] = [
    (
        "an input needs ':' between its name and its type",
        "write 'input x : float32[N]'",
        ["input x float32[4]\n", "input x int32[4] vocab 2\n"],
    ),
    (
        "an output needs ':' between its name and its type",
        "write 'output y : float32[2]'",
        ["output y float32[4]\n"],
    ),
    (
        "a dim or const needs '=' and a value",
        "write 'dim N = 64'",
        ["dim N\n", "dim N 64\n", "dim N: 64\n", "const lr\n"],
    ),
    (
        "seqnet uses '=' to assign",
        "write 'h = dense(x, 32)'",
        ["h := dense(x, 32)\n", "h : dense(x)\n"],
    ),
    (
        "a tensor type's shape goes in square brackets",
        "write 'float32[N, E]'",
        ["input x : float32(4)\n", "input x : float32\n", "output y : float32\n"],
    ),
    (
        "a wormhole names its source and target with '->'",
        "write 'wormhole h3 -> h1 gate=sigmoid'",
        ["wormhole h3 h1\n", "wormhole h3, h1\n", "wormhole h3 = h1\n"],
    ),
    (
        "wormhole settings are written 'name=value'",
        "write 'wormhole h3 -> h1 tol=1e-3 max_iter=300'",
        ["wormhole h3 -> h1 tol 1e-3\n", "wormhole h3 -> h1 (tol=1)\n"],
    ),
    (
        "a repeat needs a count",
        "write 'h = repeat 4 { block(h) }'",
        ["h = repeat { f(h) }\n"],
    ),
    (
        "a repeat's body goes in braces",
        "write 'h = repeat 4 { block(h) }' or 'h = repeat 4 shared { block(h) }'",
        ["h = repeat 4 f(h)\n", "h = repeat 4 shared f(h)\n", "h = repeat 4 (f(h))\n"],
    ),
    (
        "a block is defined with 'block name(params) { ... }'",
        "seqnet has no 'def' or 'fn'; write 'block mlp(x, out) { ... }'",
        ["def mlp(x) {\n}\n", "fn mlp(x) {\n}\n", "function mlp(x) {\n}\n"],
    ),
    (
        "a block's body goes in braces",
        "write 'block mlp(x) {' and end the body with '}'",
        ["block mlp(x):\n", "block mlp(x)\n", "block mlp(x) =\n"],
    ),
    (
        "a block's parameters are names, optionally with defaults",
        "write 'block mlp(x, out, hidden=64) { ... }'",
        ["block mlp(x: tensor) {\n}\n", "block mlp(1) {\n}\n", "block mlp(f(x)) {\n}\n"],
    ),
    (
        "settings go in braces, one 'name = value' per line",
        "write 'train {' on one line, then 'steps = 1000' and so on, and '}' at the end",
        ["train:\n", "train =\n", "train steps = 1\n"],
    ),
    (
        "each setting is 'name = value'",
        "write for example 'steps = 1000'",
        ["train {\nsteps 1000\n}\n", "train {\nsteps: 1000\n}\n", "train {\n3\n}\n"],
    ),
    (
        "seqnet has no loops; stack layers with 'repeat'",
        "write 'h = repeat 4 { block(h) }'",
        ["for i in range(3) {\n}\n", "while x {\n}\n"],
    ),
    (
        "seqnet has no 'if': a spec describes one fixed network",
        "make the choice a const and pick it from outside: 'const act = relu', then "
        "'--set act=gelu'; or keep the variants in two specs",
        ["if True:\n", "if x {\n}\n", "elif x:\n", "else:\n"],
    ),
    (
        "seqnet imports whole files, named in double quotes",
        'write \'import "lib.seqnet"\' (its blocks join this spec\'s names) or '
        '\'import "lib.seqnet" as lib\' and call lib.mlp(...)',
        ["from lib import mlp\n", "from lib.blocks import mlp, f\n"],
    ),
    (
        "separate arguments with ','",
        "write 'dense(h, 32)'",
        ["h = dense(x 32)\n", "h = dense(x units=32)\n", "h = f(x, 3 4)\n"],
    ),
    (
        "a keyword argument needs a value after '='",
        "write 'dense(h, 32, act=relu)'",
        ["h = dense(x, act=)\n", "h = dense(x, act=,)\n"],
    ),
    (
        "an assignment needs a value after '='",
        "write 'h = dense(x, 32)'",
        ["h =\n", "h = \n", "h = )\n"],
    ),
    (
        "an import names a file in double quotes",
        'write \'import "blocks.seqnet"\' or \'import "blocks.seqnet" as lib\'',
        ["import blocks\n", "import blocks.seqnet\n"],
    ),
    (
        "a statement cannot start with a number",
        "start with a name: 'h = 3 * x'",
        ["3 = x\n"],
    ),
    (
        "two expressions in a row",
        "join them with an operator or put them in separate statements",
        ["h = f(x) g(x)\n", "h = x y\n", "h = 3 x\n"],
    ),
    (
        "a segment structure needs its blocks in braces",
        "write 'segments tree = binary_tree(N) {' then 'token = ...', 'fusion = ...', 'decoder = ...' and '}'",
        ["segments tree = binary_tree(8)\n"],
    ),
]


MistakeIndex = tuple[dict, dict]


def index_mistakes(first_error: Callable[[str], tuple | None]) -> MistakeIndex:
    """Two indexes: (state, token type, first word of the statement) -> mistake, which tells
    `for i in ...` from `def f(...)`, and the coarser (state, token type) -> first mistake seen.
    `first_error(text)` is the parser's (state, token type, first word) of the first syntax error
    in `text`: passed in, so this catalogue needs nothing from the parser (no import cycle)."""
    specific: dict[tuple, tuple[str, str]] = {}
    coarse: dict[tuple, tuple[str, str]] = {}
    for message, hint, examples in MISTAKES:
        for example in examples:
            err = first_error(example)
            if err is None:
                continue  # tests/grammar/test_syntax_errors.py requires every example to fail
            specific.setdefault(err, (message, hint))
            coarse.setdefault(err[:2], (message, hint))
    return specific, coarse


def known_mistake(index: MistakeIndex, e: UnexpectedToken, first: str | None = None) -> tuple[str, str] | None:
    specific, coarse = index
    key = (e.state.position, e.token.type)
    return specific.get((*key, first)) or coarse.get(key)
