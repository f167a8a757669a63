"""A loss of several terms: `loss = cross_entropy(y, label) + 0.1 * mse(z, target)`.

The loss expression is read as a weighted sum: `+` and `-` between terms, a term is a loss call
or one multiplied or divided by a compile-time number (a const works: `w * mse(z, t)`). Each
term is then type-checked on its own by the objective rules (train.py), so an error points at
the term that is wrong; the runtime trains the weighted sum and logs every term as
`loss/<name>`.
"""

from __future__ import annotations

import math

from seqnet.compiler import values as V
from seqnet.errors import CompileError
from seqnet.grammar import ast

_FORM = "a loss is a call, cross_entropy(y, label), or a weighted sum of them: " \
        "cross_entropy(y, label) + 0.1 * mse(z, target)"  # fmt: skip


def split_terms(el, e, ctx, weight: float = 1.0) -> list[tuple[float, ast.Call]]:
    """[(weight, loss call), ...] in the order written."""
    if isinstance(e, ast.Call):
        return [(weight, e)]
    if isinstance(e, ast.Neg):
        return split_terms(el, e.operand, ctx, -weight)
    if isinstance(e, ast.BinOp) and e.op in ("+", "-"):
        right = -weight if e.op == "-" else weight
        return split_terms(el, e.left, ctx, weight) + split_terms(el, e.right, ctx, right)
    if isinstance(e, ast.BinOp) and e.op == "*":
        term, factor = (e.left, e.right) if _is_term(e.left) else (e.right, e.left)
        return split_terms(el, term, ctx, weight * _number(el, factor, ctx))
    if isinstance(e, ast.BinOp) and e.op == "/":
        divisor = _number(el, e.right, ctx)
        if divisor == 0:
            raise CompileError("SQN0604", "division by zero", e.right.span)
        return split_terms(el, e.left, ctx, weight / divisor)
    raise CompileError("SQN0502", "a loss must be a loss call or a weighted sum of them",
                       e.span, hint=_FORM)  # fmt: skip


def _is_term(e) -> bool:
    return isinstance(e, (ast.Call, ast.BinOp, ast.Neg))


def _number(el, e, ctx) -> float:
    value = el.evaluate(e, ctx)
    if isinstance(value, V.Num) and math.isfinite(float(value.value)):
        return float(value.value)
    if isinstance(value, V.Symbol):
        raise el._unknown(value, ctx)
    raise CompileError("SQN0502", f"a loss term's weight must be a number, but this is "
                       f"{V.describe(value)}", e.span, hint=_FORM)  # fmt: skip


def term_keys(terms) -> list[str]:
    """The metric name each term is logged as: `loss/<loss>`, or `loss/<loss>_<output>_<target>`
    where one loss appears in two terms."""
    names = [t.name for t in terms]
    return [f"loss/{t.name}" if names.count(t.name) == 1 else f"loss/{t.name}_{t.output}_{t.target}"
            for t in terms]  # fmt: skip
