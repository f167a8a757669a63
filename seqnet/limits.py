"""Every size and count limit a spec is held to, in one place.

Each is checked from the spec before the work it bounds is done (a line is measured before it is
lexed, a repeat's count before its copies are built, a literal before it is converted), and each
breach is a located SQN0005 (or, for numbers, SQN0604) with a hint, never a hang, an exhausted
memory or a traceback. tests/test_limits.py has a test for every one of them.
"""

from __future__ import annotations

# --- reading and parsing (seqnet/pipeline.py, seqnet/grammar/parser.py) ----------------------
MAX_FILE_BYTES = 16 * 1024 * 1024  # one spec file
MAX_LINE_CHARS = 100_000  # one line: measured before lexing, so a 10 MB one-liner is refused at once
MAX_STATEMENT_TOKENS = 100_000  # tokens of one statement (lines inside ( ) and [ ] included)
MAX_NUMBER_CHARS = 100  # characters of one number literal (no valid number needs more)
MAX_SYNTAX_ERRORS = 20  # reported per file; the rest would only echo the first ones
MAX_NESTING = 200  # brackets open at once
# How deep one statement may nest: every operator, call, attribute, value and block body on the
# way from the statement to its innermost value is a level (a call or list counts twice: the AST
# keeps its arguments in a tuple). `y = x + x + ... + x` with N terms is N levels deep, as is
# `y = --...-x` with N - 1 minuses. Later stages walk the AST recursively, `seqnet --emit ast`
# with the interpreter's default limit (1000 frames): keep this well below that. The others run
# inside `recursion_room`.
MAX_EXPR_DEPTH = 800

# --- elaboration (seqnet/compiler/) ------------------------------------------------------------
MAX_INT = 2**62  # the largest integer a spec may write or compute (literal or arithmetic)
MAX_DIM = 2**31 - 1  # one tensor axis or parameter axis: XLA indexes axes with int32
MAX_REPEAT = 100_000  # copies one repeat makes
MAX_BLOCK_DEPTH = 64  # blocks expanding inside each other
MAX_NODES = 100_000  # graph nodes, regions included: checked before a repeat builds its copies
MAX_SEGMENT_N = 65_536  # sequence length of a segment structure


# --- data (seqnet/data/) ----------------------------------------------------------------------
# A text(path=...) corpus: its characters become int32 ids in memory (4 bytes each), and check
# streams it once to state its vocabulary.
MAX_CORPUS_BYTES = 256 * 1024 * 1024


# --- the language server (seqnet/lsp/) -------------------------------------------------------
# The largest document checked as it is typed. Larger ones (generated specs) get one warning that
# says so, and `seqnet check` still checks them: parsing costs about 0.1 ms per byte of short
# statements today (100 KB: ~10 s on a loaded 2-core machine), and an editor must never wait on
# a compile it cannot cancel.
MAX_LSP_BYTES = 128 * 1024
LSP_DEBOUNCE_MS = 120  # how long typing must pause before a document is checked again
