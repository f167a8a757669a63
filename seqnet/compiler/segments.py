"""Segment structures (fusion encoder networks): the set S of segments and the split function.

A segment (i, j), 1-based and inclusive, stands for tokens x_i..x_j. `validate` checks the four
properties of the paper's section 6 on any structure, built-in or user-given.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SegmentStructure:
    n: int
    splits: dict[tuple[int, int], int]  # (i, j) -> sigma(i, j) for i < j
    kind: str = "custom"
    # (L(v), R(v), split) of each internal vertex of the tree the structure came from (binary_tree)
    vertices: tuple[tuple[int, int, int], ...] = ()

    @property
    def segments(self) -> list[tuple[int, int]]:
        """Every segment of S in a fixed order: by length, then start."""
        singles = [(i, i) for i in range(1, self.n + 1)]
        return singles + sorted(self.splits, key=lambda s: (s[1] - s[0], s[0]))

    def level(self, seg: tuple[int, int]) -> int:
        """Depth of the segment's split vertex in the tree (0 for tokens): the per_level sharing key."""
        if seg[0] == seg[1]:
            return 0
        depth = 0
        i, j = seg
        while i != j:  # follow splits down the longer side until we reach a token
            s = self.splits[(i, j)]
            i, j = (i, s) if s - i >= j - s - 1 else (s + 1, j)
            depth += 1
        return depth

    @property
    def depth(self) -> int:
        return max((self.level(s) for s in self.splits), default=0)


def binary_tree(n: int) -> SegmentStructure:
    """The paper's section 11 structure, on a balanced full binary tree over leaves 1..n (any n)."""
    splits: dict[tuple[int, int], int] = {}
    vertices: list[tuple[int, int, int]] = []

    def build(lo: int, hi: int) -> None:
        if lo == hi:
            return
        mid = (lo + hi - 1) // 2  # R(l): the left child covers lo..mid
        vertices.append((lo, hi, mid))
        for j in range(mid + 1, hi + 1):
            splits.setdefault((lo, j), mid)
        for i in range(lo, mid + 1):
            splits.setdefault((i, hi), mid)
        build(lo, mid)
        build(mid + 1, hi)

    build(1, n)
    return SegmentStructure(n, splits, "binary_tree", tuple(vertices))


def validate(s: SegmentStructure) -> list[str]:
    """The violated properties, each as a sentence; empty when the structure is valid."""
    problems: list[str] = []
    present = set(s.splits) | {(i, i) for i in range(1, s.n + 1)}
    for (i, j), sigma in sorted(s.splits.items()):
        if not 1 <= i <= j <= s.n:
            problems.append(f"segment ({i}, {j}) is not within 1..{s.n} with i <= j")
            continue
        if i == j:
            problems.append(f"segment ({i}, {j}) has one token and cannot have a split point")
            continue
        if not i <= sigma <= j - 1:
            problems.append(f"split point {sigma} of ({i}, {j}) is not in [{i}, {j - 1}]")
            continue
        for part in ((i, sigma), (sigma + 1, j)):
            if part not in present:
                problems.append(f"({i}, {j}) splits at {sigma}, but its part {part} is not in S")
    for i in range(1, s.n + 1):
        for seg in ((1, i), (i, s.n)):
            if seg not in present:
                problems.append(f"every prefix and suffix must be in S, but {seg} is missing")
    return problems


def custom(n: int, triples: list[tuple[int, int, int]]) -> SegmentStructure:
    return SegmentStructure(n, {(i, j): k for i, j, k in triples}, "custom")
