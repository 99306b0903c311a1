"""Runs one REST QTT test (rest-query-validation-tests) through a running ksql_emulator server
over real Kafka.

One server serves many tests. Each test is isolated: its topics get a unique suffix, its sink
topics a unique prefix (`ksql.output.topic.name.prefix`, sent with each request with the test's
own properties), and after it the harness terminates its queries, drops its sources and deletes
its topics, as ksqlDB's REST test runner drops every source between tests. Query ids never repeat
within a server, so no query's consumer group or changelog is ever another test's.

Statements go to /ksql one at a time; the inputs are produced once the statements before the
first query ran, the persistent queries are waited for, and queries go to /query (the endpoint the
expected responses are written for) reading from the earliest offset. A test whose
`inputConditions` ask to wait for an active push query gets its inputs only once its first query
answered with its header, as ksqlDB's REST test runner does.

A test has one deadline (the time limit) for everything up to its last response: a push query
whose response never ends (no LIMIT, or one never reached) fails the test as a timeout, and is
stopped on the server.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import httpx
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from ksql_emulator.contracts.message import Message
from ksql_emulator.functions import FunctionRegistry
from ksql_emulator.qtt.loader import Variant
from ksql_emulator.qtt.rest import memory_service, query_flags, topic_partitions
from ksql_emulator.qtt.rest_compare import compare_response, judge_error
from ksql_emulator.qtt.rest_stream import StreamedQuery
from ksql_emulator.runtime.formats import key_serde, value_serde

__all__ = ["ServerRestDriver"]

_TOPIC_PROP = re.compile(r"(kafka_topic\s*=\s*')([^']*)(')", re.IGNORECASE)
# ksqlDB's own processing log stream is the server's, never a test's.
_KEEP = ("KSQL_PROCESSING_LOG",)
# A single /ksql request (statements, cleanup): generous, as each new query may wait on Kafka.
_REQUEST_TIMEOUT_S = 30.0


class ServerRestDriver:
    """Drives REST QTT variants through the server at `url`, producing inputs to `bootstrap`."""

    def __init__(
        self,
        url: str,
        bootstrap: str,
        registry: FunctionRegistry | None = None,
        time_limit_s: float = 10.0,
        client_config: Mapping[str, str] | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.bootstrap = bootstrap
        self.registry = registry
        self.time_limit_s = time_limit_s
        self.config: dict[str, str | int | float | bool] = {
            "bootstrap.servers": bootstrap,
            **(client_config or {}),
        }
        self.admin = AdminClient(self.config)
        # Inputs go to the partition the test names, else where Java's partitioner puts them.
        # Warnings only: each test deletes its topics, which librdkafka notes per topic.
        self.producer = Producer({**self.config, "partitioner": "murmur2_random", "log_level": 4})
        with httpx.Client(base_url=self.url, timeout=30) as client:
            info = client.get("/info").json().get("KsqlServerInfo", {})
        self.service_id = str(info.get("ksqlServiceId", "default_"))

    def close(self) -> None:
        self.producer.flush(10)

    def run(self, variant: Variant) -> tuple[str, str]:
        """(status, reason) of one variant; a driver or engine error fails this test only."""
        suffix = uuid.uuid4().hex[:8]
        prefix = f"rqtt_{suffix}_"
        props = {
            "ksql.streams.auto.offset.reset": "earliest",
            "ksql.output.topic.name.prefix": prefix,
            **variant.properties,
        }
        created: set[str] = set()
        deadline = time.monotonic() + self.time_limit_s
        with httpx.Client(base_url=self.url, timeout=_REQUEST_TIMEOUT_S) as client:
            try:
                return _Test(self, variant, suffix, props, client, created).run(deadline)
            except Exception as exc:
                return "failed", f"driver error {type(exc).__name__}: {exc}"
            finally:
                self._clean(client, props)
                self._delete_topics(suffix, prefix, created)

    def _clean(self, client: httpx.Client, props: Mapping[str, str]) -> None:
        def send(sql: str) -> list[Any]:
            try:
                response = client.post("/ksql", json={"ksql": sql, "streamsProperties": props})
            except httpx.HTTPError:
                return []
            body = response.json() if response.status_code == 200 else []
            return body if isinstance(body, list) else []

        send("TERMINATE ALL;")
        # Tables first: a table's source stream stays until nothing reads it.
        for kind in ("TABLES", "STREAMS"):
            for entity in send(f"SHOW {kind};"):
                for source in entity.get(kind.lower(), []) or []:
                    name = str(source.get("name", ""))
                    if name and name.upper() not in _KEEP:
                        send(f"DROP {kind[:-1]} IF EXISTS `{name}`;")

    def _delete_topics(self, suffix: str, prefix: str, created: set[str]) -> None:
        try:
            names = set(self.admin.list_topics(timeout=10).topics)
        except KafkaException:
            return
        doomed = [
            n for n in names if n in created or n.endswith(f"_{suffix}") or n.startswith(prefix)
        ]
        if doomed:
            self.admin.delete_topics(doomed, operation_timeout=10)

    def create_topic(self, name: str, partitions: int) -> None:
        futures = self.admin.create_topics([NewTopic(name, partitions, 1)])
        try:
            futures[name].result(timeout=30)
        except KafkaException as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise

    def caught_up(self, query_id: str, topics: set[str]) -> bool:
        """Whether the query's consumer group committed every partition's end of `topics`."""
        from ksql_emulator.kafka.query_runner import consumer_group_id

        group = consumer_group_id(self.service_id, query_id)
        consumer = Consumer({**self.config, "group.id": group})
        try:
            metadata = consumer.list_topics(timeout=10).topics
            for topic in topics:
                info = metadata.get(topic)
                if info is None:
                    return False
                parts = [TopicPartition(topic, p) for p in info.partitions]
                for tp in consumer.committed(parts, timeout=10):
                    _low, high = consumer.get_watermark_offsets(tp, timeout=10)
                    if high > 0 and (tp.offset is None or tp.offset < high):
                        return False
            return True
        except KafkaException:  # a group's coordinator is still being set up: not yet
            return False
        finally:
            consumer.close()


class _Test:
    """One variant's run against the server."""

    def __init__(
        self,
        driver: ServerRestDriver,
        variant: Variant,
        suffix: str,
        props: dict[str, str],
        client: httpx.Client,
        created: set[str],
    ) -> None:
        self.driver = driver
        self.test = variant.test
        self.suffix = suffix
        self.props = props
        self.client = client
        self.created = created
        self.prefix = props["ksql.output.topic.name.prefix"]
        self.deadline = time.monotonic() + driver.time_limit_s
        self.statements = [
            _TOPIC_PROP.sub(lambda m: m.group(1) + self.rename(m.group(2)) + m.group(3), s)
            for s in variant.statements
        ]
        # From the statements as written: the inputs name topics by their written names too,
        # and a statement's PARTITIONS must win over the default for an input's topic.
        self.topics = {
            self.rename(name): count
            for name, count in topic_partitions(self.test, variant.statements).items()
        }
        # The engine's own reading of the statements tells how to encode each input record, as
        # ksqlDB's runner reads its test's statements into a metastore to learn topic formats.
        self.mirror = memory_service(props, driver.registry, self.topics)

    def rename(self, topic: str) -> str:
        return topic if topic.endswith(f"_{self.suffix}") else f"{topic}_{self.suffix}"

    def run(self, deadline: float) -> tuple[str, str]:
        self.deadline = deadline
        try:
            return self._run()
        except _Timeout as err:
            return "failed", f"timeout: took longer than {self.driver.time_limit_s:g}s ({err})"
        except httpx.TimeoutException as err:
            return "failed", f"timeout: took longer than {self.driver.time_limit_s:g}s ({err})"

    def remaining(self, doing: str) -> float:
        """Seconds left before the test's deadline; a timeout once none are."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise _Timeout(doing)
        return left

    def _run(self) -> tuple[str, str]:
        for topic, count in self.topics.items():
            self.driver.create_topic(topic, count)
            self.created.add(topic)
        expected_error = self.test.get("expectedError")
        inputs = self.test.get("inputs", []) or []
        conditions = self.test.get("inputConditions") or {}
        # As ksqlDB's runner: inputs go in once the (first) push query runs, so a query
        # reading from "latest" sees them.
        after_start = bool(conditions.get("waitForActivePushQuery"))
        actual: list[Any] = []
        fed = False
        for statement, is_query in zip(self.statements, query_flags(self.statements), strict=True):
            if is_query and not fed and not after_start:
                self.feed(inputs)
                fed = True
                self.await_queries()
            if is_query:
                status, body = self.query(statement, None if fed else inputs)
                fed = True
            else:
                response = self.client.post(
                    "/ksql",
                    json={"ksql": statement, "streamsProperties": self.props},
                    timeout=self.remaining(f"statement {statement[:60]!r}"),
                )
                status, body = response.status_code, _json(response)
            if status != 200:
                if expected_error is not None:
                    return judge_error(status, body, expected_error)
                return "failed", f"{statement[:60]!r}: {json.dumps(body)[:300]}"
            if is_query:
                actual.append({"query": body})
            else:
                self.mirror_execute(statement)
                actual.extend({"admin": entity} for entity in body)
        if not fed:
            self.feed(inputs)
        if expected_error is not None:
            return "failed", f"expected an error: {expected_error.get('message')!r}"
        for index, want in enumerate(self.test.get("responses", []) or []):
            if index >= len(actual):
                return "failed", f"response #{index} missing"
            problem = compare_response(want, actual[index])
            if problem:
                return "failed", f"response #{index}: {problem}"
        return "passed", ""

    def query(self, statement: str, inputs: list[dict[str, Any]] | None) -> tuple[int, Any]:
        """(HTTP status, body) of a query read to its end, `inputs` produced once it runs;
        a timeout (the query stopped on the server) when its response outlives the deadline."""
        body = {"ksql": statement, "streamsProperties": self.props}
        stream = StreamedQuery(self.driver.url, "/query", body, self.driver.time_limit_s)
        try:
            if inputs is not None:
                if not stream.wait_started(self.deadline):
                    raise _Timeout(f"no header from {statement[:60]!r}")
                if stream.status_code == 200 and stream.error is None:
                    self.feed(inputs)
            if not stream.wait_done(self.deadline):
                rows = sum(1 for item in stream.items if isinstance(item, dict) and "row" in item)
                raise _Timeout(f"{statement[:60]!r} still streaming after {rows} rows")
        finally:
            stream.stop()
        if stream.error is not None:
            raise stream.error
        assert stream.status_code is not None
        if stream.status_code != 200:
            return stream.status_code, stream.error_body
        return 200, stream.items

    def mirror_execute(self, statement: str) -> None:
        # The server accepted it; the mirror only needs the sources it names.
        with contextlib.suppress(Exception):
            self.mirror.execute_statements(statement, self.props, {})

    def feed(self, inputs: list[dict[str, Any]]) -> None:
        from ksql_emulator.service.windowed_keys import Windowing, to_wire

        catalog = self.mirror.engine.catalog
        producer = self.driver.producer
        for record in inputs:
            # A test may write into a query's sink topic, which has the test's sink prefix.
            names = (self.rename(record["topic"]), self.prefix + record["topic"])
            topic, source = next(
                ((s.topic, s) for s in catalog.sources.values() if s.topic in names),
                (names[0], None),
            )
            if source is None:
                raise RuntimeError(f"no source reads input topic {record['topic']}")
            key = _encode(key_serde(source), record.get("key"))
            window = record.get("window")
            if key is not None and window is not None and source.window_type:
                windowing = Windowing(source.window_type, source.window_size_ms)
                span = (int(window["start"]), int(window["end"]))
                key = to_wire(Message(topic, key, None, 0, window=span), windowing).key
            headers: list[tuple[str, str | bytes | None]] = [
                (str(h.get("KEY", h.get("key"))), _b64(h.get("VALUE", h.get("value"))))
                for h in record.get("headers", []) or []
            ]
            partition = record.get("partition")
            producer.produce(
                topic,
                key=key,
                value=_encode(value_serde(source), record.get("value")),
                timestamp=int(record.get("timestamp", 0) or 0),
                headers=headers or None,
                # -1: unassigned, so the producer's partitioner places the record.
                partition=-1 if partition is None else int(partition),
            )
        producer.flush(30)

    def await_queries(self) -> None:
        """Until every persistent query committed its sources' end offsets (time limit at most)."""
        sources = _sources_by_sink(self.mirror.engine.queries)
        response = self.client.post(
            "/ksql", json={"ksql": "SHOW QUERIES;"}, timeout=self.remaining("SHOW QUERIES")
        )
        order = list(sources)
        wanted: list[tuple[int, str, set[str]]] = []
        for entity in response.json() if response.status_code == 200 else []:
            for query in entity.get("queries", []) or []:
                sinks = [str(s) for s in query.get("sinks", [])]
                topics = set().union(*(sources.get(s, set()) for s in sinks))
                rank = min((order.index(s) for s in sinks if s in order), default=len(order))
                wanted.append((rank, str(query["id"]), topics))
        # Upstream first, and every query again each round: a query reading another's sink is
        # only caught up once it read what that one wrote, which a check before it cannot see.
        wanted.sort(key=lambda w: w[0])
        while time.monotonic() < self.deadline:
            if all(self.driver.caught_up(query_id, topics) for _, query_id, topics in wanted):
                return
            time.sleep(0.1)


class _Timeout(Exception):
    """The test's deadline passed; the message says while doing what."""


def _sources_by_sink(queries: Mapping[str, Any]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for query in queries.values():
        out.setdefault(str(query.sink_name), set()).update(query.source_topics)
    return out


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return {"message": response.text}


def _encode(serde: Any, test_value: Any) -> bytes | None:
    if test_value is None:
        return None
    data: bytes | None = serde.from_test_value(test_value)
    return data


def _b64(value: Any) -> bytes | None:
    return None if value is None else base64.b64decode(value)


@contextmanager
def driving(
    url: str, bootstrap: str, registry: FunctionRegistry | None = None, time_limit_s: float = 10.0
) -> Iterator[Callable[[Variant], tuple[str, str]]]:
    """`run` of a driver for the server at `url`, closed afterwards."""
    driver = ServerRestDriver(url, bootstrap, registry, time_limit_s)
    try:
        yield driver.run
    finally:
        driver.close()
