"""Names in messages: the 'did you mean' suggestion, and what a name looks like. A leaf module:
every stage that suggests a spelling imports it (elaboration, mechanisms, the train section)."""

from __future__ import annotations

import difflib
import re

IDENT = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")


def did_you_mean(name: str, candidates) -> str | None:
    matches = difflib.get_close_matches(name, sorted(candidates), n=1, cutoff=0.6)
    return f"did you mean '{matches[0]}'?" if matches else None
