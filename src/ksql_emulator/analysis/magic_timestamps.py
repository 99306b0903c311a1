"""ksqlDB's StatementRewriteForMagicPseudoTimestamp: a datetime string compared with ROWTIME,
WINDOWSTART or WINDOWEND (by a comparison or BETWEEN) is read as epoch millis before the query
is typed, so `ROWTIME > '2019-01-01T00:00:00+0445'` or `WINDOWSTART >= '2018'` work."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from ksql_emulator.errors import KsqlStatementError, RuntimeEvaluationError
from ksql_emulator.parser import tree as t
from ksql_emulator.text_forms import parse_timestamp

__all__ = ["rewrite_magic_timestamps"]

_EPOCH = dt.datetime(1970, 1, 1)
_TIME_COLUMNS = frozenset({"ROWTIME", "WINDOWSTART", "WINDOWEND"})
_HELP = (
    "\nRequired format is: \"yyyy-MM-dd'T'HH:mm:ss.SSS\", with an optional numeric 4-digit "
    "timezone, for example: '2020-05-26T23:59:58.000' or with tz: "
    "'2020-05-26T23:59:58.000+0200'. A trailing 'Z' instead of tz indicates the zero UTC "
    'offset. Partials are also supported, for example "2020-05-26"'
)


def rewrite_magic_timestamps(e: t.Expr) -> t.Expr:
    """`e` with every such datetime string replaced by its BIGINT epoch millis."""
    if isinstance(e, t.Comparison):
        if _time_column(e.left):
            return dataclasses.replace(e, right=_millis(e.right))
        if _time_column(e.right):
            return dataclasses.replace(e, left=_millis(e.left))
        return e
    if isinstance(e, t.Between):
        if _time_column(e.value):
            return dataclasses.replace(e, low=_millis(e.low), high=_millis(e.high))
        return e
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(e):
        value = getattr(e, f.name)
        if isinstance(value, t.Expr):
            new: Any = rewrite_magic_timestamps(value)
        elif isinstance(value, tuple) and all(isinstance(v, t.Expr) for v in value):
            new = tuple(rewrite_magic_timestamps(v) for v in value)
        else:
            continue
        if new != value:
            changes[f.name] = new
    return dataclasses.replace(e, **changes) if changes else e


def _time_column(e: t.Expr) -> bool:
    return isinstance(e, t.ColumnRef) and e.name.upper() in _TIME_COLUMNS


def _millis(e: t.Expr) -> t.Expr:
    if not (isinstance(e, t.Literal) and e.kind == "STRING"):
        return e
    text = str(e.value)
    try:
        instant = parse_timestamp(text)
    except RuntimeEvaluationError as err:
        raise KsqlStatementError(
            f"Failed to parse timestamp '{text}': {err.message}{_HELP}"
        ) from err
    epoch = instant.replace(tzinfo=None) - _EPOCH
    millis = epoch.days * 86_400_000 + epoch.seconds * 1000 + epoch.microseconds // 1000
    return t.Literal("BIGINT", millis, str(millis), pos=e.pos)
