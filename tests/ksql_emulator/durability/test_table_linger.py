"""At-least-once, a table's updates may be held to go out together; a stream's never wait on
them, and a commit sends what is held before it records anything."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient, NewTopic

from ksql_emulator.kafka.errors import KafkaLayerError
from ksql_emulator.kafka.output import TABLE_LINGER_PROPERTY, AtLeastOnceOutput
from tests.ksql_emulator.server.test_real_engine import emulator_process, ksql

pytestmark = pytest.mark.slow

_LINGER_MS = 6000


def test_a_streams_record_goes_out_at_once_while_a_tables_update_lingers(
    kafka_bootstrap: str, new_topic: Callable[..., str], tmp_path: Path
) -> None:
    source = new_topic("payments")
    service_id = f"t_{uuid.uuid4().hex[:8]}_"
    big, counts = f"big_{service_id}", f"counts_{service_id}"
    defines = {
        "ksql.streams.processing.guarantee": "at_least_once",
        # Long enough that no commit sends the held update early, short enough that a query
        # created while the thread works on a batch joins it soon (members join between
        # commits).
        "ksql.streams.commit.interval.ms": "30000",
        TABLE_LINGER_PROPERTY: str(_LINGER_MS),
    }
    reader = Consumer(
        {
            "bootstrap.servers": kafka_bootstrap,
            "group.id": f"reader-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "topic.metadata.refresh.interval.ms": 500,
        }
    )
    arrived: dict[tuple[str, str], tuple[float, object]] = {}
    try:
        with (
            emulator_process(kafka_bootstrap, service_id, tmp_path, defines) as url,
            httpx.Client(base_url=url, timeout=30) as client,
        ):
            created = ksql(
                client,
                f"CREATE STREAM P (K STRING KEY, V INT) WITH (kafka_topic='{source}', "
                f"value_format='JSON'); "
                f"CREATE STREAM BIG WITH (kafka_topic='{big}') AS SELECT * FROM P WHERE V > 10; "
                f"CREATE TABLE N WITH (kafka_topic='{counts}') AS "
                "SELECT K, COUNT(*) AS C FROM P GROUP BY K;",
            )
            assert created.status_code == 200, created.text
            reader.subscribe([big, counts])

            def read(*wanted: tuple[str, str]) -> None:
                deadline = time.monotonic() + 90
                while not set(wanted) <= set(arrived) and time.monotonic() < deadline:
                    msg = reader.poll(0.05)
                    if msg is not None and msg.error() is None:
                        arrived.setdefault(
                            (msg.topic(), (msg.key() or b"").decode()),
                            (time.monotonic(), json.loads(msg.value() or b"null")),
                        )

            # First a record only the table counts: once its update is out, both queries run.
            assert ksql(client, "INSERT INTO P (K, V) VALUES ('w', 1);").status_code == 200
            read((counts, "w"))
            assert ksql(client, "INSERT INTO P (K, V) VALUES ('a', 20);").status_code == 200
            read((big, "a"), (counts, "a"))
    finally:
        reader.close()
    assert (counts, "w") in arrived, "the table's first update never came"
    assert arrived.get((big, "a"), (0, None))[1] == {"V": 20}, "no record of the stream"
    assert arrived.get((counts, "a"), (0, None))[1] == {"C": 1}, "no update of the table"
    held = arrived[(counts, "a")][0] - arrived[(big, "a")][0]
    assert held > _LINGER_MS / 2000, f"the table's update came {held:.2f} s after the stream's"


def test_a_commit_fails_when_the_broker_refused_a_held_table_update(
    admin: AdminClient, kafka_bootstrap: str
) -> None:
    topic = f"refused-table-{uuid.uuid4().hex[:8]}"
    spec = NewTopic(topic, num_partitions=1, config={"max.message.bytes": "2000"})
    admin.create_topics([spec])[topic].result(30)
    output = AtLeastOnceOutput(kafka_bootstrap, {}, table_linger_ms=60_000)
    output.route_tables(frozenset({topic}))
    try:
        output.send(topic, b"k", b"fits")
        output.commit()  # the held update is sent and acknowledged by the commit
        output.send(topic, b"k", b"x" * 10_000)
        with pytest.raises(KafkaLayerError, match="not acknowledged"):
            output.commit()
    finally:
        output.close()
