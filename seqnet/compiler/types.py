"""Tensor types of the graph IR: dtypes and shapes whose dims remember how they were written."""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True)
class TensorType:
    """The type of one example's tensor: the batch axis is implicit and not part of `shape`."""

    dtype: str
    shape: tuple[Dim, ...]
    vocab: int | None = None  # integer tensors of token ids carry their vocabulary size

    @staticmethod
    def of(dtype: str, dims, vocab: int | None = None) -> TensorType:
        return TensorType(dtype, tuple(d if isinstance(d, Dim) else Dim(int(d)) for d in dims), vocab)

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
