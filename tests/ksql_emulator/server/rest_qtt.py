"""Drives ksqlDB's REST query-validation tests through the HTTP server, the real engine and Kafka.

Each test gets a fresh engine (its own service id and output-topic prefix) behind one long-lived
server; its topics are renamed with a unique suffix so tests never see each other's records.
Statements go to /ksql one at a time, the inputs are produced once the statements before the
first query ran, the persistent queries are waited for, and queries go to /query (the endpoint
the expected responses are written for) reading from the earliest offset.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

from ksql_emulator.kafka.gateway import ConfluentGateway
from ksql_emulator.kafka.push_feed import KafkaPushFeeder
from ksql_emulator.kafka.query_runner import QueryRunner, consumer_group_id
from ksql_emulator.runtime.formats import key_serde, value_serde
from ksql_emulator.server._state import ServerConfig, ServerState
from ksql_emulator.server.app import create_app
from ksql_emulator.server.emulator import default_engine_factory
from ksql_emulator.server.serving import BackgroundServer

_TOPIC_PROP = re.compile(r"(kafka_topic\s*=\s*')([^']*)(')", re.IGNORECASE)
_FORMATS = ("JSON", "KAFKA", "DELIMITED", "NONE")
_SCHEMA_REGISTRY = re.compile(r"\b(AVRO|PROTOBUF|PROTOBUF_NOSR|JSON_SR)\b", re.IGNORECASE)
_PARTITIONS = re.compile(r"\bPARTITIONS\s*=\s*(\d+)", re.IGNORECASE)


@dataclass
class Result:
    name: str
    passed: bool
    reason: str = ""


def variants(test: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """The test once per runnable format (JSON, KAFKA, DELIMITED, NONE), as QTT expands it."""
    if test.get("enabled") is False:
        return
    formats = test.get("format") or [None]
    for fmt in formats:
        if fmt is not None and fmt not in _FORMATS:
            continue
        statements = [s.replace("{FORMAT}", fmt or "") for s in test["statements"]]
        if any(_SCHEMA_REGISTRY.search(s) for s in statements):
            continue  # needs Schema Registry: out of scope (ksql-qtt/README.md)
        name = test["name"] if fmt is None else f"{test['name']} - {fmt}"
        yield name, {**test, "statements": statements}


class RestDriver:
    """One server for many tests; `run` swaps a fresh engine in for each."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.lock = threading.RLock()
        self.gateway = ConfluentGateway(bootstrap)
        # Inputs go to the partition the test names, so not through the key-partitioning gateway.
        self._producer = Producer({"bootstrap.servers": bootstrap})
        self.feeder = KafkaPushFeeder(bootstrap, "rqtt_", self.lock)
        self.app = create_app(self._state(default_engine_factory(self.gateway, {}), None))
        self.server = BackgroundServer(self.app)

    def _state(self, engine: Any, runner: QueryRunner | None) -> ServerState:
        return ServerState(
            engine, ServerConfig(), feeder=self.feeder, reconciler=runner, engine_lock=self.lock
        )

    @contextmanager
    def started(self) -> Iterator[RestDriver]:
        with self.server:
            try:
                yield self
            finally:
                self.gateway.close()

    def run(self, name: str, test: dict[str, Any]) -> Result:
        suffix = uuid.uuid4().hex[:8]
        service_id = f"rqtt_{suffix}_"
        properties = {
            "ksql.service.id": service_id,
            "ksql.output.topic.name.prefix": f"rqtt_{suffix}_",
            **{k: str(v) for k, v in (test.get("properties") or {}).items()},
        }
        engine = default_engine_factory(self.gateway, properties)
        runner = QueryRunner(
            engine.persistent_queries,
            self.bootstrap,
            service_id,
            self.lock,
            {"auto.offset.reset": "earliest"},
        )
        self.app.state.ksql = self._state(engine, runner)
        try:
            return self._run(name, test, suffix, engine, runner, service_id)
        except Exception as exc:  # a driver or engine error fails this test only
            return Result(name, False, f"{type(exc).__name__}: {exc}")
        finally:
            runner.close()

    def _run(
        self,
        name: str,
        test: dict[str, Any],
        suffix: str,
        engine: Any,
        runner: QueryRunner,
        service_id: str,
    ) -> Result:
        renamed: dict[str, str] = {}

        def rename(topic: str) -> str:
            return renamed.setdefault(topic, f"{topic}_{suffix}")

        statements = [
            _TOPIC_PROP.sub(lambda m: m.group(1) + rename(m.group(2)) + m.group(3), s)
            for s in test["statements"]
        ]
        # As ksqlDB's driver: input topics exist up front, partitioned as their CREATE says.
        partitions = {
            m.group(2): int(p.group(1))
            for s in statements
            for m in [_TOPIC_PROP.search(s)]
            for p in [_PARTITIONS.search(s)]
            if m is not None and p is not None
        }
        for topic in test.get("topics", []) or []:
            self.gateway.create_topic(rename(topic["name"]), int(topic.get("partitions", 1)), 1, {})
        for record in test.get("inputs", []) or []:
            topic_name = rename(record["topic"])
            self.gateway.create_topic(topic_name, partitions.get(topic_name, 1), 1, {})
        expected_error = test.get("expectedError")
        actual: list[Any] = []
        fed = False
        props = {"ksql.streams.auto.offset.reset": "earliest"}
        # A push query whose LIMIT is never reached fails after 10 s instead of hanging.
        with httpx.Client(base_url=self.server.url, timeout=10) as client:
            for statement in statements:
                is_query = statement.lstrip().upper().startswith("SELECT")
                if is_query and not fed:
                    self._feed(engine, test.get("inputs", []) or [], rename)
                    fed = True
                    self._await_queries(runner, engine, service_id)
                if is_query:
                    response = client.post(
                        "/query", json={"ksql": statement, "streamsProperties": props}
                    )
                else:
                    response = client.post(
                        "/ksql", json={"ksql": statement, "streamsProperties": props}
                    )
                if response.status_code != 200:
                    if expected_error is not None:
                        return _judge_error(name, response, expected_error)
                    return Result(name, False, f"{statement[:60]!r}: {response.text[:300]}")
                body = response.json()
                if is_query:
                    actual.append({"query": body})
                else:
                    actual.extend({"admin": entity} for entity in body)
            if not fed:
                self._feed(engine, test.get("inputs", []) or [], rename)
        if expected_error is not None:
            return Result(name, False, f"expected an error: {expected_error.get('message')!r}")
        for index, want in enumerate(test.get("responses", []) or []):
            if index >= len(actual):
                return Result(name, False, f"response #{index} missing")
            problem = _compare(want, actual[index])
            if problem:
                return Result(name, False, f"response #{index}: {problem}")
        return Result(name, True)

    def _feed(self, engine: Any, inputs: list[dict[str, Any]], rename: Any) -> None:
        catalog = engine.engine.catalog
        for record in inputs:
            topic = rename(record["topic"])
            source = next((s for s in catalog.sources.values() if s.topic == topic), None)
            if source is None:
                raise RuntimeError(f"no source reads input topic {record['topic']}")
            key = _encode(key_serde(source), record.get("key"))
            value = _encode(value_serde(source), record.get("value"))
            headers = tuple(
                (h.get("KEY", h.get("key")), _b64(h.get("VALUE", h.get("value"))))
                for h in record.get("headers", []) or []
            )
            self._producer.produce(
                topic,
                key=key,
                value=value,
                partition=int(record.get("partition", 0) or 0),
                timestamp=int(record.get("timestamp", 0) or 0),
                headers=list(headers) or None,
            )
        self._producer.flush(30)

    def _await_queries(self, runner: QueryRunner, engine: Any, service_id: str) -> None:
        """Until every persistent query committed its sources' end offsets (10 s at most)."""
        deadline = time.monotonic() + 10
        with self.lock:
            tasks = dict(engine.persistent_queries())
        while time.monotonic() < deadline:
            if all(self._caught_up(service_id, qid, task) for qid, task in tasks.items()):
                return
            time.sleep(0.1)

    def _caught_up(self, service_id: str, query_id: str, task: Any) -> bool:
        consumer = Consumer(
            {
                "bootstrap.servers": self.bootstrap,
                "group.id": consumer_group_id(service_id, query_id),
            }
        )
        try:
            return self._committed_all(consumer, task)
        except KafkaException:  # a group's coordinator is still being set up: not yet
            return False
        finally:
            consumer.close()

    def _committed_all(self, consumer: Consumer, task: Any) -> bool:
        for topic in task.source_topics:
            info = self.gateway.describe_topic(topic)
            if info is None:
                return False
            parts = [TopicPartition(topic, p) for p in range(info.partitions)]
            for tp in consumer.committed(parts, timeout=10):
                _low, high = consumer.get_watermark_offsets(tp, timeout=10)
                if high > 0 and (tp.offset is None or tp.offset < high):
                    return False
        return True


def _encode(serde: Any, test_value: Any) -> bytes | None:
    if test_value is None:
        return None
    data: bytes | None = serde.from_test_value(test_value)
    return data


def _b64(value: Any) -> bytes | None:
    import base64

    return None if value is None else base64.b64decode(value)


def _judge_error(name: str, response: httpx.Response, expected: dict[str, Any]) -> Result:
    body = response.json()
    status = expected.get("status")
    if status is not None and response.status_code != int(status):
        return Result(name, False, f"expected HTTP {status}, got {response.status_code}")
    message = str(expected.get("message", ""))
    if message not in str(body.get("message", "")):
        return Result(name, False, f"expected error {message!r}, got {body.get('message')!r}")
    return Result(name, True)


def _compare(want: Any, got: Any) -> str | None:
    """None when `got` has everything `want` has (QTT compares expected fields only)."""
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return f"expected {json.dumps(want)[:120]}, got {json.dumps(got)[:120]}"
        for key, value in want.items():
            field, _, op = key.partition("|")
            if op == "starts_with":
                if not str(got.get(field, "")).startswith(str(value)):
                    return f"{field}: {got.get(field)!r} does not start with {value!r}"
                continue
            if field not in got:
                return f"missing {field!r} in {json.dumps(got)[:160]}"
            problem = _compare(value, got[field])
            if problem:
                return f"{field}: {problem}"
        return None
    if isinstance(want, list):
        if not isinstance(got, list) or len(got) != len(want):
            return f"expected {json.dumps(want)[:200]}, got {json.dumps(got)[:200]}"
        for w, g in zip(want, got, strict=True):
            problem = _compare(w, g)
            if problem:
                return problem
        return None
    if (
        isinstance(want, float | int)
        and isinstance(got, float | int)
        and not isinstance(want, bool)
    ):
        return None if float(want) == float(got) else f"expected {want}, got {got}"
    return None if want == got else f"expected {want!r}, got {got!r}"
