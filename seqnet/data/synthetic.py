"""Loaders of the generated tasks (see `seqnet.data.sources` for their definitions).

Each loader draws from its own stream: `rng(name, split, seed)` seeds numpy's PCG64 from
(seed, split, source name), so the same seed gives identical arrays, and train and eval are
independent streams. Arrays are built whole with numpy, so loading 10,000 examples takes
milliseconds.
"""

from __future__ import annotations

import itertools
import math
import zlib

import numpy as np

from seqnet.data.sources import relational_modulus

SPLIT_IDS = {"train": 0, "eval": 1}
DEFAULT_EXAMPLES = {"train": 10_000, "eval": 2_000}
MAX_ELEMENTS = 1 << 24  # default sizes shrink so that one split stays under ~64 MiB


def rng(name: str, split: str, seed: int) -> np.random.Generator:
    key = [seed & 0xFFFF_FFFF_FFFF_FFFF, SPLIT_IDS[split], zlib.crc32(name.encode())]
    return np.random.default_rng(np.random.SeedSequence(key))


def count(split: str, n_examples: int | None, elements_per_example: int) -> int:
    """n_examples, or the default for the split (smaller for large examples)."""
    if n_examples is not None:
        return n_examples
    default = DEFAULT_EXAMPLES[split]
    return max(min(256, default), min(default, MAX_ELEMENTS // max(1, elements_per_example)))


def _i32(a) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.int32)


def _f32(a) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float32)


def _tokens(name: str, split: str, n_examples: int | None, seed: int, n: int, vocab: int,
            length: int) -> np.ndarray:  # fmt: skip
    """Uniform tokens in [0, vocab); with 0 < length < n only the first `length` are drawn and
    the rest are 0, the identity of every monoid task here (xor, sums, counts, the identity
    permutation), so the label is that of the first `length` tokens. Each length draws from its
    own stream, so a curriculum's stages see different examples."""
    stream = name if not 0 < length < n else f"{name}@{length}"
    x = rng(stream, split, seed).integers(0, vocab, size=(count(split, n_examples, n), n))
    if 0 < length < n:
        x[:, length:] = 0
    return x


def parity(split: str, n_examples: int | None, seed: int, n: int, length: int = 0) -> dict:
    x = _tokens("parity", split, n_examples, seed, n, 2, length)
    return {"x": _i32(x), "label": _i32(x.sum(axis=1) % 2)}


def sum_mod(split: str, n_examples: int | None, seed: int, n: int, k: int, length: int = 0) -> dict:
    x = _tokens("sum_mod", split, n_examples, seed, n, k, length)
    return {"x": _i32(x), "label": _i32(x.sum(axis=1) % k)}


def count_mod(split: str, n_examples: int | None, seed: int, n: int, k: int, length: int = 0) -> dict:
    x = _tokens("count_mod", split, n_examples, seed, n, 2, length)
    return {"x": _i32(x), "label": _i32(x.sum(axis=1) % k)}


# --- s5 ------------------------------------------------------------------------------------------

PERMUTATIONS_5 = tuple(itertools.permutations(range(5)))  # lexicographic; index 0 = identity
_PERM_INDEX = {p: i for i, p in enumerate(PERMUTATIONS_5)}


def _composition_table() -> np.ndarray:
    """table[a, b] = index of a o b, the map i -> a(b(i))."""
    table = np.empty((120, 120), dtype=np.int64)
    for a, pa in enumerate(PERMUTATIONS_5):
        for b, pb in enumerate(PERMUTATIONS_5):
            table[a, b] = _PERM_INDEX[tuple(pa[pb[i]] for i in range(5))]
    return table


S5_TABLE = _composition_table()


def s5(split: str, n_examples: int | None, seed: int, n: int, length: int = 0) -> dict:
    x = _tokens("s5", split, n_examples, seed, n, 120, length)
    acc = x[:, 0]
    for t in range(1, n):  # acc = x_1 o ... o x_t
        acc = S5_TABLE[acc, x[:, t]]
    return {"x": _i32(x), "label": _i32(acc)}


# --- brackets ------------------------------------------------------------------------------------


def is_balanced(x: np.ndarray) -> np.ndarray:
    """Rows of 0 = '(' / 1 = ')' that are balanced: depth never negative and back to 0."""
    depth = np.cumsum(1 - 2 * x.astype(np.int64), axis=1)
    return (depth.min(axis=1, initial=0) >= 0) & (depth[:, -1] == 0)


def dyck_words(g: np.random.Generator, rows: int, n: int) -> np.ndarray:
    """Uniformly random balanced strings of even length n (the cycle lemma).

    A random arrangement of n/2 + 1 up-steps and n/2 down-steps has exactly one rotation whose
    partial sums are all positive: the one starting just after the last minimum of its prefix
    sums. Dropping that rotation's first (up) step leaves a uniformly random Dyck word.
    """
    h = n // 2
    steps = np.concatenate([np.ones(h + 1, np.int64), -np.ones(h, np.int64)])
    steps = g.permuted(np.broadcast_to(steps, (rows, n + 1)), axis=1)
    prefix = np.concatenate([np.zeros((rows, 1), np.int64), np.cumsum(steps, axis=1)[:, :-1]], 1)
    start = n - np.argmin(prefix[:, ::-1], axis=1)  # last minimum of S_0 .. S_n
    index = (start[:, None] + np.arange(n + 1)) % (n + 1)
    rotated = np.take_along_axis(steps, index, axis=1)[:, 1:]
    return (rotated < 0).astype(np.int64)  # up-step -> '(' = 0, down-step -> ')' = 1


def _unbalanced(g: np.random.Generator, rows: int, n: int, equal_counts: bool) -> np.ndarray:
    h = n // 2
    base = np.array([0] * h + [1] * (n - h))
    out = np.empty((rows, n), np.int64)
    todo = np.arange(rows)
    while len(todo):
        if equal_counts:
            cand = g.permuted(np.broadcast_to(base, (len(todo), n)), axis=1)
        else:
            cand = g.integers(0, 2, size=(len(todo), n))
        out[todo] = cand
        todo = todo[is_balanced(cand)]
    return out


def brackets(split: str, n_examples: int | None, seed: int, n: int) -> dict[str, np.ndarray]:
    g = rng("brackets", split, seed)
    total = count(split, n_examples, n)
    kind = g.random(total)  # < 1/2: balanced; < 7/8: equal counts, unbalanced; else random
    x = np.empty((total, n), np.int64)
    pos, shuffled = kind < 0.5, (kind >= 0.5) & (kind < 0.875)
    rand = kind >= 0.875
    x[pos] = dyck_words(g, int(pos.sum()), n)
    x[shuffled] = _unbalanced(g, int(shuffled.sum()), n, equal_counts=True)
    x[rand] = _unbalanced(g, int(rand.sum()), n, equal_counts=False)
    return {"x": _i32(x), "label": _i32(is_balanced(x))}


# --- copy / sort ---------------------------------------------------------------------------------


def copy(split: str, n_examples: int | None, seed: int, n: int, vocab: int) -> dict:
    x = rng("copy", split, seed).integers(0, vocab, size=(count(split, n_examples, 2 * n), n))
    return {"x": _i32(x), "target": _i32(x)}


def sort(split: str, n_examples: int | None, seed: int, n: int, vocab: int) -> dict:
    x = rng("sort", split, seed).integers(0, vocab, size=(count(split, n_examples, 2 * n), n))
    return {"x": _i32(x), "target": _i32(np.sort(x, axis=1))}


def reverse(split: str, n_examples: int | None, seed: int, n: int, vocab: int, min_len: int) -> dict:
    g = rng("reverse", split, seed)
    total = count(split, n_examples, 2 * n + 1)
    length = g.integers(min_len, n + 1, size=total)
    tokens = g.integers(2, vocab, size=(total, n))
    t = np.arange(n)
    valid = t < length[:, None]
    x = np.where(valid, tokens, 0)
    backwards = np.clip(length[:, None] - 1 - t, 0, n - 1)  # target[t] = x[length - 1 - t]
    target = np.where(valid, np.take_along_axis(x, backwards, axis=1), 0)
    return {"x": _i32(x), "length": _i32(length), "target": _i32(target)}


# --- sine ----------------------------------------------------------------------------------------


def sine(split: str, n_examples: int | None, seed: int, n: int, horizon: int) -> dict:
    g = rng("sine", split, seed)
    total = count(split, n_examples, 2 * n)
    freq = g.uniform(0.5, 2.0, size=(total, 1))  # cycles per window of n samples
    phase = g.uniform(0.0, 2 * np.pi, size=(total, 1))
    amp = g.uniform(0.5, 1.5, size=(total, 1))
    t = np.arange(n + horizon)
    wave = amp * np.sin(2 * np.pi * freq * t / n + phase)
    return {"x": _f32(wave[:, :n, None]), "target": _f32(wave[:, horizon:, None])}


# --- matvec --------------------------------------------------------------------------------------


def matvec(split: str, n_examples: int | None, seed: int, n: int, sparsity: float,
           binary: bool, symmetric: bool, low: float = -1.0) -> dict:  # fmt: skip
    g = rng("matvec", split, seed)
    total = count(split, n_examples, n * n + 2 * n)
    keep = g.random((total, n, n)) >= sparsity
    values = np.ones((total, n, n)) if binary else g.random((total, n, n))
    adj = np.where(keep, values, 0.0)
    if symmetric:
        upper = np.triu(adj)
        adj = upper + np.swapaxes(np.triu(adj, 1), 1, 2)
    adj = _f32(adj)
    x = _f32(g.uniform(low, 1.0, size=(total, n)))
    target = np.einsum("bij,bj->bi", adj.astype(np.float64), x.astype(np.float64))
    return {"adj": adj, "x": x, "target": _f32(target)}


# --- relational (Match3) -------------------------------------------------------------------------


def has_triple(types: np.ndarray, m: int) -> np.ndarray:
    """Rows holding distinct i < j < k with t_i + t_j + t_k = 0 (mod m)."""
    rows, n = types.shape
    i, j, k = np.array(list(itertools.combinations(range(n), 3))).T
    out = np.empty(rows, bool)
    chunk = max(1, (1 << 22) // len(i))
    for s in range(0, rows, chunk):
        t = types[s : s + chunk]
        out[s : s + chunk] = ((t[:, i] + t[:, j] + t[:, k]) % m == 0).any(axis=1)
    return out


def _plant(g: np.random.Generator, types: np.ndarray, m: int) -> np.ndarray:
    """Copies of `types` with one triple made to sum to 0 mod m (random entities i, j, k)."""
    rows, n = types.shape
    order = np.argsort(g.random((rows, n)), axis=1)[:, :3]
    out = types.copy()
    r = np.arange(rows)
    out[r, order[:, 2]] = (-(out[r, order[:, 0]] + out[r, order[:, 1]])) % m
    return out


def relational_types(g: np.random.Generator, total: int, n: int, m: int):
    """(types, labels): labels are fair coins; types uniform given the label (or planted)."""
    labels = g.random(total) < 0.5
    want_pos, want_neg = int(labels.sum()), int(total - labels.sum())
    pos, neg = [], []
    have_pos = have_neg = 0
    for _ in range(10_000):
        if have_pos >= want_pos and have_neg >= want_neg:
            break
        batch = max(1024, 2 * max(want_pos - have_pos, want_neg - have_neg))
        cand = g.integers(0, m, size=(batch, n))
        lab = has_triple(cand, m)
        take = cand[~lab][: want_neg - have_neg]
        neg.append(take)
        have_neg += len(take)
        take = cand[lab][: want_pos - have_pos]
        pos.append(take)
        have_pos += len(take)
        if have_pos < want_pos:  # natural triples are rare: plant into the rest of this batch
            spare = cand[~lab][len(neg[-1]) :][: want_pos - have_pos]
            pos.append(_plant(g, spare, m))
            have_pos += len(spare)
    else:  # pragma: no cover - the source's argument check keeps label-0 sets common enough
        raise RuntimeError(f"relational: could not sample label-0 sets for n={n}, m={m}")
    types = np.empty((total, n), np.int64)
    types[labels] = np.concatenate(pos)[:want_pos] if want_pos else 0
    types[~labels] = np.concatenate(neg)[:want_neg] if want_neg else 0
    return types, labels


def relational(split: str, n_examples: int | None, seed: int, n: int, m: int, d: int) -> dict:
    g = rng("relational", split, seed)
    mod = relational_modulus(n, m)
    total = count(split, n_examples, n * (d + 1))
    types, labels = relational_types(g, total, n, mod)
    angle = 2 * math.pi * types / mod
    x = np.empty((total, n, d))
    x[..., 0], x[..., 1] = np.cos(angle), np.sin(angle)
    x[..., 2:] = g.uniform(-1.0, 1.0, size=(total, n, d - 2))
    return {"x": _f32(x), "types": _i32(types), "label": _i32(labels)}
