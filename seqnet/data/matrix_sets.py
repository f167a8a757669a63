"""The ensemble mask network's training matrices (Algorithm 1's set d, mechanisms.md 4).

d holds binary symmetric n x n matrices (diagonal free) "distributed proportionally to its sample
space with respect to the L1 norm": for every norm s, round(p(s) |d|) matrices of norm s (largest
remainder, so the total is |d|), p(s) the share of all binary symmetric n x n matrices having norm
s, each drawn uniformly among the matrices of that norm. In generation order: ascending norm.
"""

from __future__ import annotations

import math

import numpy as np


def default_size(n: int) -> int:
    """|d| = round(36 n^1.3), the paper's matrix set size."""
    return round(36 * n**1.3)


def _log_comb(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def _norm_weights(n: int) -> dict[int, list[tuple[int, float]]]:
    """norm s -> [(diagonal ones a, log share of the matrices with a diagonal and (s - a) / 2
    off-diagonal pairs among all binary symmetric n x n matrices)]."""
    m = n * (n - 1) // 2
    total = (n + m) * math.log(2.0)
    out: dict[int, list[tuple[int, float]]] = {}
    for a in range(n + 1):
        for b in range(m + 1):
            out.setdefault(a + 2 * b, []).append((a, _log_comb(n, a) + _log_comb(m, b) - total))
    return out


def stratified_counts(n: int, size: int) -> dict[int, int]:
    """norm s -> how many matrices of norm s a set of `size` holds."""
    weights = _norm_weights(n)
    norms = sorted(weights)
    share = np.array([sum(math.exp(w) for _, w in weights[s]) for s in norms])
    exact = share / share.sum() * size
    counts = np.floor(exact).astype(int)
    counts[np.argsort(-(exact - counts), kind="stable")[: size - counts.sum()]] += 1
    return {s: int(c) for s, c in zip(norms, counts, strict=True) if c}


def sample_matrices(rng: np.random.Generator, n: int, size: int) -> np.ndarray:
    """`size` binary symmetric n x n matrices (float32), stratified by L1 norm."""
    weights = _norm_weights(n)
    m = n * (n - 1) // 2
    iu = np.triu_indices(n, 1)
    out = np.zeros((size, n, n), np.float32)
    r = 0
    for s, count in stratified_counts(n, size).items():
        diagonals = [a for a, _ in weights[s]]
        logs = np.array([w for _, w in weights[s]])
        pa = np.exp(logs - logs.max())
        pa /= pa.sum()
        for _ in range(count):
            a = diagonals[rng.choice(len(diagonals), p=pa)]
            diag = rng.permutation(n)[:a]
            off = rng.permutation(m)[: (s - a) // 2]
            out[r, diag, diag] = 1.0
            out[r, iu[0][off], iu[1][off]] = 1.0
            out[r, iu[1][off], iu[0][off]] = 1.0
            r += 1
    return out


def session_matrices(condition: str, n: int, size: int, seed: int, session: int) -> np.ndarray:
    """The matrix set of one meta-epoch (`session`, from 0), a function of its arguments only
    (so a resumed run sees the sets an uninterrupted one would): control, the first set every
    session; shuffled, the first set permuted anew each session; subsampled, a new set each
    session (the first session's is the first set)."""
    if condition == "subsampled":
        return sample_matrices(np.random.default_rng([seed, n, session]), n, size)
    d = sample_matrices(np.random.default_rng([seed, n, 0]), n, size)
    if condition == "shuffled":
        d = d[np.random.default_rng([seed, n, session, 1]).permutation(size)]
    return d
