"""Writing enriched alerts to PostgreSQL: a transaction a batch, upserted on the alert identity."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

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
        "blacklist_hits": [h.as_json() for h in item.hits],
        "payload": json.loads(raw),
        "source_topic": source.topic,
        "source_partition": source.partition,
        "source_offset": source.offset,
    }


def write_batch(engine: sa.Engine, batch: list[tuple[Enriched, Source, bytes]]) -> int:
    """Upsert a batch in one transaction; returns the rows written.

    A later message of the same alert (a window's new count) updates its row; a replay of a
    message already written (same partition, same or older offset) changes nothing.
    """
    latest: dict[str, dict[str, Any]] = {}
    for item, source, raw in batch:
        # One statement may not touch a row twice: the batch's last word on an alert wins.
        latest[item.alert.alert_id] = _row(item, source, raw)
    if not latest:
        return 0
    statement = insert(alerts).values(list(latest.values()))
    excluded = statement.excluded
    updated: dict[str, Any] = {
        col.name: excluded[col.name]
        for col in alerts.columns
        if col.name not in ("alert_id", "first_seen_at", "updates", "last_seen_at")
    }
    updated["updates"] = alerts.c.updates + 1
    updated["last_seen_at"] = sa.func.now()
    statement = statement.on_conflict_do_update(
        index_elements=[alerts.c.alert_id],
        set_=updated,
        where=sa.and_(
            alerts.c.payload.is_distinct_from(excluded.payload),
            sa.not_(
                sa.and_(
                    alerts.c.source_topic == excluded.source_topic,
                    alerts.c.source_partition == excluded.source_partition,
                    alerts.c.source_offset >= excluded.source_offset,
                )
            ),
        ),
    )
    with engine.begin() as conn:
        conn.execute(statement)
    return len(latest)
