"""Tensor types of the graph IR: dtypes and shapes whose dims remember how they were written."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

DTYPES = ("float32", "float16", "bfloat16", "float64", "int32", "int64", "int8", "uint8", "bool")
FLOAT_DTYPES = ("float32", "float16", "bfloat16", "float64")
INT_DTYPES = ("int32", "int64", "int8", "uint8")
DTYPE_BYTES = {
    "float32": 4, "float16": 2, "bfloat16": 2, "float64": 8,
    "int32": 4, "int64": 8, "int8": 1, "uint8": 1, "bool": 1,
}  # fmt: skip


@dataclass(frozen=True)
class Dim:
    """A concrete size, and the expression it was written as (`N`, `2*E`), for display."""

    value: int
    expr: str | None = None

    def __str__(self) -> str:
        return self.expr if self.expr is not None else str(self.value)

    def __eq__(self, other) -> bool:  # sizes compare by value; the text is only for people
        if isinstance(other, Dim):
            return self.value == other.value
        if isinstance(other, int):
            return self.value == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.value)


_TERM = re.compile(r"([+-]?)([A-Za-z_0-9*/.]+)")


def sum_expr(exprs: list[str]) -> str | None:
    """The text of a sum of dims, constants folded: ["E-2", "2"] -> "E", ["N", "N"] -> "N+N";
    None when no name is left (the number itself reads best). Texts with brackets stay as written."""
    terms: list[str] = []
    const = 0
    for e in exprs:
        text = e.replace(" ", "")
        if "(" in text or ")" in text or not text:
            return "+".join(exprs)
        pos = 0
        for m in _TERM.finditer(text):
            if m.start() != pos or (pos and not m.group(1)):
                return "+".join(exprs)
            pos = m.end()
            sign, body = m.group(1) or "+", m.group(2)
            if body.isdigit():
                const += int(body) if sign == "+" else -int(body)
            else:
                terms.append(sign + body)
        if pos != len(text):
            return "+".join(exprs)
    if not terms:
        return None
    out = "".join(terms).lstrip("+")
    if const:
        out += f"{const:+d}"
    return out


class NamedInt(int):
    """An integer attribute written with dims (`E`, `2*E`, `E - 2`): shape rules that make a Dim
    of it keep the text, so shapes show what the user wrote. Shape rules only; the graph stores
    plain ints."""

    expr: str

    def __new__(cls, value: int, expr: str):
        obj = super().__new__(cls, value)
        obj.expr = expr
        return obj

    def __reduce__(self):
        return NamedInt, (int(self), self.expr)


def plain(value):
    """`value` with NamedInts (also inside tuples) turned back into ints."""
    if isinstance(value, NamedInt):
        return int(value)
    if isinstance(value, tuple):
        return tuple(plain(v) for v in value)
    return value


@dataclass(frozen=True)
class TensorType:
    """The type of one example's tensor: the batch axis is implicit and not part of `shape`."""

    dtype: str
    shape: tuple[Dim, ...]
    vocab: int | None = None  # integer tensors of token ids carry their vocabulary size
    # the closed range every value lies in, where a data source knows it (for the type rules of
    # losses: bce needs targets in [0, 1]); not part of the type's identity
    bounds: tuple[float, float] | None = field(default=None, compare=False)

    @staticmethod
    def of(dtype: str, dims, vocab: int | None = None, bounds=None) -> TensorType:
        return TensorType(dtype, tuple(d if isinstance(d, Dim) else Dim(int(d), getattr(d, "expr", None))
                                       for d in dims), vocab, bounds)  # fmt: skip

    @property
    def dims(self) -> tuple[int, ...]:
        return tuple(d.value for d in self.shape)

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        n = 1
        for d in self.shape:
            n *= d.value
        return n

    @property
    def nbytes(self) -> int:
        return self.size * DTYPE_BYTES[self.dtype]

    @property
    def is_float(self) -> bool:
        return self.dtype in FLOAT_DTYPES

    def with_shape(self, dims, dtype: str | None = None) -> TensorType:
        return TensorType.of(dtype or self.dtype, dims)

    def __str__(self) -> str:
        text = f"{self.dtype}[{', '.join(str(d) for d in self.shape)}]"
        return text + (f" vocab {self.vocab}" if self.vocab is not None else "")

    def resolved(self) -> str:
        return f"{self.dtype}[{', '.join(str(d.value) for d in self.shape)}]"
