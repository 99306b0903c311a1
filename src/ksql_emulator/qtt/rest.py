"""Runs one REST QTT test (rest-query-validation-tests) through the engine service, no Kafka.

As ksqlDB's REST test executor does: the non-query statements first (checking each
response's `@type`), then the inputs, then the expected topic outputs, then each SELECT
(a push query reads its source from the start up to its LIMIT).
"""

from __future__ import annotations

import base64
import datetime as dt
import re
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ksql_emulator.contracts.backend import PullQueryResult, TopicInfo
from ksql_emulator.contracts.message import Message
from ksql_emulator.contracts.partitioner import partition_for
from ksql_emulator.errors import KsqlError
from ksql_emulator.functions import FunctionRegistry
from ksql_emulator.parser import tree as t
from ksql_emulator.parser.grammar import parse
from ksql_emulator.qtt.loader import Variant
from ksql_emulator.qtt.records import compare_outputs, feed_inputs, same_value
from ksql_emulator.runtime.broker import InMemoryBroker

if TYPE_CHECKING:
    from ksql_emulator.service import KsqlService

__all__ = [
    "REST_SERVER_PROPERTIES",
    "REST_TEST_PARTITIONS",
    "InMemoryGateway",
    "KeyPartitionedBroker",
    "input_partitions",
    "memory_service",
    "query_flags",
    "run_rest",
    "topic_partitions",
]


# ksqlDB's REST test runner creates a test's topics with this many partitions unless a statement
# says otherwise: its pull queries' scan order (partition by partition) shows it.
REST_TEST_PARTITIONS = 4
# ksqlDB's REST test runner runs its server with scalable push queries on: its expected responses
# name a push query that qualifies `SCALABLE_PUSH_QUERY_...` when the test sets nothing more
# than `auto.offset.reset`.
REST_SERVER_PROPERTIES = {
    "ksql.query.push.v2.enabled": "true",
    "ksql.query.push.v2.registry.installed": "true",
}
_PARTITIONS = re.compile(r"\bPARTITIONS\s*=\s*(\d+)", re.IGNORECASE)
_TOPIC = re.compile(r"\bKAFKA_TOPIC\s*=\s*'([^']*)'", re.IGNORECASE)


def input_partitions(statements: Sequence[str]) -> dict[str, int]:
    """Each topic a statement names with its PARTITIONS."""
    out: dict[str, int] = {}
    for text in statements:
        topic, count = _TOPIC.search(text), _PARTITIONS.search(text)
        if topic is not None and count is not None:
            out.setdefault(topic.group(1), int(count.group(1)))
    return out


class KeyPartitionedBroker(InMemoryBroker):
    """The in-memory broker, placing keyed records as Kafka's default partitioner does."""

    def produce(self, msg: Message) -> None:
        pending = deque([msg])
        while pending:
            m = pending.popleft()
            count = self.partitions.get(m.topic, 1)
            log = self.topics.setdefault(m.topic, [])
            partition = partition_for(m.key, count) if m.key is not None else 0
            m = m._replace(partition=partition, offset=len(log))
            log.append(m)
            for reader in list(self.readers.get(m.topic, [])):
                pending.extend(reader(m))


class InMemoryGateway:
    """The Kafka gateway over the harness' in-memory broker."""

    def __init__(self, broker: InMemoryBroker) -> None:
        self.broker = broker

    def cluster_id(self) -> str:
        return "qtt"

    def describe_topic(self, name: str) -> TopicInfo | None:
        if name not in self.broker.topics:
            return None
        return TopicInfo(name, self.broker.partitions.get(name, 1), 1)

    def list_topics(self) -> Sequence[TopicInfo]:
        return [
            TopicInfo(n, self.broker.partitions.get(n, 1), 1) for n in sorted(self.broker.topics)
        ]

    def create_topic(
        self, name: str, partitions: int, replication: int, config: Mapping[str, str]
    ) -> TopicInfo:
        self.broker.create_topic(name, partitions)
        return TopicInfo(name, self.broker.partitions.get(name, partitions), replication)

    def delete_topic(self, name: str) -> None:
        self.broker.topics.pop(name, None)

    def produce(self, msg: Message) -> None:
        self.broker.produce(msg)

    def read_topic(self, name: str) -> Iterator[Message]:
        return iter(list(self.broker.topics.get(name, [])))


def topic_partitions(test: Mapping[str, Any], statements: Sequence[str]) -> dict[str, int]:
    """Each topic a test needs up front (its `topics`, its inputs' topics and the topics its
    statements declare with PARTITIONS), with its partition count."""
    declared = input_partitions(statements)
    for x in test.get("topics", []) or []:
        declared.setdefault(x["name"], int(x.get("partitions", REST_TEST_PARTITIONS)))
    for record in test.get("inputs", []) or []:
        declared.setdefault(record["topic"], REST_TEST_PARTITIONS)
    return declared


def query_flags(statements: Sequence[str]) -> list[bool]:
    """Whether each statement is a query (for /query) rather than a statement (for /ksql)."""
    flags: list[bool] = []
    for text in statements:
        try:
            stmts = parse(text)
            flags.append(bool(stmts) and isinstance(stmts[0].statement, t.SelectStatement))
        except KsqlError:  # sent as a statement: the server answers with its parse error
            flags.append(False)
    return flags


def memory_service(
    properties: Mapping[str, str], registry: FunctionRegistry | None, topics: Mapping[str, int]
) -> KsqlService:
    """A fresh engine service over an in-memory broker holding `topics` (name -> partitions)."""
    from ksql_emulator.service import KsqlService

    broker = KeyPartitionedBroker()
    for topic, count in topics.items():
        broker.create_topic(topic, count)
    service = KsqlService(InMemoryGateway(broker), {**REST_SERVER_PROPERTIES, **properties})
    if registry is not None:
        service.engine.registry = registry
    service.engine.broker = broker
    return service


def run_rest(variant: Variant, registry: FunctionRegistry) -> tuple[str, str]:
    """(status, reason) of one REST test variant."""
    test = variant.test
    service = memory_service(
        variant.properties, registry, topic_partitions(test, variant.statements)
    )
    expected_error = test.get("expectedError")
    responses = list(test.get("responses", []))
    statements = list(variant.statements)
    flags = query_flags(statements)
    admin = [s for s, is_query in zip(statements, flags, strict=True) if not is_query]
    queries = [s for s, is_query in zip(statements, flags, strict=True) if is_query]
    admin_expected = [r for r in responses if "admin" in r]
    query_expected = [r for r in responses if "query" in r]
    try:
        for i, text in enumerate(admin):
            results = service.execute_statements(text, variant.properties, {})
            if i < len(admin_expected):
                want = admin_expected[i]["admin"].get("@type")
                got = [r.entity.get("@type") for r in results if r.entity is not None]
                if want and got and want not in got:
                    return "failed", f"statement {i}: expected @type {want} got {got}"
        service.engine.input_offsets = {}  # type: ignore[attr-defined]
        feed_inputs(service.engine, test.get("inputs", []))
        problems = compare_outputs(service.engine, test.get("outputs", []))
        if problems:
            return "failed", "; ".join(problems[:3])
        for i, text in enumerate(queries):
            got_response = _query_response(service, text, variant.properties)
            if i < len(query_expected):
                problem = _compare_query(query_expected[i]["query"], got_response, same_value)
                if problem:
                    return "failed", f"query {i}: {problem}"
    except KsqlError as err:
        if expected_error is None:
            return "failed", f"unexpected {err.ksql_type}: {err}"
        want = str(expected_error.get("message", ""))
        if want and want not in str(err):
            return "failed", f"expected error containing {want!r} but got {str(err)!r}"
        return "passed", ""
    if expected_error is not None:
        return "failed", f"expected error {expected_error.get('message', '')!r} but none"
    return "passed", ""


def _query_response(service: Any, text: str, properties: Mapping[str, str]) -> list[dict[str, Any]]:
    result = service.query(text, properties, {})
    header = {"schema": result.header.schema, "queryId": result.header.query_id}
    out: list[dict[str, Any]] = [{"header": header}]
    if isinstance(result, PullQueryResult):
        out += [{"row": {"columns": [_render(v) for v in row.values]}} for row in result.rows]
        if result.source_kind == "STREAM":
            final = "Limit Reached" if result.limit_reached else "Query Completed"
            out.append({"finalMessage": final})
        return out
    rows: list[Any] = []
    limit = result.limit
    for topic in result.source_topics:
        for msg in service.gateway.read_topic(topic):
            rows += list(result.process(msg))
            if limit is not None and len(rows) >= limit:
                break
    result.close()
    if limit is not None:
        rows = rows[:limit]
    out += [{"row": {"columns": [_render(v) for v in row.values]}} for row in rows]
    if limit is not None and len(rows) >= limit:
        out.append({"finalMessage": "Limit Reached"})
    return out


def _render(v: Any) -> Any:
    if isinstance(v, Decimal):
        return v
    if isinstance(v, bytes):
        return base64.b64encode(v).decode()
    if isinstance(v, dt.datetime):
        return v.strftime("%Y-%m-%dT%H:%M:%S.") + f"{v.microsecond // 1000:03d}"
    if isinstance(v, dt.date | dt.time):
        return v.isoformat()
    if isinstance(v, list):
        return [_render(x) for x in v]
    if isinstance(v, dict):
        return {k: _render(x) for k, x in v.items()}
    return v


def _compare_query(expected: list[dict[str, Any]], got: list[dict[str, Any]], same: Any) -> str:
    exp_rows = [e for e in expected if "row" in e]
    got_rows = [g for g in got if "row" in g]
    for e in expected:
        if "header" in e and "schema" in e["header"]:
            want = " ".join(str(e["header"]["schema"]).split())
            have = " ".join(str(got[0]["header"]["schema"]).split())
            if want != have:
                return f"schema {have!r}, expected {want!r}"
        prefix = e.get("header", {}).get("queryId|starts_with")
        if prefix is not None and not str(got[0]["header"].get("queryId")).startswith(prefix):
            return f"queryId {got[0]['header'].get('queryId')!r} does not start with {prefix!r}"
    if len(exp_rows) != len(got_rows):
        return f"expected {len(exp_rows)} rows but got {len(got_rows)}: {got_rows[:3]}"
    # ksqlDB's REST test runner compares rows regardless of order (confluentinc/ksql#8202):
    # rows from several partitions or concurrent tasks come in no fixed order.
    unmatched = [g["row"]["columns"] for g in got_rows]
    for i, e in enumerate(exp_rows):
        ecols = e["row"].get("columns")
        if ecols is None:
            continue
        match = next((j for j, g in enumerate(unmatched) if same(ecols, g)), None)
        if match is None:
            return f"row {i}: expected {ecols} among {unmatched[:3]}"
        unmatched.pop(match)
    wants_final = any("finalMessage" in e for e in expected)
    has_final = any("finalMessage" in g for g in got)
    if wants_final != has_final:
        return f"finalMessage expected={wants_final} got={has_final}"
    return ""
