"""ksqlDB's StatementRewriteForMagicPseudoTimestamp: a datetime string compared with ROWTIME,
WINDOWSTART or WINDOWEND (by a comparison or BETWEEN) is read as epoch millis before the query
is typed, so `ROWTIME > '2019-01-01T00:00:00+0445'` or `WINDOWSTART >= '2018'` work."""

from __future__ import annotations

import dataclasses
import datetime as dt

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

    def step(n: t.Expr) -> t.Expr:
        if isinstance(n, t.Comparison):
            if _time_column(n.left):
                return dataclasses.replace(n, right=_millis(n.right))
            if _time_column(n.right):
                return dataclasses.replace(n, left=_millis(n.left))
        if isinstance(n, t.Between) and _time_column(n.value):
            return dataclasses.replace(n, low=_millis(n.low), high=_millis(n.high))
        return n

    return e.transform(step)


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
