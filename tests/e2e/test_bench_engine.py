"""bench/engine.py's yardstick, the 1-minute count written by hand: it must do the work the
velocity query does, or its figure would say nothing about the query's. On a real broker, both
over the same records: the same windows with the same rows."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from bench import engine
from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient

from ksql_emulator.app.emulator import Emulator, EmulatorSettings

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

# Two or three records an account (of 5,000), over 12 s of event time.
COUNT = 12_000


def _last_rows(bootstrap: str, topic: str, expected: int) -> dict[bytes, dict[str, Any]]:
    """Each key's last value in `topic`, once it has the `expected` committed records."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"read-{uuid.uuid4().hex}",
            "isolation.level": "read_committed",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    rows: dict[bytes, dict[str, Any]] = {}
    seen = 0
    while seen < expected:
        msg = consumer.poll(10)
        assert msg is not None, f"{topic}: {seen} of {expected} records"
        if msg.error() is not None:
            continue
        seen += 1
        key = msg.key()
        assert key is not None
        rows[key] = json.loads(msg.value())
    assert consumer.poll(1) is None, f"{topic}: more than {expected} records"
    consumer.close()
    return rows


def test_the_count_by_hand_writes_the_rows_the_velocity_query_writes(
    kafka_bootstrap: str, admin: AdminClient, new_topic: Callable[..., str]
) -> None:
    source = new_topic("transactions", partitions=engine.PARTITIONS)
    engine._fill(kafka_bootstrap, source, engine._records(COUNT))
    by_hand_sink = f"{source}-by-hand"
    service_id = f"bench_test_{uuid.uuid4().hex[:6]}_"
    query_sink = f"bench-velocity-{service_id}"
    try:
        assert engine.by_hand(kafka_bootstrap, source, by_hand_sink, COUNT) > 0
        settings = EmulatorSettings(
            bootstrap_servers=kafka_bootstrap,
            service_id=service_id,
            properties={"processing.guarantee": "exactly_once_v2"},
        )
        with Emulator(settings) as emulator:
            emulator.backend.execute_statements(engine.STREAM.format(topic=source), {}, {})
            sql = engine.QUERIES["1-minute tumbling count (velocity)"]
            engine.ours(emulator, source, COUNT, sql.format(n=service_id), "exactly_once_v2")
        # A row per record, as EMIT CHANGES writes, from both.
        by_hand = _last_rows(kafka_bootstrap, by_hand_sink, COUNT)
        by_query = _last_rows(kafka_bootstrap, query_sink, COUNT)
    finally:
        admin.delete_topics([by_hand_sink, f"{by_hand_sink}-changelog", query_sink])
    assert len(by_hand) == len(by_query) >= engine.ACCOUNTS
    assert max(row["TXN_COUNT"] for row in by_query.values()) >= 2
    for key, row in by_query.items():
        assert by_hand[key] == {
            "ALERT_ACCOUNT_ID": row["ALERT_ACCOUNT_ID"],
            "TXN_COUNT": row["TXN_COUNT"],
            "TOTAL_AMOUNT": row["TOTAL_AMOUNT"],
            "CARD_ID": row["CARD_ID"],
            "EVENT_TIME": row["EVENT_TIME"],
            "WINDOW_START": row["WINDOW_START"],
            "WINDOW_END": row["WINDOW_END"],
        }, key


def test_a_pass_at_least_once_is_timed_though_it_ends_before_its_first_commit(
    kafka_bootstrap: str, admin: AdminClient, new_topic: Callable[..., str]
) -> None:
    """At-least-once commits once a second: timed by commits, the filter's pass over these
    records (a few tens of milliseconds) had nothing left after its first commit."""
    source = new_topic("transactions", partitions=engine.PARTITIONS)
    engine._fill(kafka_bootstrap, source, engine._records(COUNT))
    service_id = f"bench_test_{uuid.uuid4().hex[:6]}_"
    settings = EmulatorSettings(
        bootstrap_servers=kafka_bootstrap,
        service_id=service_id,
        properties={"processing.guarantee": "at_least_once"},
    )
    try:
        with Emulator(settings) as emulator:
            emulator.backend.execute_statements(engine.STREAM.format(topic=source), {}, {})
            sql = engine.QUERIES["filter (high_amount)"].format(n=service_id)
            rate = engine.ours(emulator, source, COUNT, sql, "at_least_once")
    finally:
        admin.delete_topics([f"bench-high-{service_id}"])
    assert rate > 0
