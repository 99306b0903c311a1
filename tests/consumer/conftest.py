"""Fixtures for the consumer: a migrated schema, alert topics, and alert messages."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

from streamguard import db


@dataclass(frozen=True)
class Topics:
    alerts: str
    dlq: str


@pytest.fixture
def migrated(database_url: str, db_engine: sa.Engine) -> sa.Engine:
    db.upgrade(database_url)
    return db_engine


@pytest.fixture
def topics(new_topic: Callable[..., str]) -> Topics:
    return Topics(new_topic("fraud_alerts", partitions=3), new_topic("fraud_alerts_dlq"))


def txn_alert(i: int, **extra: Any) -> dict[str, Any]:
    """A per-transaction alert as ksqlDB writes it (upper-case field names)."""
    return {
        "RULE_ID": "high_amount",
        "SEVERITY": "HIGH",
        "ACCOUNT_ID": f"ACC{i % 500:05d}",
        "TRANSACTION_ID": str(uuid.UUID(int=i + 1)),
        "CARD_ID": f"CRD{i:06d}",
        "AMOUNT": 5000 + i % 1000 + 0.25,
        "MERCHANT_ID": f"MER{i % 50:03d}",
        "COUNTRY": "FR",
        "EVENT_TIME": 1_763_900_000_000 + i,
        **extra,
    }


def window_alert(account: str, count: int, window_start: int = 1_763_900_040_000) -> dict[str, Any]:
    return {
        "RULE_ID": "velocity",
        "SEVERITY": "MEDIUM",
        "ACCOUNT_ID": account,
        "TRANSACTION_ID": None,
        "TXN_COUNT": count,
        "WINDOW_START": window_start,
        "WINDOW_END": window_start + 60_000,
    }


def produce(bootstrap: str, topic: str, values: list[bytes | dict[str, Any] | None]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 10})
    for n, value in enumerate(values):
        payload = json.dumps(value).encode() if isinstance(value, dict) else value
        # Keyed by account, as ksqlDB keys the alerts: an alert's updates share a partition, the
        # only place where Kafka orders them.
        account = value.get("ACCOUNT_ID") if isinstance(value, dict) else None
        key = str(account) if account is not None else f"k{n % 97}"
        producer.produce(topic, key=key.encode(), value=payload)
        producer.poll(0)
    assert producer.flush(60) == 0


def read_topic(bootstrap: str, topic: str, expected: int, idle_s: int = 10) -> list[Any]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"r-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    out: list[Any] = []
    idle = 0
    try:
        while idle < idle_s and len(out) < expected:
            batch = consumer.consume(1000, timeout=1.0)
            idle = 0 if batch else idle + 1
            out.extend(m for m in batch if m.error() is None)
    finally:
        consumer.close()
    return out


def read_all(bootstrap: str, topic: str, timeout_s: float = 60) -> list[Any]:
    """Every message of `topic` up to its end as it is now, duplicates included."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"r-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
        }
    )
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), 10)[1] for p in partitions}
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
    out: list[Any] = []
    done = {p for p, end in ends.items() if end == 0}
    deadline = time.monotonic() + timeout_s
    try:
        while len(done) < len(ends) and time.monotonic() < deadline:
            for message in consumer.consume(1000, timeout=1.0):
                if message.error() is None:
                    out.append(message)
                    if message.offset() + 1 >= ends[message.partition()]:
                        done.add(message.partition())
    finally:
        consumer.close()
    return out
