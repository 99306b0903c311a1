"""Values as ksqlDB writes and reads them in text: Java's toString forms, ISO-8601 times."""

from __future__ import annotations

import base64
import datetime as dt
import math
import re
from decimal import Decimal
from typing import Any

from ksql_emulator import sql_types as ty
from ksql_emulator.errors import RuntimeEvaluationError

__all__ = [
    "format_date",
    "format_time",
    "format_timestamp",
    "java_double_str",
    "java_string",
    "parse_date",
    "parse_time",
    "parse_timestamp",
]

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
    return format(_unsigned_zero(v), "f")


def decimal_string(v: Decimal) -> str:
    """Java's `BigDecimal.toString`, as Jackson writes a DECIMAL into JSON: scientific notation
    for small exponents (`1E-7`), as Python's `str` writes it too."""
    return str(_unsigned_zero(v))


def _unsigned_zero(v: Decimal) -> Decimal:
    # A BigDecimal zero has no sign: Python's -0.00 (-0.001 rounded to cents, -1.00 * 0)
    # is written 0.00.
    return v.copy_abs() if not v and v.is_signed() else v


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
