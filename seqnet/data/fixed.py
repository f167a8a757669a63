"""Loaders of the fixed data sets: scikit-learn's digits and the standard-library text corpus.

Their train/eval splits are fixed (they do not depend on the run's seed), so evaluation numbers
are comparable between runs.
"""

from __future__ import annotations

import functools
import gzip
import importlib.util
from pathlib import Path

import numpy as np

from seqnet.data.text_vocab import TEXT_MODULES, encode

DIGITS_SPLIT_SEED = 20240601  # the fixed permutation behind digits' train/eval split
DIGITS_TRAIN_FRACTION = 0.8
TEXT_TRAIN_FRACTION = 0.9
SPLIT_IDS = {"train": 0, "eval": 1}


def _take(arrays: dict[str, np.ndarray], n_examples: int | None) -> dict[str, np.ndarray]:
    if n_examples is None:
        return arrays
    return {k: v[:n_examples] for k, v in arrays.items()}


# --- digits --------------------------------------------------------------------------------------


def _digits_table() -> np.ndarray:
    """scikit-learn's digits as its (1797, 65) table: 64 pixels, then the label.

    Read straight from the CSV that scikit-learn ships, found without importing it: importing
    `sklearn.datasets` pulls in scipy.stats and costs 2 s of CPU, in every process that trains
    on digits, for a 30 ms read. Where the file is not where scikit-learn 1.x keeps it, its
    own loader is used."""
    spec = importlib.util.find_spec("sklearn")
    roots = list(spec.submodule_search_locations or []) if spec is not None else []
    for root in roots:
        path = Path(root) / "datasets" / "data" / "digits.csv.gz"
        if path.is_file():
            with gzip.open(path, "rt", encoding="utf-8") as f:
                return np.loadtxt(f, delimiter=",")
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return np.concatenate([bunch.data, bunch.target[:, None]], axis=1)


@functools.lru_cache(maxsize=1)
def _digits_all() -> tuple[np.ndarray, np.ndarray]:
    table = _digits_table()
    images = table[:, :-1].reshape(-1, 8, 8).astype(np.float32) / np.float32(16.0)
    labels = table[:, -1].astype(np.int32)
    order = np.random.default_rng(DIGITS_SPLIT_SEED).permutation(len(labels))
    images, labels = images[order], labels[order]
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def digits_split_indices(split: str) -> np.ndarray:
    """Positions in scikit-learn's digits order of the split's examples, in the split's order."""
    total = len(_digits_all()[1])
    order = np.random.default_rng(DIGITS_SPLIT_SEED).permutation(total)
    cut = int(round(DIGITS_TRAIN_FRACTION * total))
    return order[:cut] if split == "train" else order[cut:]


def digits(split: str, n_examples: int | None, seed: int, flat: bool) -> dict[str, np.ndarray]:
    images, labels = _digits_all()
    cut = int(round(DIGITS_TRAIN_FRACTION * len(labels)))
    part = slice(0, cut) if split == "train" else slice(cut, None)
    x = images[part].reshape(-1, 64) if flat else images[part][..., None]
    arrays = {"x": np.array(x, dtype=np.float32), "label": np.array(labels[part])}
    return _take(arrays, n_examples)


# --- text ----------------------------------------------------------------------------------------


def module_source(name: str) -> str:
    spec = importlib.util.find_spec(name)
    origin = getattr(spec, "origin", None)
    if not origin or not origin.endswith(".py"):
        raise RuntimeError(f"text corpus: the standard-library module '{name}' has no .py source "
                           f"here (origin: {origin})")  # fmt: skip
    with open(origin, encoding="utf-8", errors="replace") as f:  # universal newlines
        return f.read()


@functools.lru_cache(maxsize=1)
def corpus_text() -> str:
    """The corpus: each module's source (sorted by name), each preceded by a header line."""
    parts = [f"# ==== {name} ====\n{module_source(name)}" for name in sorted(TEXT_MODULES)]
    return "\n".join(parts)


@functools.lru_cache(maxsize=1)
def corpus_ids() -> np.ndarray:
    ids = encode(corpus_text())
    ids.setflags(write=False)
    return ids


def text_split(split: str, total: int | None = None) -> tuple[int, int]:
    """[start, stop) of the split in a corpus of `total` characters (default: the built-in)."""
    total = len(corpus_ids()) if total is None else total
    cut = int(TEXT_TRAIN_FRACTION * total)
    return (0, cut) if split == "train" else (cut, total)


def text(split: str, n_examples: int | None, seed: int, seq_len: int, path: str = "",
         base_dir: str | None = None) -> dict[str, np.ndarray]:  # fmt: skip
    """Windows of seq_len + 1 characters inside the split: x = w[:-1], target = w[1:].

    n_examples=None: consecutive windows (stride seq_len, every character of the split but
    the tail). A number: windows at random offsets in the split, drawn from (seed, split).
    """
    if path:
        from seqnet.data import corpus

        ids = corpus.ids(path, base_dir)
    else:
        ids = corpus_ids()
    start, stop = text_split(split, len(ids))
    span = stop - start
    if span < seq_len + 1:
        from seqnet.data.sources import DataArgError

        raise DataArgError(f"seq_len={seq_len} is longer than the {split} split ({span - 1})",
                           arg="seq_len")  # fmt: skip
    if n_examples is None:
        offsets = start + np.arange(0, span - seq_len, seq_len)
    else:
        g = np.random.default_rng(np.random.SeedSequence([seed & (2**64 - 1), SPLIT_IDS[split]]))
        offsets = start + g.integers(0, span - seq_len, size=n_examples)
    windows = ids[offsets[:, None] + np.arange(seq_len + 1)]
    x, target = windows[:, :-1], windows[:, 1:]
    return {"x": np.ascontiguousarray(x), "target": np.ascontiguousarray(target)}
