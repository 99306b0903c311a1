"""ksqlDB's date and time built-ins (timestamp-to-string.json, stringtimestamp.json...)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

from ksql_emulator import sql_types as ty
from ksql_emulator.functions.javatime import java_format, java_zone
from ksql_emulator.functions.registry import FunctionRegistry

__all__ = ["from_epoch_ms", "register", "to_epoch_ms"]

S, INT, BIGINT = ty.STRING, ty.INTEGER, ty.BIGINT
TS, DATE, TIME, UNIT = ty.TIMESTAMP, ty.DATE, ty.TIME, ty.INTERVALUNIT
EPOCH = dt.datetime(1970, 1, 1)
EPOCH_DATE = dt.date(1970, 1, 1)


def to_epoch_ms(v: dt.datetime) -> int:
    """A naive-UTC TIMESTAMP value as epoch milliseconds."""
    delta = v - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def from_epoch_ms(ms: int) -> dt.datetime:
    """Epoch milliseconds as a naive-UTC TIMESTAMP value."""
    return EPOCH + dt.timedelta(milliseconds=ms)


def _ts_to_string(ms: int, pattern: str, zone: str = "UTC") -> str:
    return java_format(pattern).format(from_epoch_ms(ms), java_zone(zone))


def _string_to_ts(text: str, pattern: str, zone: str | None = None) -> int:
    return to_epoch_ms(_parse_ts(text, pattern, zone))


def _format_ts(value: dt.datetime, pattern: str, zone: str = "UTC") -> str:
    return java_format(pattern).format(value, java_zone(zone))


def _parse_ts(text: str, pattern: str, zone: str | None = None) -> dt.datetime:
    tz = java_zone(zone) if zone is not None else None
    return java_format(pattern).parse(text, tz)


def _format_date(value: dt.date, pattern: str) -> str:
    return java_format(pattern).format_local(dt.datetime(value.year, value.month, value.day))


def _parse_date(text: str, pattern: str) -> dt.date:
    # PARSE_DATE and PARSE_TIME go through SimpleDateFormat, which ignores trailing text
    # (null.json: "coalesce - with parse_date").
    local, _zone = java_format(pattern).parse_local(text, allow_trailing=True)
    if local.time() != dt.time(0):
        raise ValueError(f"Date format contains time field: {pattern}")
    return local.date()


def _format_time(value: dt.time, pattern: str) -> str:
    return java_format(pattern).format_local(dt.datetime.combine(EPOCH_DATE, value))


def _parse_time(text: str, pattern: str) -> dt.time:
    local, _zone = java_format(pattern).parse_local(text, allow_trailing=True)
    return local.time()


def _date_to_string(days: int, pattern: str) -> str:
    return _format_date(EPOCH_DATE + dt.timedelta(days=days), pattern)


def _string_to_date(text: str, pattern: str) -> int:
    return (_parse_date(text, pattern) - EPOCH_DATE).days


_UNIT_MS = {
    "NANOSECONDS": 1e-6,
    "MICROSECONDS": 1e-3,
    "MILLISECONDS": 1,
    "SECONDS": 1000,
    "MINUTES": 60_000,
    "HOURS": 3_600_000,
    "DAYS": 86_400_000,
}


def _unit_delta(unit: str, amount: int) -> dt.timedelta:
    factor = _UNIT_MS.get(unit.upper())
    if factor is None:
        raise ValueError(f"Unsupported time unit: {unit}")
    return dt.timedelta(milliseconds=amount * factor)


def _date_add(unit: str, amount: int, value: dt.date) -> dt.date:
    delta = _unit_delta(unit, amount)
    return value + dt.timedelta(days=delta // dt.timedelta(days=1))


def _time_add(unit: str, amount: int, value: dt.time) -> dt.time:
    moved = dt.datetime.combine(EPOCH_DATE, value) + _unit_delta(unit, amount)
    return moved.time()


def _ts_add(unit: str, amount: int, value: dt.datetime) -> dt.datetime:
    return value + _unit_delta(unit, amount)


def _convert_tz(value: dt.datetime, src: str, dst: str) -> dt.datetime:
    aware = value.replace(tzinfo=java_zone(src))
    moved = aware.astimezone(java_zone(dst))
    return moved.replace(tzinfo=None)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def register(reg: FunctionRegistry) -> None:
    """Add the date/time functions to `reg`."""
    add = reg.register
    cat = "DATE / TIME"
    add(
        "TIMESTAMPTOSTRING",
        [BIGINT, S],
        S,
        _ts_to_string,
        category=cat,
        description="Epoch milliseconds formatted with a Java pattern, optionally in a zone.",
    )
    add("TIMESTAMPTOSTRING", [BIGINT, S, S], S, _ts_to_string, category=cat)
    add(
        "STRINGTOTIMESTAMP",
        [S, S],
        BIGINT,
        _string_to_ts,
        category=cat,
        description="Text parsed with a Java pattern to epoch milliseconds.",
    )
    add("STRINGTOTIMESTAMP", [S, S, S], BIGINT, _string_to_ts, category=cat)
    add(
        "FORMAT_TIMESTAMP",
        [TS, S],
        S,
        _format_ts,
        category=cat,
        description="A TIMESTAMP formatted with a Java pattern, optionally in a zone.",
    )
    add("FORMAT_TIMESTAMP", [TS, S, S], S, _format_ts, category=cat)
    add(
        "PARSE_TIMESTAMP",
        [S, S],
        TS,
        _parse_ts,
        category=cat,
        description="Text parsed with a Java pattern to a TIMESTAMP.",
    )
    add("PARSE_TIMESTAMP", [S, S, S], TS, _parse_ts, category=cat)
    add(
        "FORMAT_DATE",
        [DATE, S],
        S,
        _format_date,
        category=cat,
        description="A DATE formatted with a Java pattern.",
    )
    add(
        "PARSE_DATE",
        [S, S],
        DATE,
        _parse_date,
        category=cat,
        description="Text parsed with a Java pattern to a DATE.",
    )
    add(
        "FORMAT_TIME",
        [TIME, S],
        S,
        _format_time,
        category=cat,
        description="A TIME formatted with a Java pattern.",
    )
    add(
        "PARSE_TIME",
        [S, S],
        TIME,
        _parse_time,
        category=cat,
        description="Text parsed with a Java pattern to a TIME.",
    )
    add(
        "DATETOSTRING",
        [INT, S],
        S,
        _date_to_string,
        category=cat,
        description="Days since epoch formatted with a Java pattern.",
    )
    add(
        "STRINGTODATE",
        [S, S],
        INT,
        _string_to_date,
        category=cat,
        description="Text parsed with a Java pattern to days since epoch.",
    )
    add(
        "UNIX_TIMESTAMP",
        [],
        BIGINT,
        _now_ms,
        category=cat,
        description="Epoch milliseconds now, or of a TIMESTAMP.",
    )
    add("UNIX_TIMESTAMP", [TS], BIGINT, to_epoch_ms, category=cat)
    add(
        "UNIX_DATE",
        [],
        INT,
        lambda: (dt.datetime.now(dt.UTC).date() - EPOCH_DATE).days,
        category=cat,
        description="Days since epoch today, or of a DATE.",
    )
    add("UNIX_DATE", [DATE], INT, lambda d: (d - EPOCH_DATE).days, category=cat)
    add(
        "FROM_UNIXTIME",
        [BIGINT],
        TS,
        from_epoch_ms,
        category=cat,
        description="Epoch milliseconds to a TIMESTAMP.",
    )
    add(
        "FROM_DAYS",
        [INT],
        DATE,
        lambda n: EPOCH_DATE + dt.timedelta(days=n),
        category=cat,
        description="Days since epoch to a DATE.",
    )
    # The unit arrives as INTERVALUNIT or, from a core that types keywords as text, STRING.
    interval_functions: tuple[tuple[str, ty.SqlType, ty.SqlType, Callable[..., Any], str], ...] = (
        ("DATEADD", INT, DATE, _date_add, "A DATE moved forward by an interval."),
        ("DATESUB", INT, DATE, lambda u, n, d: _date_add(u, -n, d),
         "A DATE moved back by an interval."),
        ("TIMEADD", INT, TIME, _time_add,
         "A TIME moved forward by an interval (wrapping at midnight)."),
        ("TIMESUB", INT, TIME, lambda u, n, t: _time_add(u, -n, t),
         "A TIME moved back by an interval (wrapping at midnight)."),
        ("TIMESTAMPADD", BIGINT, TS, _ts_add, "A TIMESTAMP moved forward by an interval."),
        ("TIMESTAMPSUB", BIGINT, TS, lambda u, n, t: _ts_add(u, -n, t),
         "A TIMESTAMP moved back by an interval."),
    )  # fmt: skip
    for name, amount, target, fn, doc in interval_functions:
        for unit in (UNIT, S):
            add(name, [unit, amount, target], target, fn, category=cat, description=doc)
    add(
        "CONVERT_TZ",
        [TS, S, S],
        TS,
        _convert_tz,
        category=cat,
        description="A TIMESTAMP's wall-clock time moved from one zone to another.",
    )
