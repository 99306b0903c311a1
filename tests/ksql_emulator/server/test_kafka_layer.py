"""The Kafka layer over a real broker: push feeds, sinks, committed offsets, restarts."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from ksql_emulator.app.emulator import Emulator, EmulatorSettings
from ksql_emulator.kafka.command_log import command_topic_name
from ksql_emulator.kafka.gateway import ConfluentGateway
from ksql_emulator.kafka.query_runner import consumer_group_id
from ksql_emulator.server.asgi import create_app
from ksql_emulator.server.serving import BackgroundServer
from tests.ksql_emulator.server.kafka_stubs import ToyBackend


@contextmanager
def running_emulator(bootstrap: str, service_id: str) -> Iterator[tuple[Emulator, str]]:
    settings = EmulatorSettings(bootstrap_servers=bootstrap, service_id=service_id)
    with Emulator(settings, backend_factory=ToyBackend) as emulator:
        server = BackgroundServer(create_app(emulator.state))
        emulator.state.config.port = server.port
        with server:
            yield emulator, server.url


def read_all(bootstrap: str, topic: str, expected: int, timeout_s: float = 20) -> list[Any]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"reader-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    records: list[Any] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(records) < expected and time.monotonic() < deadline:
            for msg in consumer.consume(100, timeout=0.2):
                if msg.error() is None:
                    records.append((msg.key(), msg.value()))
        # Anything beyond what was expected would be a duplicate: wait briefly for it.
        for msg in consumer.consume(100, timeout=1.0):
            if msg.error() is None:
                records.append((msg.key(), msg.value()))
    finally:
        consumer.close()
    return records


def produce(bootstrap: str, topic: str, records: list[tuple[str, str]]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    for key, value in records:
        producer.produce(topic, key=key.encode(), value=value.encode())
    producer.flush(10)


def committed(bootstrap: str, group: str, topic: str) -> int:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        (tp,) = consumer.committed([TopicPartition(topic, 0)], timeout=10)
        return int(tp.offset)
    finally:
        consumer.close()


@pytest.fixture
def service_id() -> Iterator[str]:
    yield f"test_{uuid.uuid4().hex[:8]}_"


def test_gateway_creates_describes_and_scans_topics(
    kafka_bootstrap: str, new_topic: Callable[..., str], admin: AdminClient
) -> None:
    gateway = ConfluentGateway(kafka_bootstrap)
    name = f"gw-{uuid.uuid4().hex[:8]}"
    try:
        created = gateway.create_topic(name, 3, 1, {})
        assert (created.partitions, created.replication) == (3, 1)
        assert gateway.create_topic(name, 1, 1, {}).partitions == 3  # exists: left as it is
        assert gateway.describe_topic(f"missing-{uuid.uuid4().hex}") is None
        assert name in [t.name for t in gateway.list_topics()]
        produce(kafka_bootstrap, name, [("a", "1"), ("b", "2"), ("c", "3")])
        scanned = sorted((m.key, m.value) for m in gateway.read_topic(name))
        assert scanned == [(b"a", b"1"), (b"b", b"2"), (b"c", b"3")]
        assert gateway.cluster_id()
    finally:
        gateway.delete_topic(name)
        gateway.close()


@pytest.mark.slow
def test_push_query_sees_an_inserted_row_while_it_runs(
    kafka_bootstrap: str, new_topic: Callable[..., str], service_id: str
) -> None:
    topic = new_topic("push")
    with (
        running_emulator(kafka_bootstrap, service_id) as (_emulator, url),
        httpx.Client(base_url=url, http1=False, http2=True, timeout=20) as client,
        client.stream(
            "POST", "/query-stream", json={"sql": f"SELECT {topic} LIMIT 1;"}
        ) as response,
    ):
        lines = response.iter_lines()
        assert json.loads(next(lines))["columnNames"] == ["K", "V"]
        inserted = client.post(
            "/inserts-stream",
            content=(json.dumps({"target": topic}) + "\n" + json.dumps({"K": "k1", "V": "x"})),
        )
        assert inserted.text.strip() == '{"status":"ok","seq":0}'
        assert json.loads(next(lines)) == ["k1", "x"]
        assert list(lines) == []


@pytest.mark.slow
def test_push_query_honours_auto_offset_reset(
    kafka_bootstrap: str, new_topic: Callable[..., str], service_id: str
) -> None:
    topic = new_topic("reset")
    produce(kafka_bootstrap, topic, [("old", '"before"')])
    with (
        running_emulator(kafka_bootstrap, service_id) as (_emulator, url),
        httpx.Client(base_url=url, http1=False, http2=True, timeout=20) as client,
    ):
        earliest = client.post(
            "/query-stream",
            json={
                "sql": f"SELECT {topic} LIMIT 1;",
                "properties": {"auto.offset.reset": "earliest"},
            },
        )
        assert json.loads(earliest.text.splitlines()[1]) == ["old", "before"]
        with client.stream(
            "POST", "/query-stream", json={"sql": f"SELECT {topic} LIMIT 1;"}
        ) as latest:
            lines = latest.iter_lines()
            next(lines)
            produce(kafka_bootstrap, topic, [("new", '"after"')])
            assert json.loads(next(lines)) == ["new", "after"]


@pytest.mark.slow
def test_persistent_query_writes_its_sink_and_commits_what_was_written(
    kafka_bootstrap: str, new_topic: Callable[..., str], service_id: str
) -> None:
    source = new_topic("src", partitions=2)
    sink = f"sink-{uuid.uuid4().hex[:8]}"
    produce(kafka_bootstrap, source, [("a", "x"), ("b", "y"), ("a", "z")])
    with (
        running_emulator(kafka_bootstrap, service_id) as (emulator, url),
        httpx.Client(base_url=url, timeout=20) as client,
    ):
        response = client.post(
            "/ksql",
            json={
                "ksql": f"UPPER {source} {sink};",
                "streamsProperties": {"auto.offset.reset": "earliest"},
            },
        )
        assert response.status_code == 200, response.text
        (entity,) = response.json()
        assert entity["commandSequenceNumber"] == 0
        query_id = entity["commandStatus"]["queryId"]
        assert sorted(read_all(kafka_bootstrap, sink, 3)) == [
            (b"a", b"X"),
            (b"a", b"Z"),
            (b"b", b"Y"),
        ]
        sink_info = emulator.gateway.describe_topic(sink)
        assert sink_info is not None and sink_info.partitions == 2
    group = consumer_group_id(service_id, query_id)
    # Committed offsets cover exactly what was consumed; the two partitions hold 3 records.
    total = sum(
        max(0, tp.offset)
        for tp in Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": group}).committed(
            [TopicPartition(source, 0), TopicPartition(source, 1)], timeout=10
        )
    )
    assert total == 3


@pytest.mark.slow
def test_a_restarted_server_rebuilds_its_queries_and_state_from_the_command_topic(
    kafka_bootstrap: str, new_topic: Callable[..., str], service_id: str
) -> None:
    source = new_topic("counted")
    sink = f"counts-{uuid.uuid4().hex[:8]}"
    produce(kafka_bootstrap, source, [("a", "1"), ("a", "2")])
    with (
        running_emulator(kafka_bootstrap, service_id) as (_emulator, url),
        httpx.Client(base_url=url, timeout=20) as client,
    ):
        response = client.post(
            "/ksql",
            json={
                "ksql": f"COUNT {source} {sink};",
                "streamsProperties": {"auto.offset.reset": "earliest"},
            },
        )
        assert response.status_code == 200, response.text
        assert read_all(kafka_bootstrap, sink, 2) == [(b"a", b"1"), (b"a", b"2")]

    produce(kafka_bootstrap, source, [("a", "3")])  # arrives while the server is down
    with (
        running_emulator(kafka_bootstrap, service_id) as (emulator, url),
        httpx.Client(base_url=url, timeout=20) as client,
    ):
        assert list(emulator.backend.persistent_queries())  # type: ignore[attr-defined]
        # The count continues from the rebuilt state (3, not 1), and nothing is written twice.
        assert read_all(kafka_bootstrap, sink, 3) == [(b"a", b"1"), (b"a", b"2"), (b"a", b"3")]
        second = client.post("/ksql", json={"ksql": f"UPPER {source} {sink}-up;"}).json()
        assert second[0]["commandSequenceNumber"] == 1
        status = client.get(f"/status/stream/`{sink}`/create").json()
        assert status["status"] == "SUCCESS"

    consumer = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": "x"})
    try:
        topic = command_topic_name(service_id)
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
        assert (low, high) == (0, 2)
    finally:
        consumer.close()
