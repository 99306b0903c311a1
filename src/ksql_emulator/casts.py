"""ksqlDB's conversions: CAST, implicit widening, common types and arithmetic on typed values."""

from __future__ import annotations

import base64
import datetime as dt
import math
import re
from collections.abc import Callable, Iterable
from decimal import ROUND_DOWN, ROUND_HALF_UP, Context, Decimal, InvalidOperation
from typing import Any

from ksql_emulator import types as ty
from ksql_emulator.errors import RuntimeEvaluationError, TypeMismatchError

__all__ = [
    "arithmetic_function",
    "arithmetic_type",
    "can_implicitly_cast",
    "cast_function",
    "common_type",
    "decimal_of",
    "fit_decimal",
    "format_date",
    "format_time",
    "format_timestamp",
    "java_double_str",
    "java_string",
    "parse_date",
    "parse_time",
    "parse_timestamp",
    "to_decimal_type",
    "widen_decimal",
    "wrap_int",
    "wrap_long",
]

Converter = Callable[[Any], Any]
EPOCH = dt.datetime(1970, 1, 1)
_MAX_PRECISION = ty.MAX_DECIMAL_PRECISION

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


# --- text forms ---------------------------------------------------------------------------------


def java_double_str(v: float) -> str:
    """Java's `Double.toString`: `1.0`, `0.001`, `1.0E7`, `1.5E-4`, `NaN`, `Infinity`."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    if v == 0:
        return "-0.0" if math.copysign(1.0, v) < 0 else "0.0"
    if abs(v) == 5e-324:
        # Java prints Double.MIN_VALUE with two digits where the shortest form has one.
        return "-4.9E-324" if v < 0 else "4.9E-324"
    a = abs(v)
    if 1e-3 <= a < 1e7:
        text = repr(v)
        if "e" in text:
            text = format(Decimal(text), "f")
        return text if "." in text else text + ".0"
    sign_bit, digit_tuple, exponent = Decimal(repr(v)).normalize().as_tuple()
    digits = "".join(str(d) for d in digit_tuple)
    sci_exponent = len(digits) + int(exponent) - 1
    first, rest = digits[0], digits[1:] or "0"
    sign = "-" if sign_bit else ""
    return f"{sign}{first}.{rest}E{sci_exponent}"


def decimal_plain(v: Decimal) -> str:
    """Java's `BigDecimal.toPlainString`."""
    return format(v, "f")


def format_timestamp(v: dt.datetime) -> str:
    """ksqlDB's text for a TIMESTAMP: `yyyy-MM-ddTHH:mm:ss.SSS`."""
    return v.strftime("%Y-%m-%dT%H:%M:%S.") + f"{v.microsecond // 1000:03d}"


def format_date(v: dt.date) -> str:
    """ksqlDB's text for a DATE: `yyyy-MM-dd`."""
    return v.isoformat()


def format_time(v: dt.time) -> str:
    """ksqlDB's text for a TIME: `HH:mm:ss`, with `.SSS` when it has milliseconds."""
    base = v.strftime("%H:%M:%S")
    if v.microsecond:
        return base + f".{v.microsecond // 1000:03d}"
    return base


def java_string(v: Any, t: ty.SqlType | None = None) -> str:
    """A value as Java's `toString` prints it inside ksqlDB (used by CAST to STRING)."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return java_double_str(v)
    if isinstance(v, Decimal):
        return decimal_plain(v)
    if isinstance(v, dt.datetime):
        return format_timestamp(v)
    if isinstance(v, dt.date):
        return format_date(v)
    if isinstance(v, dt.time):
        return format_time(v)
    if isinstance(v, bytes):
        return base64.b64encode(v).decode("ascii")
    if isinstance(v, list):
        item = t.item if isinstance(t, ty.ArrayType) else None
        return "[" + ", ".join(java_string(x, item) for x in v) + "]"
    if isinstance(v, dict):
        if isinstance(t, ty.StructType):
            types = dict(t.fields)
            # Kafka Connect's Struct.toString leaves out null fields.
            inner = ",".join(
                f"{k}={java_string(x, types.get(k))}" for k, x in v.items() if x is not None
            )
            return f"Struct{{{inner}}}"
        value_type = t.value if isinstance(t, ty.MapType) else None
        entries = (f"{java_string(k)}={java_string(x, value_type)}" for k, x in v.items())
        return "{" + ", ".join(entries) + "}"
    return str(v)


# --- parsing time values --------------------------------------------------------------------

_TS_RE = re.compile(
    r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:[T ](\d{2})(?::(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?)?)?)?"
    r"(Z|[+-]\d{2}(?::?\d{2})?)?$"
)
_TIME_RE = re.compile(r"^(\d{2})(?::(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?$")


def _tz_offset(text: str | None) -> dt.timedelta:
    if not text or text == "Z":
        return dt.timedelta(0)
    sign = -1 if text[0] == "-" else 1
    body = text[1:].replace(":", "")
    hours = int(body[:2])
    minutes = int(body[2:4]) if len(body) > 2 else 0
    return sign * dt.timedelta(hours=hours, minutes=minutes)


def parse_timestamp(text: str) -> dt.datetime:
    """ksqlDB's partial ISO-8601 timestamp text (`2020-01-02`, `2020-01-02T03:04:05.678Z`)."""
    m = _TS_RE.match(text.strip())
    if m is None:
        raise RuntimeEvaluationError(f"Failed to parse timestamp '{text}'")
    year, month, day, hour, minute, second, frac, zone = m.groups()
    millis = int((frac or "0").ljust(3, "0")[:3])
    try:
        value = dt.datetime(
            int(year),
            int(month or 1),
            int(day or 1),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            millis * 1000,
        )
    except ValueError as err:
        raise RuntimeEvaluationError(f"Failed to parse timestamp '{text}': {err}") from err
    return value - _tz_offset(zone)


def parse_date(text: str) -> dt.date:
    """ISO `yyyy-MM-dd` (a shorter prefix fills with the first month/day)."""
    m = _TS_RE.match(text.strip())
    if m is None or m.group(4) is not None:
        raise RuntimeEvaluationError(f"Failed to parse date '{text}'")
    try:
        return dt.date(int(m.group(1)), int(m.group(2) or 1), int(m.group(3) or 1))
    except ValueError as err:
        raise RuntimeEvaluationError(f"Failed to parse date '{text}': {err}") from err


def parse_time(text: str) -> dt.time:
    """ISO `HH:mm[:ss[.SSS]]`."""
    m = _TIME_RE.match(text.strip())
    if m is None:
        raise RuntimeEvaluationError(f"Failed to parse time '{text}'")
    hour, minute, second, frac = m.groups()
    try:
        return dt.time(
            int(hour),
            int(minute or 0),
            int(second or 0),
            int((frac or "0").ljust(3, "0")[:3]) * 1000,
        )
    except ValueError as err:
        raise RuntimeEvaluationError(f"Failed to parse time '{text}': {err}") from err


# --- decimals -----------------------------------------------------------------------------------


def to_decimal_type(t: ty.SqlType) -> ty.DecimalType | None:
    """The DECIMAL an INTEGER/BIGINT/DECIMAL widens to (ksqlDB's DecimalUtil.toSqlDecimal)."""
    if isinstance(t, ty.DecimalType):
        return t
    if t == ty.INTEGER:
        return ty.DecimalType(10, 0)
    if t == ty.BIGINT:
        return ty.DecimalType(19, 0)
    return None


def widen_decimal(a: ty.DecimalType, b: ty.DecimalType) -> ty.DecimalType:
    """The narrowest DECIMAL holding both (ksqlDB's DecimalUtil.widen)."""
    scale = max(a.scale, b.scale)
    integral = max(a.precision - a.scale, b.precision - b.scale)
    return ty.DecimalType(min(integral + scale, _MAX_PRECISION), scale)


def decimal_of(value: Decimal, precision: int | None = None) -> ty.DecimalType:
    """The DECIMAL type a literal value has."""
    _sign, digits, exponent = value.as_tuple()
    scale = max(0, -int(exponent))
    prec = max(len(digits), scale, 1) if precision is None else precision
    return ty.DecimalType(min(prec, _MAX_PRECISION), scale)


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


# --- implicit casts and common types ---------------------------------------------------------

_NUMERIC_RANK = {"INTEGER": 0, "BIGINT": 1, "DECIMAL": 2, "DOUBLE": 3}


def can_implicitly_cast(src: ty.SqlType | None, dst: ty.SqlType | None) -> bool:
    """Whether ksqlDB widens `src` to `dst` without a CAST (INT->BIGINT->DECIMAL->DOUBLE)."""
    if src is None:
        return True
    if dst is None:
        return False
    if src == dst:
        return True
    if ty.is_numeric(src) and ty.is_numeric(dst):
        if isinstance(dst, ty.DecimalType):
            widened = to_decimal_type(src)
            if widened is None:
                return False
            return (
                widened.scale <= dst.scale
                and widened.precision - widened.scale <= dst.precision - dst.scale
            )
        return _NUMERIC_RANK[src.base] < _NUMERIC_RANK[dst.base]
    if isinstance(src, ty.ArrayType) and isinstance(dst, ty.ArrayType):
        return can_implicitly_cast(src.item, dst.item)
    if isinstance(src, ty.MapType) and isinstance(dst, ty.MapType):
        return can_implicitly_cast(src.key, dst.key) and can_implicitly_cast(src.value, dst.value)
    if isinstance(src, ty.StructType) and isinstance(dst, ty.StructType):
        if [n for n, _ in src.fields] != [n for n, _ in dst.fields]:
            return False
        return all(
            can_implicitly_cast(a, b) for (_, a), (_, b) in zip(src.fields, dst.fields, strict=True)
        )
    return False


def common_type(types: Iterable[ty.SqlType | None]) -> ty.SqlType | None:
    """The type every one of `types` widens to (untyped NULLs ignored), or None if none fits."""
    result: ty.SqlType | None = None
    for t in types:
        if t is None:
            continue
        if result is None:
            result = t
            continue
        merged = _common_pair(result, t)
        if merged is None:
            return None
        result = merged
    return result


def _common_pair(a: ty.SqlType, b: ty.SqlType) -> ty.SqlType | None:
    if a == b:
        return a
    if ty.is_numeric(a) and ty.is_numeric(b):
        if ty.DOUBLE in (a, b):
            return ty.DOUBLE
        da, db = to_decimal_type(a), to_decimal_type(b)
        if isinstance(a, ty.DecimalType) or isinstance(b, ty.DecimalType):
            assert da is not None and db is not None
            return widen_decimal(da, db)
        return ty.BIGINT
    if isinstance(a, ty.ArrayType) and isinstance(b, ty.ArrayType):
        ok, item = _common_nullable(a.item, b.item)
        return ty.ArrayType(item) if ok else None
    if isinstance(a, ty.MapType) and isinstance(b, ty.MapType):
        ok_key, key = _common_nullable(a.key, b.key)
        ok_value, value = _common_nullable(a.value, b.value)
        return ty.MapType(key, value) if ok_key and ok_value else None
    if isinstance(a, ty.StructType) and isinstance(b, ty.StructType):
        if [n for n, _ in a.fields] != [n for n, _ in b.fields]:
            return None
        fields: list[tuple[str, ty.SqlType]] = []
        for (name, fa), (_, fb) in zip(a.fields, b.fields, strict=True):
            merged = _common_pair(fa, fb)
            if merged is None:
                return None
            fields.append((name, merged))
        return ty.StructType(tuple(fields))
    return None


def _common_nullable(a: ty.SqlType | None, b: ty.SqlType | None) -> tuple[bool, ty.SqlType | None]:
    """(fits, type) for element types where None means "unknown" rather than "no fit"."""
    if a is None:
        return True, b
    if b is None:
        return True, a
    merged = _common_pair(a, b)
    return merged is not None, merged


# --- arithmetic ----------------------------------------------------------------------------------

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
