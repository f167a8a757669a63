"""text(path=FILE): the user's own corpus, whose distinct characters decide the vocabulary;
check states it (streaming the file), training reads windows of it, generation decodes with it."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import seqnet
from seqnet import limits
from seqnet.data import DataArgError, load
from seqnet.data.corpus import Codec
from seqnet.data.text_vocab import TEXT_CHARS, TEXT_UNKNOWN, char_ids

CORPUS = "the cat sat on the mat.\n" * 40
SPEC = """\
dim T = 8
input x : int32[T] vocab {vocab}
output y : float32[T, {vocab}] = dense(embed(x, 8), {vocab})
train {{
  data = text(seq_len=T, path="corpus.txt")
  loss = cross_entropy(y, target)
  batch = 4
  steps = 2
  eval_batches = 1
}}
"""
ALPHABET = "".join(sorted(set(CORPUS)))


def _folder(tmp_path):
    (tmp_path / "corpus.txt").write_text(CORPUS)
    return tmp_path


def test_the_corpus_decides_the_vocabulary(tmp_path):
    base = str(_folder(tmp_path))
    vocab = len(ALPHABET) + 1
    model = seqnet.loads(SPEC.format(vocab=vocab), base_dir=base)
    assert model.inputs["x"].vocab == vocab
    with pytest.raises(seqnet.SpecError, match=rf"vocab {vocab}"):
        seqnet.loads(SPEC.format(vocab=vocab + 5), base_dir=base)


def test_windows_read_the_corpus_back(tmp_path):
    base = str(_folder(tmp_path))
    codec = Codec(ALPHABET)
    train = load("text", "train", seq_len=8, path="corpus.txt", base_dir=base)
    held = load("text", "eval", seq_len=8, path="corpus.txt", base_dir=base)
    cut = int(0.9 * len(CORPUS))
    assert codec.decode(train["x"][0]) == CORPUS[:8]
    assert codec.decode(held["x"][0]) == CORPUS[cut:cut + 8]
    np.testing.assert_array_equal(train["target"][:, :-1], train["x"][:, 1:])


def test_generation_decodes_with_the_corpus_vocabulary(tmp_path):
    base = str(_folder(tmp_path))
    model = seqnet.loads(SPEC.format(vocab=len(ALPHABET) + 1), base_dir=base)
    text = model.generate(model.init(jax.random.key(0)), "the ", 12, seed=1)
    assert text.startswith("the ") and len(text) == 16
    assert set(text[4:]) <= set(ALPHABET) | {"\ufffd"}


def test_a_missing_or_escaping_corpus_is_refused_at_its_argument(tmp_path):
    for path, message in (("missing.txt", "text file 'missing.txt' not found in the spec's folder"),
                          ("../corpus.txt", "leads outside the spec's folder")):  # fmt: skip
        with pytest.raises(seqnet.SpecError) as e:
            seqnet.loads(SPEC.format(vocab=5).replace("corpus.txt", path), name="s.seqnet",
                         base_dir=tmp_path)  # fmt: skip
        text = e.value.render()
        assert "s.seqnet:5:" in text and message in text and "hint:" in text


def test_a_corpus_that_is_not_utf8(tmp_path):
    (tmp_path / "corpus.txt").write_bytes(b"abc\xff\xfe")
    with pytest.raises(DataArgError, match="is not UTF-8 text"):
        load("text", "train", seq_len=2, path="corpus.txt", base_dir=str(tmp_path))


def test_a_corpus_over_the_limit_is_refused_before_reading(tmp_path, monkeypatch):
    _folder(tmp_path)
    monkeypatch.setattr(limits, "MAX_CORPUS_BYTES", 100)
    with pytest.raises(DataArgError, match="over the 100-byte limit of a corpus"):
        load("text", "train", seq_len=2, path="corpus.txt", base_dir=str(tmp_path))


@given(text=st.text(), alphabet=st.text().map(lambda s: "".join(dict.fromkeys(s))))
def test_char_ids_are_each_characters_index_in_the_alphabet(text, alphabet):
    """The vectorised encoder against the plain definition, on any text (lone surrogates and
    characters past the BMP included) and any alphabet, sorted or not, empty or not."""
    index = {c: i for i, c in enumerate(alphabet)}
    expected = [index.get(c, len(alphabet)) for c in text]
    got = char_ids(text, alphabet)
    assert got.dtype == np.int32 and got.tolist() == expected


def test_the_built_in_corpus_is_encoded_character_by_character():
    from seqnet.data.fixed import corpus_ids, corpus_text

    expected = [TEXT_CHARS.index(c) if c in TEXT_CHARS else TEXT_UNKNOWN for c in corpus_text()]
    np.testing.assert_array_equal(corpus_ids(), np.asarray(expected, np.int32))
