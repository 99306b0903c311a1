"""Values in a pull query's WHERE clause: key literals coerced as ksqlDB's strict coercer does,
and datetime strings compared with window bounds read as epoch millis."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from ksql_emulator import sql_types as ty

__all__ = ["NO", "coerce_strict", "partial_timestamp"]

NO = object()  # no value of the wanted type


def coerce_strict(value: Any, typ: Any) -> Any:
    """ksqlDB's strict coercion: numbers widen, nothing else converts."""
    if isinstance(value, bool):
        return value if typ == ty.BOOLEAN else NO
    if isinstance(value, str):
        return value if typ == ty.STRING else NO
    if isinstance(value, int):
        if typ in (ty.INTEGER, ty.BIGINT):
            return value if typ == ty.BIGINT or -(2**31) <= value < 2**31 else NO
        if typ == ty.DOUBLE:
            return float(value)
        if isinstance(typ, ty.DecimalType):
            return Decimal(value)
        return NO
    if isinstance(value, Decimal | float):
        if typ == ty.DOUBLE:
            return float(value)
        if isinstance(typ, ty.DecimalType) and isinstance(value, Decimal):
            return value
        return NO
    return value


_PARTIAL = re.compile(
    r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?"
    r"(?:T(\d{2})(?::(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?)?)?"
    r"(Z|[+-]\d{2}:?\d{2})?$"
)


def partial_timestamp(text: str) -> int | None:
    """Epoch millis of a partial ISO datetime, as ksqlDB's PartialStringToTimestampParser reads
    one: missing fields are their minimum, no zone means UTC, hour 24 is the next midnight."""
    m = _PARTIAL.match(text.strip())
    if m is None:
        return None
    year, month, day, hour, minute, second, millis, zone = m.groups()
    tz = dt.UTC
    if zone and zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        tz = dt.timezone(sign * dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    hours = int(hour or 0)
    base = dt.datetime(
        int(year),
        int(month or 1),
        int(day or 1),
        0,
        int(minute or 0),
        int(second or 0),
        int((millis or "0").ljust(3, "0")) * 1000,
        tzinfo=tz,
    )
    return int((base + dt.timedelta(hours=hours)).timestamp() * 1000)
