"""Names in messages: the 'did you mean' suggestion, and what a name looks like. A leaf module:
every stage that suggests a spelling imports it (elaboration, mechanisms, the train section).

difflib compares the name with every candidate, so a spec with thousands of names and an error
in each statement spent its time there (44 s for 4,000 statements). Small candidate sets (every
real case up to EXACT_UP_TO names) still go to difflib whole, so their suggestions are exactly
what they always were. Larger sets, a scope's names, are searched through a NameIndex, which
narrows them to the names close to the query before difflib ranks those: a name that one
deletion from it and at most two from the query make equal (a typo, two typos of most kinds, but
not two missing letters). The cost of a suggestion then depends on how many names are that
close, not on the size of the scope.
"""

from __future__ import annotations

import difflib
import re
from collections import defaultdict
from collections.abc import Iterable

IDENT = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")
EXACT_UP_TO = 500


def did_you_mean(name: str, candidates) -> str | None:
    matches = difflib.get_close_matches(name, sorted(candidates), n=1, cutoff=0.6)
    return f"did you mean '{matches[0]}'?" if matches else None


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


class NameIndex:
    """A growing set of names, indexed by each name and its one-character deletions (the
    symmetric-delete scheme: two names within an edit or two share a key)."""

    def __init__(self, names: Iterable[str] = ()):
        self.names: set[str] = set()
        self._keys: dict[str, set[str]] = defaultdict(set)
        for n in names:
            self.add(n)

    def __len__(self) -> int:
        return len(self.names)

    def add(self, name: str) -> None:
        if name in self.names:
            return
        self.names.add(name)
        for key in _deletions(name) | {name}:
            self._keys[key].add(name)

    def near(self, name: str, deletions: int) -> set[str]:
        """Names sharing a key with `name` or its deletions, up to `deletions` (1 or 2) deep."""
        keys = _deletions(name) | {name}
        if deletions > 1:
            keys |= {d for k in list(keys) for d in _deletions(k)}
        out: set[str] = set()
        for key in keys:
            out |= self._keys.get(key, set())
        return out


def did_you_mean_among(name: str, indexes: list[NameIndex], extra: Iterable[str] = ()) -> str | None:
    """did_you_mean over the union of `indexes` (a scope chain) and `extra`, without comparing
    `name` with every name once they are many: the nearest names (one deletion, else two) only."""
    extra = set(extra)
    if sum(len(i) for i in indexes) + len(extra) <= EXACT_UP_TO:
        return did_you_mean(name, extra.union(*(i.names for i in indexes)))
    for depth in (1, 2):
        pool = set().union(*(i.near(name, depth) for i in indexes))
        if pool:
            return did_you_mean(name, pool | extra)
    return did_you_mean(name, extra)
