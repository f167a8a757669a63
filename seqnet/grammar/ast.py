"""The .seqnet abstract syntax tree: immutable nodes, each carrying its source span."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from seqnet.source import SourceFile, Span

# --- expressions -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Name:
    id: str
    span: Span


@dataclass(frozen=True)
class Number:
    value: int | float
    text: str
    span: Span


@dataclass(frozen=True)
class String:
    value: str
    span: Span


@dataclass(frozen=True)
class ListExpr:
    items: tuple[Expr, ...]
    span: Span


@dataclass(frozen=True)
class BinOp:
    op: str  # + - * / // % ** @
    left: Expr
    right: Expr
    span: Span


@dataclass(frozen=True)
class Neg:
    operand: Expr
    span: Span


@dataclass(frozen=True)
class Keyword:
    name: str
    value: Expr
    span: Span  # the `name=` part
    name_span: Span


@dataclass(frozen=True)
class Call:
    func: Expr
    args: tuple[Expr, ...]
    kwargs: tuple[Keyword, ...]
    span: Span
    # a positional argument written after a keyword one (reported by elaboration)
    misplaced: tuple[Expr, ...] = ()


@dataclass(frozen=True)
class Attribute:
    value: Expr
    attr: str
    span: Span
    attr_span: Span


@dataclass(frozen=True)
class Slice:
    """`start:stop:step` inside a subscript; a part left out is None."""

    start: Expr | None
    stop: Expr | None
    step: Expr | None
    span: Span


@dataclass(frozen=True)
class Subscript:
    """`x[1:, -1]`: one item per leading axis of one example, an index or a Slice."""

    value: Expr
    items: tuple[Expr | Slice, ...]
    span: Span


@dataclass(frozen=True)
class Repeat:
    count: Expr
    shared: bool
    body: tuple[Stmt, ...]
    span: Span


Expr = Union[Name, Number, String, ListExpr, BinOp, Neg, Call, Attribute, Subscript, Repeat]

# --- statements --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Import:
    path: str
    alias: str | None
    span: Span
    path_span: Span


@dataclass(frozen=True)
class DimDef:
    kind: str  # "dim" | "const"
    name: str
    value: Expr
    span: Span
    name_span: Span


@dataclass(frozen=True)
class TensorType:
    dtype: str
    dims: tuple[Expr, ...]
    vocab: Expr | None
    span: Span
    dtype_span: Span


@dataclass(frozen=True)
class InputDecl:
    name: str
    type: TensorType
    span: Span
    name_span: Span


@dataclass(frozen=True)
class OutputDecl:
    name: str
    type: TensorType | None
    value: Expr | None
    span: Span
    name_span: Span


@dataclass(frozen=True)
class Param:
    name: str
    default: Expr | None
    span: Span


@dataclass(frozen=True)
class BlockDef:
    name: str
    params: tuple[Param, ...]
    body: tuple[Stmt, ...]
    span: Span
    name_span: Span
    end_span: Span  # the closing brace


@dataclass(frozen=True)
class Assign:
    targets: tuple[Name, ...]
    value: Expr
    span: Span


@dataclass(frozen=True)
class Return:
    values: tuple[Expr, ...]
    span: Span


@dataclass(frozen=True)
class ExprStmt:
    value: Expr
    span: Span


@dataclass(frozen=True)
class Setting:
    name: str
    value: Expr
    span: Span
    name_span: Span


@dataclass(frozen=True)
class Wormhole:
    source: Name
    target: Name
    settings: tuple[Setting, ...]
    span: Span


@dataclass(frozen=True)
class Segments:
    name: str
    structure: Expr
    settings: tuple[Setting, ...]
    span: Span
    name_span: Span


@dataclass(frozen=True)
class Train:
    settings: tuple[Setting, ...]
    span: Span


Stmt = Union[
    Import, DimDef, InputDecl, OutputDecl, BlockDef, Assign, Return, ExprStmt, Wormhole, Segments,
    Train,
]  # fmt: skip


@dataclass(frozen=True)
class Comment:
    text: str
    span: Span


@dataclass(frozen=True)
class Module:
    source: SourceFile
    body: tuple[Stmt, ...]
    comments: tuple[Comment, ...] = field(default=())


def is_call(e, name: str) -> bool:
    """`e` is a call written `name(...)` (a bare name, not an attribute): the train section's
    structured settings (mesh, nodes, lengths) and the formatter's and checker's `choose`."""
    return isinstance(e, Call) and isinstance(e.func, Name) and e.func.id == name
