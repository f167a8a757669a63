"""Values that names are bound to during elaboration (the compiler's interpreter values)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from seqnet.compiler.types import TensorType
from seqnet.source import Span


@dataclass(frozen=True)
class Num:
    """A number known at compile time, with the text it was written as (for shapes: `2*E`)."""

    value: int | float
    text: str
    span: Span | None = None

    @property
    def is_int(self) -> bool:
        return isinstance(self.value, int) and not isinstance(self.value, bool)


@dataclass(frozen=True)
class Poison:
    """The value of a name whose definition failed (its error is already reported)."""

    name: str


@dataclass(frozen=True)
class Str:
    value: str
    span: Span | None = None


@dataclass(frozen=True)
class Bool:
    value: bool
    span: Span | None = None


@dataclass(frozen=True)
class Symbol:
    """A bare name bound to nothing: fine where a choice is expected (act=relu, share=per_level)."""

    name: str
    span: Span


@dataclass(frozen=True)
class TensorRef:
    node: str
    port: int
    type: TensorType
    span: Span  # where the value was produced (for "shape came from here" notes)


@dataclass(frozen=True)
class ListVal:
    items: tuple
    span: Span | None = None


@dataclass(frozen=True)
class TupleVal:
    """Several results (a block returning two tensors, split, lstm with return_state)."""

    items: tuple
    span: Span | None = None


@dataclass(frozen=True)
class OpRef:
    name: str


@dataclass(frozen=True)
class BlockRef:
    block: Any  # grammar.ast.BlockDef
    scope: Any  # the module scope it was defined in
    qualname: str


@dataclass(frozen=True)
class Namespace:
    name: str
    members: dict = field(default_factory=dict)


@dataclass(frozen=True)
class SegmentsRef:
    name: str
    stmt: Any  # grammar.ast.Segments
    structure: Any  # compiler.segments.SegmentStructure
    share: str
    scope: Any


def describe(value) -> str:
    """How a value is named in messages: 'a tensor float32[N]', 'the number 3', ..."""
    if isinstance(value, TensorRef):
        return f"a tensor {value.type}"
    if isinstance(value, Num):
        shown = repr(value.value) if isinstance(value.value, float) else str(value.value)
        return f"the number {shown}" + (f" ({value.text})" if value.text != shown else "")
    if isinstance(value, Str):
        return f'the string "{value.value}"'
    if isinstance(value, Bool):
        return "true" if value.value else "false"
    if isinstance(value, Symbol):
        return f"the name '{value.name}'"
    if isinstance(value, ListVal):
        return "a list"
    if isinstance(value, TupleVal):
        return f"{len(value.items)} values"
    if isinstance(value, OpRef):
        return f"the op '{value.name}'"
    if isinstance(value, BlockRef):
        return f"the block '{value.qualname}'"
    if isinstance(value, Namespace):
        return f"the import '{value.name}'"
    if isinstance(value, SegmentsRef):
        return f"the segment structure '{value.name}'"
    return type(value).__name__


def spell(value) -> str:
    """A plain attribute value as a spec writes it: true, false, none, [1, 2] (not Python's
    True, False, None, (1, 2)), for hints and `--emit graph`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(spell(v) for v in value) + "]"
    return str(value)
