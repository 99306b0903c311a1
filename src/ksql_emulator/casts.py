"""CAST: a converter per (source, target) type, with Java's narrowing and DECIMAL(p, s) fitting."""

from __future__ import annotations

import base64
import datetime as dt
import math
import re
from collections.abc import Callable
from decimal import ROUND_DOWN, ROUND_HALF_UP, Context, Decimal, InvalidOperation
from typing import Any

from ksql_emulator import sql_types as ty
from ksql_emulator.errors import RuntimeEvaluationError, TypeMismatchError
from ksql_emulator.text_forms import (
    java_double_str,
    java_string,
    parse_date,
    parse_time,
    parse_timestamp,
)

__all__ = [
    "cast_function",
    "fit_decimal",
    "wrap_int",
    "wrap_long",
]

Converter = Callable[[Any], Any]
EPOCH = dt.datetime(1970, 1, 1)

# --- integers as Java has them --------------------------------------------------------------


def wrap_int(v: int) -> int:
    """`v` wrapped to a Java int, as Java's int arithmetic overflows."""
    return ((v + 2**31) % 2**32) - 2**31


def wrap_long(v: int) -> int:
    """`v` wrapped to a Java long."""
    return ((v + 2**63) % 2**64) - 2**63


def _saturate_long(v: float) -> int:
    """A double narrowed to long as Java's `(long) d` does: NaN is 0, out of range saturates."""
    if math.isnan(v):
        return 0
    if v >= 2**63:
        return 2**63 - 1
    if v <= -(2**63):
        return -(2**63)
    return int(v)


def _double_to_int(v: float) -> int:
    if math.isnan(v):
        return 0
    if v >= 2**31:
        return 2**31 - 1
    if v <= -(2**31):
        return -(2**31)
    return int(v)


# --- fitting to DECIMAL(p, s) ---------------------------------------------------------------


def fit_decimal(value: Decimal, t: ty.DecimalType) -> Decimal:
    """`value` rounded HALF_UP to t's scale; raises when it needs more digits than t has."""
    try:
        q = value.quantize(Decimal(1).scaleb(-t.scale), rounding=ROUND_HALF_UP, context=_CTX)
    except InvalidOperation as err:
        raise RuntimeEvaluationError(_overflow_message(value, t)) from err
    digits = len(q.as_tuple().digits)
    integral = digits - t.scale if q != 0 else 0
    if integral > t.precision - t.scale:
        raise RuntimeEvaluationError(_overflow_message(value, t))
    return q


def _overflow_message(value: Decimal, t: ty.DecimalType) -> str:
    return (
        f"Numeric field overflow: A field with precision {t.precision} and scale {t.scale} "
        f"must round to an absolute value less than 10^{t.precision - t.scale}. Got {value}"
    )


_CTX = Context(prec=200)

# --- CAST ----------------------------------------------------------------------------------------

_INT_TEXT = re.compile(r"^[+-]?\d+$")
_DOUBLE_TEXT = re.compile(
    r"^[+-]?(NaN|Infinity|((\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)[fFdD]?|0[xX][0-9a-fA-F]+)$"
)
_TRUE = {"true", "t", "yes", "y"}
_FALSE = {"false", "f", "no", "n"}


def _str_to_int(bits: int) -> Converter:
    def convert(v: str) -> int:
        text = v.strip()
        if not _INT_TEXT.match(text):
            raise RuntimeEvaluationError(f'For input string: "{v}"')
        n = int(text)
        if not -(2 ** (bits - 1)) <= n < 2 ** (bits - 1):
            raise RuntimeEvaluationError(f'For input string: "{v}"')
        return n

    return convert


def _str_to_double(v: str) -> float:
    text = v.strip()
    if not _DOUBLE_TEXT.match(text):
        raise RuntimeEvaluationError(f'For input string: "{v}"')
    return float(text.rstrip("fFdD") if not text.endswith("Infinity") else text)


def _str_to_bool(v: str) -> bool:
    text = v.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise RuntimeEvaluationError(f"Not a boolean: {v}")


def _str_to_decimal(t: ty.DecimalType) -> Converter:
    def convert(v: str) -> Decimal:
        try:
            value = Decimal(v.strip())
        except InvalidOperation as err:
            raise RuntimeEvaluationError(f"Cannot convert '{v}' to {t}") from err
        if not value.is_finite():
            raise RuntimeEvaluationError(f"Cannot convert '{v}' to {t}")
        return fit_decimal(value, t)

    return convert


def _num_to_decimal(t: ty.DecimalType) -> Converter:
    def convert(v: Any) -> Decimal:
        if isinstance(v, float):
            if not math.isfinite(v):
                raise RuntimeEvaluationError(f"Cannot convert {java_double_str(v)} to {t}")
            # Java's BigDecimal.valueOf(double) goes through Double.toString.
            return fit_decimal(Decimal(repr(v)), t)
        return fit_decimal(Decimal(v), t)

    return convert


def _decimal_to_int(v: Decimal) -> int:
    return wrap_int(int(v.to_integral_value(rounding=ROUND_DOWN)))


def _decimal_to_long(v: Decimal) -> int:
    return wrap_long(int(v.to_integral_value(rounding=ROUND_DOWN)))


def _unsupported(src: ty.SqlType, dst: ty.SqlType) -> TypeMismatchError:
    return TypeMismatchError(f"Cast of {src} to {dst} is not supported")


def _nullsafe(f: Converter) -> Converter:
    def convert(v: Any) -> Any:
        return None if v is None else f(v)

    return convert


def cast_function(src: ty.SqlType, dst: ty.SqlType) -> Converter:
    """A converter for CAST(x AS dst) on values of type `src`; None passes through as None.

    Raises TypeMismatchError when ksqlDB rejects the cast; the converter raises
    RuntimeEvaluationError for a value that does not convert (ksqlDB nulls that column).
    """
    return _nullsafe(_cast(src, dst))


def _cast(src: ty.SqlType, dst: ty.SqlType) -> Converter:
    if src == dst:
        return lambda v: v
    if dst == ty.STRING:
        return lambda v: java_string(v, src)
    if isinstance(dst, ty.ArrayType):
        if not isinstance(src, ty.ArrayType):
            raise _unsupported(src, dst)
        item = _item_cast(src.item, dst.item, src, dst)
        return lambda v: [item(x) for x in v]
    if isinstance(dst, ty.MapType):
        if not isinstance(src, ty.MapType):
            raise _unsupported(src, dst)
        kc = _item_cast(src.key, dst.key, src, dst)
        vc = _item_cast(src.value, dst.value, src, dst)
        return lambda v: {kc(k): vc(x) for k, x in v.items()}
    if isinstance(dst, ty.StructType):
        return _struct_cast(src, dst)
    if src == ty.STRING:
        return _from_string(dst, src)
    simple = _SIMPLE_CASTS.get((src.base, dst.base))
    if simple is not None:
        return simple
    if isinstance(dst, ty.DecimalType) and (ty.is_numeric(src)):
        return _num_to_decimal(dst)
    raise _unsupported(src, dst)


def _item_cast(
    s: ty.SqlType | None, d: ty.SqlType | None, src: ty.SqlType, dst: ty.SqlType
) -> Converter:
    if s is None or d is None:
        return lambda v: v
    try:
        return _nullsafe(_cast(s, d))
    except TypeMismatchError as err:
        raise _unsupported(src, dst) from err


def _struct_cast(src: ty.SqlType, dst: ty.StructType) -> Converter:
    if not isinstance(src, ty.StructType):
        raise _unsupported(src, dst)
    source_fields = dict(src.fields)
    plan: list[tuple[str, Converter | None]] = []
    for name, field_type in dst.fields:
        s = source_fields.get(name)
        plan.append((name, None if s is None else _item_cast(s, field_type, src, dst)))

    def convert(v: dict[str, Any]) -> dict[str, Any]:
        return {n: (None if c is None else c(v.get(n))) for n, c in plan}

    return convert


def _from_string(dst: ty.SqlType, src: ty.SqlType) -> Converter:
    if dst == ty.INTEGER:
        return _str_to_int(32)
    if dst == ty.BIGINT:
        return _str_to_int(64)
    if dst == ty.DOUBLE:
        return _str_to_double
    if dst == ty.BOOLEAN:
        return _str_to_bool
    if isinstance(dst, ty.DecimalType):
        return _str_to_decimal(dst)
    if dst == ty.TIMESTAMP:
        return parse_timestamp
    if dst == ty.DATE:
        return parse_date
    if dst == ty.TIME:
        return parse_time
    if dst == ty.BYTES:
        return lambda v: base64.b64decode(v.encode("ascii"), validate=True)
    raise _unsupported(src, dst)


def _ts_to_date(v: dt.datetime) -> dt.date:
    return v.date()


def _ts_to_time(v: dt.datetime) -> dt.time:
    return v.time()


def _date_to_ts(v: dt.date) -> dt.datetime:
    return dt.datetime(v.year, v.month, v.day)


_SIMPLE_CASTS: dict[tuple[str, str], Converter] = {
    ("INTEGER", "BIGINT"): lambda v: v,
    ("INTEGER", "DOUBLE"): float,
    ("BIGINT", "INTEGER"): wrap_int,
    ("BIGINT", "DOUBLE"): float,
    ("DOUBLE", "INTEGER"): _double_to_int,
    ("DOUBLE", "BIGINT"): _saturate_long,
    ("DECIMAL", "INTEGER"): _decimal_to_int,
    ("DECIMAL", "BIGINT"): _decimal_to_long,
    ("DECIMAL", "DOUBLE"): float,
    ("BOOLEAN", "BOOLEAN"): lambda v: v,
    ("TIMESTAMP", "DATE"): _ts_to_date,
    ("TIMESTAMP", "TIME"): _ts_to_time,
    ("DATE", "TIMESTAMP"): _date_to_ts,
}
