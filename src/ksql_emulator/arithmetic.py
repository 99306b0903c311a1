"""Arithmetic on typed values as ksqlDB does it: result types, Java's overflow and division."""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Any

from ksql_emulator import sql_types as ty
from ksql_emulator.casts import fit_decimal, wrap_int, wrap_long
from ksql_emulator.errors import RuntimeEvaluationError, TypeMismatchError
from ksql_emulator.widening import to_decimal_type

__all__ = [
    "arithmetic_function",
    "arithmetic_type",
]

_MAX_PRECISION = ty.MAX_DECIMAL_PRECISION
# Wide enough that + - * and % are exact; fit_decimal then rounds to the result type.
_CTX = Context(prec=200)

_OPS = ("+", "-", "*", "/", "%")


def _cap(precision: int, scale: int) -> ty.DecimalType:
    precision = min(precision, _MAX_PRECISION)
    return ty.DecimalType(max(precision, 1), min(scale, precision))


def _decimal_result(op: str, a: ty.DecimalType, b: ty.DecimalType) -> ty.DecimalType:
    # ksqlDB's Operator rules, which follow SQL Server's for DECIMAL results.
    p1, s1, p2, s2 = a.precision, a.scale, b.precision, b.scale
    if op in ("+", "-"):
        scale = max(s1, s2)
        return _cap(max(p1 - s1, p2 - s2) + scale + 1, scale)
    if op == "*":
        return _cap(p1 + p2 + 1, s1 + s2)
    if op == "/":
        scale = max(6, s1 + p2 + 1)
        return _cap(p1 - s1 + s2 + scale, scale)
    scale = max(s1, s2)
    return _cap(min(p1 - s1, p2 - s2) + scale, scale)


def arithmetic_type(op: str, left: ty.SqlType | None, right: ty.SqlType | None) -> ty.SqlType:
    """The result type of `left op right` (op in + - * / %), or TypeMismatchError.

    None (an untyped NULL literal) on either side is an error, as in ksqlDB.
    """
    if op not in _OPS:
        raise TypeMismatchError(f"Unsupported arithmetic operator: {op}")
    if left is None or right is None:
        # ksqlDB refuses an untyped NULL operand outright (rest insert-values.json).
        raise TypeMismatchError(
            f"Arithmetic on types {_or_null(left)} and {_or_null(right)} are not supported."
        )
    if op == "+" and left == ty.STRING and right == ty.STRING:
        return ty.STRING
    if not (ty.is_numeric(left) and ty.is_numeric(right)):
        # ksqlDB names the base types here: DECIMAL, not DECIMAL(2, 1).
        raise TypeMismatchError(f"Unsupported arithmetic types. {left.base} {right.base}")
    if ty.DOUBLE in (left, right):
        return ty.DOUBLE
    if isinstance(left, ty.DecimalType) or isinstance(right, ty.DecimalType):
        dl, dr = to_decimal_type(left), to_decimal_type(right)
        assert dl is not None and dr is not None
        return _decimal_result(op, dl, dr)
    if ty.BIGINT in (left, right):
        return ty.BIGINT
    return ty.INTEGER


def _or_null(t: ty.SqlType | None) -> str:
    return "null" if t is None else str(t)


def _java_div(a: int, b: int) -> int:
    if b == 0:
        raise RuntimeEvaluationError("/ by zero")
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def _java_mod(a: int, b: int) -> int:
    if b == 0:
        raise RuntimeEvaluationError("/ by zero")
    return a - b * _java_div(a, b)


def _double_div(a: float, b: float) -> float:
    if b == 0:
        if a == 0 or math.isnan(a):
            return math.nan
        sign = math.copysign(1.0, a) * math.copysign(1.0, b)
        return math.inf * sign
    return a / b


def _double_mod(a: float, b: float) -> float:
    if b == 0 or math.isinf(a) or math.isnan(a) or math.isnan(b):
        return math.nan
    return math.fmod(a, b)


_INT_OPS: dict[str, Callable[[int, int], int]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": _java_div,
    "%": _java_mod,
}

_DOUBLE_OPS: dict[str, Callable[[float, float], float]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": _double_div,
    "%": _double_mod,
}


def _decimal_op(op: str, result: ty.DecimalType) -> Callable[[Decimal, Decimal], Decimal]:
    ctx = Context(prec=result.precision, rounding=ROUND_HALF_UP)

    def apply(a: Decimal, b: Decimal) -> Decimal:
        if op in ("/", "%") and b == 0:
            raise RuntimeEvaluationError("Division by zero")
        if op == "+":
            raw = _CTX.add(a, b)
        elif op == "-":
            raw = _CTX.subtract(a, b)
        elif op == "*":
            raw = _CTX.multiply(a, b)
        elif op == "/":
            raw = ctx.divide(a, b)
        else:
            raw = _CTX.remainder(a, b)
        return fit_decimal(raw, result)

    return apply


def _to_decimal(v: Any) -> Decimal:
    return v if isinstance(v, Decimal) else Decimal(v)


def arithmetic_function(
    op: str, left: ty.SqlType | None, right: ty.SqlType | None
) -> Callable[[Any, Any], Any]:
    """A callable computing `left op right` on values; null in gives null out.

    Integer overflow wraps as Java's does; integer or DECIMAL division by zero raises
    RuntimeEvaluationError (ksqlDB nulls the column); DOUBLE division gives Infinity/NaN.
    """
    result = arithmetic_type(op, left, right)
    if result == ty.STRING:
        return lambda a, b: None if a is None or b is None else a + b
    if result == ty.DOUBLE:
        fd = _DOUBLE_OPS[op]
        return lambda a, b: None if a is None or b is None else fd(float(a), float(b))
    if isinstance(result, ty.DecimalType):
        fdec = _decimal_op(op, result)
        return lambda a, b: None if a is None or b is None else fdec(_to_decimal(a), _to_decimal(b))
    fi = _INT_OPS[op]
    wrap = wrap_int if result == ty.INTEGER else wrap_long
    return lambda a, b: None if a is None or b is None else wrap(fi(a, b))
