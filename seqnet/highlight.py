"""A Pygments lexer for .seqnet files: `pygmentize -l seqnet`, and highlighting in Sphinx, MkDocs
and Jupyter, through the `pygments.lexers` entry point in pyproject.toml.

It follows seqnet.lark token for token: keywords, dtypes, numbers, strings, comments, operators;
a name before `(` is a call, a name after `block` a definition. Whatever the grammar would not
lex is an Error token (tests/test_highlight.py: no shipped spec has one). editors/vscode/ holds the
same rules as a TextMate grammar.
"""

from __future__ import annotations

from pygments.lexer import RegexLexer, bygroups, words
from pygments.token import (
    Comment,
    Error,
    Keyword,
    Name,
    Number,
    Operator,
    Punctuation,
    String,
    Text,
    Whitespace,
)  # fmt: skip

from seqnet.compiler.types import DTYPES

DECLARATIONS = ("import", "dim", "const", "input", "output", "block", "wormhole", "segments", "train")
KEYWORDS = ("as", "return", "repeat", "shared", "vocab")
CONSTANTS = ("true", "false", "none")
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"


class SeqnetLexer(RegexLexer):
    name = "seqnet"
    aliases = ["seqnet"]
    filenames = ["*.seqnet"]
    mimetypes = ["text/x-seqnet"]

    tokens = {
        "root": [
            (r"[\t \f]+", Whitespace),
            (r"\r?\n", Whitespace),
            (r"\\[\t \f]*\r?\n", Text),  # a line continued
            (r"#[^\n]*", Comment.Single),
            (r'"([^"\\\n]|\\.)*"', String.Double),
            (r"(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?", Number),
            (rf"(block)([\t ]+)({_NAME})", bygroups(Keyword.Declaration, Whitespace, Name.Function)),
            (words(DECLARATIONS, suffix=r"\b"), Keyword.Declaration),
            (words(KEYWORDS, suffix=r"\b"), Keyword),
            (words(CONSTANTS, suffix=r"\b"), Keyword.Constant),
            (words(DTYPES, suffix=r"(?=\s*\[)"), Keyword.Type),
            (rf"{_NAME}(?=\s*\()", Name.Function),
            (_NAME, Name),
            (r"->|\*\*|//|[-+*/%@=]", Operator),
            (r"[()\[\]{},.:]", Punctuation),
            (r".", Error),
        ],
    }
