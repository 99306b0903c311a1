"""What the running pipeline is doing: each part's health, the consumer's lag, the alerts."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import sqlalchemy as sa
from confluent_kafka import Consumer, KafkaException, TopicPartition

from streamguard.db import alerts, error_line
from streamguard.settings import Settings


@dataclass(frozen=True)
class Health:
    part: str
    address: str
    healthy: bool
    detail: str


def _tcp(address: str) -> bool:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=1.0):
            return True
    except (OSError, ValueError):
        return False


def health(settings: Settings) -> list[Health]:
    """Kafka, ksqlDB and PostgreSQL as the application sees them."""
    out = []
    first_broker = settings.kafka.split(",")[0]
    kafka_up = _tcp(first_broker)
    out.append(Health("kafka", settings.kafka, kafka_up, "reachable" if kafka_up else "no answer"))
    try:
        info = httpx.get(f"{settings.ksqldb}/info", timeout=2.0).json()
        version = info.get("KsqlServerInfo", {}).get("version", "?")
        out.append(Health("ksqldb", settings.ksqldb, True, f"version {version}"))
    except (httpx.HTTPError, ValueError) as exc:
        out.append(
            Health("ksqldb", settings.ksqldb, False, f"no answer: {exc or type(exc).__name__}")
        )
    url = sa.make_url(settings.database)
    shown = url.render_as_string(hide_password=True)
    try:
        engine = sa.create_engine(url, connect_args={"connect_timeout": 2})
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
        out.append(Health("postgres", shown, True, "accepting connections"))
    except sa.exc.DBAPIError as exc:
        out.append(Health("postgres", shown, False, error_line(exc)))
    return out


def consumer_lag(settings: Settings) -> dict[int, tuple[int, int]]:
    """Per partition of the alerts topic: (committed offset, end offset) of the consumer group."""
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka,
            "group.id": settings.consumer_group,
            "enable.auto.commit": False,
        }
    )
    try:
        metadata = consumer.list_topics(settings.alerts_topic, timeout=5)
        topic = metadata.topics.get(settings.alerts_topic)
        if topic is None or topic.error is not None:
            return {}
        partitions = [TopicPartition(settings.alerts_topic, p) for p in topic.partitions]
        committed = consumer.committed(partitions, timeout=5)
        lag: dict[int, tuple[int, int]] = {}
        for tp in committed:
            _, high = consumer.get_watermark_offsets(tp, timeout=5)
            lag[tp.partition] = (max(tp.offset, 0), high)
        return lag
    except KafkaException:
        return {}
    finally:
        consumer.close()


def alerts_per_rule(engine: sa.Engine) -> list[tuple[str, int, datetime | None]]:
    query = (
        sa.select(alerts.c.rule_id, sa.func.count(), sa.func.max(alerts.c.last_seen_at))
        .group_by(alerts.c.rule_id)
        .order_by(alerts.c.rule_id)
    )
    with engine.connect() as conn:
        return [(r[0], r[1], r[2]) for r in conn.execute(query)]


def latest_alerts(
    engine: sa.Engine, *, limit: int = 20, after: datetime | None = None
) -> list[dict[str, Any]]:
    """The most recently seen alerts (newest last), or those seen after `after`."""
    query = (
        sa.select(
            alerts.c.last_seen_at,
            alerts.c.rule_id,
            alerts.c.severity,
            alerts.c.risk_score,
            alerts.c.account_id,
            alerts.c.amount,
            alerts.c.txn_count,
            alerts.c.total_amount,
            alerts.c.country,
            alerts.c.blacklist_hits,
        )
        .order_by(alerts.c.last_seen_at.desc(), alerts.c.alert_id)
        .limit(limit)
    )
    if after is not None:
        query = query.where(alerts.c.last_seen_at > after)
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query)]
    return list(reversed(rows))
