"""Writing enriched alerts to PostgreSQL: a transaction a batch, upserted on the alert identity."""

from __future__ import annotations

import io
import json
import re
from typing import Any, NamedTuple

import psycopg2
import sqlalchemy as sa

from streamguard.consumer.enrich import Enriched
from streamguard.db import alerts, error_line


class Source(NamedTuple):
    """Where an alert was read: kept on its row so any row can be traced to its message."""

    topic: str
    partition: int
    offset: int


# The staged columns, in the order `_row` gives their values (checked against the table below).
_COLUMNS = [
    "alert_id", "rule_id", "kind", "severity", "rule_severity", "risk_score", "account_id",
    "transaction_id", "card_id", "merchant_id", "country", "amount", "txn_count",
    "total_amount", "window_start", "window_end", "event_time", "blacklist_hits", "payload",
    "source_topic", "source_partition", "source_offset",
]  # fmt: skip
_BOOKKEEPING = {"updates", "first_seen_at", "last_seen_at"}
if sorted(_COLUMNS) != sorted(c.name for c in alerts.columns if c.name not in _BOOKKEEPING):
    raise RuntimeError("the consumer's staged columns no longer match the alerts table")
_NULL = "\\N"


def _row(item: Enriched, source: Source, raw: str) -> tuple[Any, ...]:
    """One row of the COPY, in `_COLUMNS` order, None for NULL."""
    alert = item.alert
    transaction_id = alert.transaction_id
    return (
        alert.alert_id,
        alert.rule_id,
        "transaction" if transaction_id is not None else "window",
        item.severity,
        alert.severity,
        item.risk_score,
        alert.account_id,
        transaction_id,
        alert.card_id,
        alert.merchant_id,
        alert.country,
        alert.amount,
        alert.txn_count,
        alert.total_amount,
        alert.window_start,
        alert.window_end,
        alert.event_time,
        _hits(item),
        raw,
        source.topic,
        source.partition,
        source.offset,
    )


def _hits(item: Enriched) -> str:
    return json.dumps([h.as_json() for h in item.hits]) if item.hits else "[]"


# What COPY's text format must see escaped inside a value.
_SPECIAL = re.compile(r"[\\\t\n\r]")
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _escaped(value: object) -> str:
    return _NULL if value is None else str(value).translate(_ESCAPES)


def _line(item: Enriched, source: Source, raw: str) -> str:
    """One row of the COPY in its text format, a line ending in a newline.

    Every text value of an alert was read from its message's JSON: when that JSON holds no
    backslash (so no escaped character) and no tab, newline or return between its tokens, no
    value needs escaping and the line is written in one go. Otherwise each value is escaped.
    """
    if item.hits or _SPECIAL.search(raw) is not None:
        return "\t".join(_escaped(v) for v in _row(item, source, raw)) + "\n"
    alert = item.alert
    tid = alert.transaction_id
    card, merchant, country = alert.card_id, alert.merchant_id, alert.country
    amount, count, total = alert.amount, alert.txn_count, alert.total_amount
    start, end, event = alert.window_start, alert.window_end, alert.event_time
    # The severities are StrEnums, so strings already: an enum's `.value` is a Python call.
    return (
        f"{alert.alert_id}\t{alert.rule_id}\t{'window' if tid is None else 'transaction'}\t"
        f"{item.severity}\t{alert.severity}\t{item.risk_score}\t{alert.account_id}\t"
        f"{_NULL if tid is None else tid}\t{_NULL if card is None else card}\t"
        f"{_NULL if merchant is None else merchant}\t{_NULL if country is None else country}\t"
        f"{_NULL if amount is None else amount}\t{_NULL if count is None else count}\t"
        f"{_NULL if total is None else total}\t{_NULL if start is None else start}\t"
        f"{_NULL if end is None else end}\t{_NULL if event is None else event}\t[]\t"
        f"{raw}\t{source.topic}\t{source.partition}\t{source.offset}\n"
    )


_UPDATED = [c for c in _COLUMNS if c != "alert_id"]
# Times travel as the epoch milliseconds of the message and become timestamps in PostgreSQL:
# formatting a datetime per column in Python cost more than all the rest of a row's CSV.
_TIMES = ("window_start", "window_end", "event_time")
_STAGE = (
    "CREATE TEMP TABLE IF NOT EXISTS alerts_staged (LIKE alerts INCLUDING DEFAULTS, "
    + ", ".join(f"{c}_ms bigint" for c in _TIMES)
    + ") ON COMMIT DELETE ROWS"
)
_STAGED = [f"{c}_ms" if c in _TIMES else c for c in _COLUMNS]
_FROM_STAGE = [
    f"timestamptz 'epoch' + {c}_ms * interval '1 millisecond'" if c in _TIMES else c
    for c in _COLUMNS
]
_COPY = f"COPY alerts_staged ({', '.join(_STAGED)}) FROM STDIN"
# One set-based upsert a batch. A later message of an alert (a window's new count) updates its
# row; a replay of a message already written (same partition, same or older offset) or an
# identical payload changes nothing.
_UPSERT = f"""
INSERT INTO alerts ({", ".join(_COLUMNS)})
SELECT {", ".join(_FROM_STAGE)} FROM alerts_staged
ON CONFLICT (alert_id) DO UPDATE SET
    {", ".join(f"{c} = EXCLUDED.{c}" for c in _UPDATED)},
    updates = alerts.updates + 1,
    last_seen_at = now()
WHERE alerts.payload IS DISTINCT FROM EXCLUDED.payload
  AND NOT (alerts.source_topic = EXCLUDED.source_topic
           AND alerts.source_partition = EXCLUDED.source_partition
           AND alerts.source_offset >= EXCLUDED.source_offset)
"""


# What PostgreSQL refuses in one row, however often it is retried: a number out of a column's
# range, a NUL character, NaN in JSON. The row's message goes to the dead-letter topic.
REJECTIONS = (sa.exc.DataError, sa.exc.IntegrityError)


# psycopg2 reads the COPY's text in chunks of this many characters (its default is 8 KiB).
_COPY_CHUNK = 1 << 20
# Marks, in the pooled connection's own info, that its session has the staging table. The
# table outlives each transaction (ON COMMIT DELETE ROWS), so it is created once a session
# rather than once a batch, which saved a round trip to the server each batch.
_HAS_STAGE = "streamguard.alerts_staged"


def _merge(conn: sa.Connection, text: str, *, clear: bool = False) -> None:
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        if not conn.connection.info.get(_HAS_STAGE):
            cursor.execute(_STAGE)
        cursor.copy_expert(_COPY, io.StringIO(text), size=_COPY_CHUNK)
        cursor.execute(_UPSERT)
        if clear:
            # The staging table empties at commit; row by row, each merge must see only its row.
            cursor.execute("DELETE FROM alerts_staged")
    except psycopg2.Error as exc:
        # Into SQLAlchemy's classes, which the loop reads (OperationalError: retry).
        raise sa.exc.DBAPIError.instance(_UPSERT, None, exc, psycopg2.Error) from exc
    finally:
        cursor.close()


def _in_transaction(engine: sa.Engine, text: str) -> dict[Any, Any]:
    """`_merge` inside a transaction of its own, committed; returns its connection's info."""
    with engine.begin() as conn:
        _merge(conn, text)
        info = conn.connection.info
    return info


def rejection_reason(error: sa.exc.DBAPIError) -> str:
    """PostgreSQL's complaint, first line, for the dead-letter header."""
    return f"rejected by PostgreSQL: {error_line(error)}"


class Staged(NamedTuple):
    """A batch made ready for PostgreSQL: the COPY text of its rows (the batch's last word on each
    alert) and each alert's line on its own, for when PostgreSQL refuses one of them."""

    text: str
    lines: list[str]


def stage(batch: list[tuple[Enriched, Source, bytes]]) -> Staged:
    """The rows of a batch as COPY text, made before the write (the consumer makes batch N+1's
    while batch N is written, so the writer only waits on the database)."""
    lines = []
    latest: dict[str, str] = {}
    for item, source, raw in batch:
        # JSONB columns get JSON text: the message's own bytes, unparsed and unchanged.
        line = _line(item, source, raw.decode())
        lines.append(line)
        # One statement may not touch a row twice: the batch's last word on an alert wins.
        latest[item.alert.alert_id] = line
    return Staged("".join(latest.values()), lines)


def write_batch(engine: sa.Engine, batch: list[tuple[Enriched, Source, bytes]]) -> dict[int, str]:
    """`write_staged` of the batch, staged here."""
    return write_staged(engine, stage(batch))


def write_staged(engine: sa.Engine, staged: Staged) -> dict[int, str]:
    """Upsert a batch in one transaction; returns the rows PostgreSQL refused (by position in
    the batch, with the reason), which were not written.

    The rows are COPYed into a session-local staging table, then merged with one statement:
    COPY moves rows faster than any INSERT, and the merge keeps the upsert rules in SQL. When
    PostgreSQL refuses a row, the batch is merged again row by row, each behind a savepoint, so
    the rest still commits in one transaction.
    """
    if not staged.lines:
        return {}
    try:
        info = _in_transaction(engine, staged.text)
    except REJECTIONS:
        pass
    else:
        # Committed: the session keeps its staging table from now on.
        info[_HAS_STAGE] = True
        return {}
    refused: dict[int, str] = {}
    with engine.begin() as conn:
        for position, line in enumerate(staged.lines):
            savepoint = conn.begin_nested()
            try:
                _merge(conn, line, clear=True)
            except REJECTIONS as exc:
                savepoint.rollback()
                refused[position] = rejection_reason(exc)
            else:
                savepoint.commit()
    return refused
