"""The training-mode registry: every mode's definition, read by the compiler (check), the
backends (their drivers) and the language server (completion), so the three never disagree.

A mode is written in the train section as a name or a call with keyword settings:
`mode = local`, `mode = mask_merge(meta_epochs=16, condition=shuffled)`. Its settings are declared
here with their kind, default, choices and doc; `--set condition=shuffled` overrides one by name.
This module is a leaf: catalog.py loads the modules that define the modes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

SETTING_KINDS = ("int", "choice")


@dataclass(frozen=True)
class ModeSetting:
    name: str
    kind: str  # one of SETTING_KINDS
    default: Any
    choices: tuple[str, ...] = ()
    doc: str = ""
    low: int = 0  # the least value an "int" setting takes

    def problem(self, value) -> str | None:
        """What is wrong with `value` (a plain Python value) for this setting; None if fine."""
        if self.kind == "int":
            if isinstance(value, bool) or not isinstance(value, int) or value < self.low:
                kinds = {0: "a non-negative integer", 1: "a positive integer"}
                return "must be " + kinds.get(self.low, f"a whole number of at least {self.low}")
            return None
        if value not in self.choices:
            return "must be one of " + ", ".join(self.choices)
        return None

    def example(self) -> str:
        return str(self.choices[0] if self.kind == "choice" else max(self.default, self.low))


@dataclass(frozen=True)
class ModeProblem:
    """A check's finding: reported at the value of the train setting `where` (a mode setting's
    name points at its keyword value; "mode" at the mode itself)."""

    code: str
    message: str
    where: str
    hint: str | None = None


@dataclass(frozen=True)
class ModeContext:
    """What a mode's check reads: the graph, the resolved train settings (by key) and the mode's
    own settings (defaults filled in)."""

    graph: Any
    settings: dict[str, Any]
    args: dict[str, Any]
    written: frozenset[str]  # the train keys the section (or --set) writes


@dataclass
class ModeDef:
    name: str
    doc: str
    settings: tuple[ModeSetting, ...] = ()
    dtypes: tuple[str, ...] = ("float32", "bfloat16")  # the compute dtypes it trains in
    check: Callable[[ModeContext], list[ModeProblem]] | None = None
    # the mode setting that counts its steps (mask_merge: meta_epochs), None: `steps` does
    steps_setting: str | None = None
    curriculum: bool = True  # trains on minibatches of the data source (a curriculum can shorten)
    drivers: dict[str, Any] = field(default_factory=dict)  # backend -> driver

    def setting(self, name: str) -> ModeSetting | None:
        return next((s for s in self.settings if s.name == name), None)

    def resolved(self, args: dict[str, Any]) -> dict[str, Any]:
        """The mode's settings with the defaults filled in."""
        return {s.name: args.get(s.name, s.default) for s in self.settings}

    def signature(self) -> str:
        if not self.settings:
            return self.name
        return f"{self.name}(" + ", ".join(f"{s.name}={s.default}" for s in self.settings) + ")"


MODES: dict[str, ModeDef] = {}


def mode(name: str, doc: str, **kw) -> ModeDef:
    """Define a mode (once, in its module)."""
    if name in MODES:
        raise ValueError(f"mode {name} is defined twice")
    MODES[name] = definition = ModeDef(name, doc, **kw)
    return definition


def register_driver(name: str, backend: str):
    """Decorator: `@register_driver("local", "jax")` attaches a backend's driver to a mode."""

    def attach(driver):
        MODES[name].drivers[backend] = driver
        return driver

    return attach
