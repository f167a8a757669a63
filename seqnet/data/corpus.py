"""`text(path=FILE)`: a person's own UTF-8 text as the character corpus.

The corpus decides its vocabulary: its distinct characters, sorted by code point, get ids
0..n-1, and id n stands for any other character (a prompt may hold one the corpus lacks), so
vocab = n + 1. `seqnet check` states that vocabulary without holding the file: it streams it
in chunks, and a file over limits.MAX_CORPUS_BYTES is refused before it is read.
Train is the first 90% of the characters, eval the rest, windows as for the built-in corpus.
"""

from __future__ import annotations

import codecs
import functools
import os
from pathlib import Path

import numpy as np

from seqnet import limits
from seqnet.data.errors import DataArgError
from seqnet.data.text_vocab import char_ids

CHUNK = 1 << 20


def resolve(path: str, base_dir: str | None) -> Path:
    """The corpus file, inside the spec's folder tree (as for npz files)."""
    base = Path(base_dir if base_dir is not None else os.getcwd()).resolve()
    full = (base / path).resolve()
    if not (full == base or base in full.parents):
        raise DataArgError(f"text path '{path}' leads outside the spec's folder", arg="path",
                           hint="put the corpus beside the spec, or below it")  # fmt: skip
    if not full.is_file():
        raise DataArgError(f"text file '{path}' not found in the spec's folder", arg="path",
                           hint="give the corpus file's path relative to the spec")  # fmt: skip
    size, most = full.stat().st_size, limits.MAX_CORPUS_BYTES
    if size > most:
        raise DataArgError(f"text file '{path}' is {size} bytes, over the {most}-byte "
                           "limit of a corpus", arg="path",
                           hint="train on a part of it (split the file)")  # fmt: skip
    return full


def _stat(full: Path) -> tuple:
    st = full.stat()
    return (str(full), st.st_size, st.st_mtime_ns)


def _chunks(full: Path, shown: str):
    """The file's text in pieces, newlines made universal; DataArgError if it is not UTF-8."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    pending_cr = False
    try:
        with open(full, "rb") as f:
            while True:
                raw = f.read(CHUNK)
                text = decoder.decode(raw, final=not raw)
                if pending_cr:
                    text = "\r" + text
                pending_cr = text.endswith("\r") and bool(raw)
                if pending_cr:
                    text = text[:-1]
                yield text.replace("\r\n", "\n").replace("\r", "\n")
                if not raw:
                    return
    except UnicodeDecodeError as e:
        raise DataArgError(f"text file '{shown}' is not UTF-8 text (byte {e.start} of a chunk)",
                           arg="path", hint="save the corpus as UTF-8") from None  # fmt: skip


@functools.lru_cache(maxsize=8)
def _chars(key: tuple, shown: str) -> str:
    seen: set[str] = set()
    count = 0
    for piece in _chunks(Path(key[0]), shown):
        seen.update(piece)
        count += len(piece)
    if count < 2:
        raise DataArgError(f"text file '{shown}' holds {count} character(s): too few to learn from",
                           arg="path")  # fmt: skip
    return "".join(sorted(seen))


def chars(path: str, base_dir: str | None) -> str:
    """The corpus's characters in id order (the vocabulary less its unknown id)."""
    full = resolve(path, base_dir)
    return _chars(_stat(full), path)


def vocab(path: str, base_dir: str | None) -> int:
    return len(chars(path, base_dir)) + 1


class Codec:
    """encode / decode with a corpus's vocabulary (unknown characters -> the last id)."""

    def __init__(self, alphabet: str):
        self.alphabet = alphabet
        self.unknown = len(alphabet)

    def encode(self, text: str) -> list[int]:
        return char_ids(text, self.alphabet).tolist()

    def decode(self, ids) -> str:
        return "".join(self.alphabet[i] if 0 <= i < self.unknown else "\ufffd" for i in map(int, ids))


def ids(path: str, base_dir: str | None) -> np.ndarray:
    full = resolve(path, base_dir)
    codec = Codec(_chars(_stat(full), path))
    pieces = [char_ids(piece, codec.alphabet) for piece in _chunks(full, path)]
    out = np.concatenate(pieces) if pieces else np.zeros(0, np.int32)
    out.setflags(write=False)
    return out
