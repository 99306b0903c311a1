"""Writing enriched alerts to PostgreSQL: a transaction a batch, upserted on the alert identity."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from streamguard.consumer.enrich import Enriched
from streamguard.db import alerts


@dataclass(frozen=True)
class Source:
    """Where an alert was read: kept on its row so any row can be traced to its message."""

    topic: str
    partition: int
    offset: int


def _time(ms: int | None) -> datetime | None:
    return datetime.fromtimestamp(ms / 1000, UTC) if ms is not None else None


def _row(item: Enriched, source: Source, raw: bytes) -> dict[str, Any]:
    alert = item.alert
    return {
        "alert_id": alert.alert_id,
        "rule_id": alert.rule_id,
        "kind": alert.kind,
        "severity": item.severity.value,
        "rule_severity": alert.severity.value,
        "risk_score": item.risk_score,
        "account_id": alert.account_id,
        "transaction_id": alert.transaction_id,
        "card_id": alert.card_id,
        "merchant_id": alert.merchant_id,
        "country": alert.country,
        "amount": alert.amount,
        "txn_count": alert.txn_count,
        "total_amount": alert.total_amount,
        "window_start": _time(alert.window_start),
        "window_end": _time(alert.window_end),
        "event_time": _time(alert.event_time),
        # JSONB columns get JSON text: the message's own bytes, unparsed and unchanged.
        "blacklist_hits": json.dumps([h.as_json() for h in item.hits]) if item.hits else "[]",
        "payload": raw.decode(),
        "source_topic": source.topic,
        "source_partition": source.partition,
        "source_offset": source.offset,
    }


_COLUMNS = [
    c.name for c in alerts.columns if c.name not in ("updates", "first_seen_at", "last_seen_at")
]
_UPDATED = [c for c in _COLUMNS if c != "alert_id"]
_NULL = "\\N"
_STAGE = (
    "CREATE TEMP TABLE IF NOT EXISTS alerts_incoming (LIKE alerts INCLUDING DEFAULTS) "
    "ON COMMIT DELETE ROWS"
)
_COPY = f"COPY alerts_incoming ({', '.join(_COLUMNS)}) FROM STDIN WITH (FORMAT csv, NULL '{_NULL}')"
# One set-based upsert a batch. A later message of an alert (a window's new count) updates its
# row; a replay of a message already written (same partition, same or older offset) or an
# identical payload changes nothing.
_UPSERT = f"""
INSERT INTO alerts ({", ".join(_COLUMNS)})
SELECT {", ".join(_COLUMNS)} FROM alerts_incoming
ON CONFLICT (alert_id) DO UPDATE SET
    {", ".join(f"{c} = EXCLUDED.{c}" for c in _UPDATED)},
    updates = alerts.updates + 1,
    last_seen_at = now()
WHERE alerts.payload IS DISTINCT FROM EXCLUDED.payload
  AND NOT (alerts.source_topic = EXCLUDED.source_topic
           AND alerts.source_partition = EXCLUDED.source_partition
           AND alerts.source_offset >= EXCLUDED.source_offset)
"""


def write_batch(engine: sa.Engine, batch: list[tuple[Enriched, Source, bytes]]) -> int:
    """Upsert a batch in one transaction; returns the rows written.

    The rows are COPYed into a session-local staging table, then merged with one statement:
    COPY moves rows faster than any INSERT, and the merge keeps the upsert rules in SQL.
    """
    latest: dict[str, dict[str, Any]] = {}
    for item, source, raw in batch:
        # One statement may not touch a row twice: the batch's last word on an alert wins.
        latest[item.alert.alert_id] = _row(item, source, raw)
    if not latest:
        return 0
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in latest.values():
        writer.writerow([_NULL if row[c] is None else row[c] for c in _COLUMNS])
    buffer.seek(0)
    with engine.begin() as conn:
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        cursor.execute(_STAGE)
        cursor.copy_expert(_COPY, buffer)
        cursor.execute(_UPSERT)
    return len(latest)
