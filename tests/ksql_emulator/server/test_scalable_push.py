"""Push queries that ksqlDB runs as scalable push queries, and windowed sink partitions."""

from __future__ import annotations

import struct
from typing import Any

import pytest

from ksql_emulator.contracts.message import Message
from ksql_emulator.contracts.partitioner import partition_for
from ksql_emulator.kafka import output as output_module
from ksql_emulator.qtt.rest import InMemoryGateway, KeyPartitionedBroker
from ksql_emulator.service import KsqlService

V2 = {"ksql.query.push.v2.enabled": "true"}
SETUP = (
    "CREATE STREAM I (K INT KEY, ID INT) WITH (kafka_topic='i', value_format='JSON');"
    "CREATE STREAM INPUT AS SELECT * FROM I;"
)


def _service(server: dict[str, str]) -> KsqlService:
    broker = KeyPartitionedBroker()
    broker.create_topic("i", 1)
    service = KsqlService(InMemoryGateway(broker), dict(server))
    service.engine.broker = broker
    service.execute_statements(SETUP, {}, {})
    return service


def _query_id(sql: str, server: dict[str, str], request: dict[str, str]) -> str:
    service = _service(server)
    result: Any = service.query(sql, request, {})
    return str(result.header.query_id)


@pytest.mark.parametrize(
    ("sql", "server", "request_props", "scalable"),
    [
        ("SELECT * FROM INPUT EMIT CHANGES;", V2, {"auto.offset.reset": "latest"}, True),
        ("SELECT * FROM INPUT EMIT CHANGES;", {}, {"auto.offset.reset": "latest"}, False),
        ("SELECT * FROM INPUT EMIT CHANGES;", {}, {**V2, "auto.offset.reset": "latest"}, True),
        ("SELECT * FROM INPUT EMIT CHANGES;", V2, {"auto.offset.reset": "earliest"}, False),
        ("SELECT * FROM INPUT EMIT CHANGES;", V2, {}, False),  # unset is not "latest"
        ("SELECT * FROM I EMIT CHANGES;", V2, {"auto.offset.reset": "latest"}, False),
        (
            "SELECT K, COUNT(*) FROM INPUT GROUP BY K EMIT CHANGES;",
            V2,
            {"auto.offset.reset": "latest"},
            False,
        ),
        (
            "SELECT ROWOFFSET, ID FROM INPUT EMIT CHANGES;",
            V2,
            {"auto.offset.reset": "latest"},
            False,
        ),
        # ROWPARTITION/ROWOFFSET are found wherever they are written.
        *(
            (
                f"SELECT {select} FROM INPUT EMIT CHANGES;",
                V2,
                {"auto.offset.reset": "latest"},
                False,
            )
            for select in (
                "CASE WHEN ROWPARTITION > 0 THEN ID END AS C",
                "STRUCT(P := ROWPARTITION) AS C",
                "ARRAY[ID][ROWOFFSET] AS C",
                "TRANSFORM(ARRAY[ID], x => x + ROWOFFSET) AS C",
            )
        ),
        (
            "SELECT ID FROM INPUT WHERE CASE WHEN ROWOFFSET > 0 THEN TRUE END EMIT CHANGES;",
            V2,
            {"auto.offset.reset": "latest"},
            False,
        ),
    ],
)
def test_push_queries_that_qualify_are_named_as_scalable(
    sql: str, server: dict[str, str], request_props: dict[str, str], scalable: bool
) -> None:
    qid = _query_id(sql, server, request_props)
    assert qid.startswith("SCALABLE_PUSH_QUERY_") is scalable
    assert qid.startswith("transient_") is not scalable


def test_scalable_push_queries_skip_null_keys_and_values() -> None:
    service = _service(V2)
    push: Any = service.query(
        "SELECT * FROM INPUT EMIT CHANGES;", {"auto.offset.reset": "latest"}, {}
    )
    rows = [
        row.values
        for msg in (
            Message("INPUT", None, b'{"ID": 1}', 0),
            Message("INPUT", struct.pack(">i", 10), None, 0),
            Message("INPUT", struct.pack(">i", 11), b'{"ID": 2}', 0),
        )
        for row in push.process(msg)
    ]
    assert rows == [[11, 2]]


class _Producer:
    def __init__(self, config: dict[str, Any]) -> None:
        self.sent: list[dict[str, Any]] = []

    def list_topics(self, topic: str, timeout: float) -> Any:
        meta = type("T", (), {"error": None, "partitions": dict.fromkeys(range(4))})()
        return type("M", (), {"topics": {topic: meta}})()

    def produce(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        partition: int = -1,
        **kwargs: Any,
    ) -> None:
        # confluent-kafka's order: topic, value, key, partition by position or by name.
        self.sent.append(
            {"topic": topic, "value": value, "key": key, "partition": partition, **kwargs}
        )


def test_windowed_sink_records_are_partitioned_by_their_key_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(output_module, "Producer", _Producer)
    out = output_module.AtLeastOnceOutput("x:1", {}, windowed={"W": 8})
    keys = [f'"k{i}"'.encode() for i in range(20)]
    for key in keys:
        out.send("W", key + struct.pack(">q", 60_000), b"{}")
    out.send("PLAIN", b'"k1"', b"{}")
    sent = out.producer.sent  # type: ignore[attr-defined]
    assert [m["partition"] for m in sent[:-1]] == [partition_for(k, 4) for k in keys]
    assert sent[-1]["partition"] == -1  # librdkafka's "unassigned": the default partitioner
