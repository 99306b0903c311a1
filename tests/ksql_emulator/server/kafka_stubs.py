"""A tiny engine speaking a toy statement language over the real Kafka layer.

It isolates the Kafka layer (feeds, sinks, offsets, command topic, restarts) from the SQL
engine: `UPPER <src> <sink>` upper-cases values, `COUNT <src> <sink>` counts per key (state),
`SELECT <topic> [LIMIT n]` is a push query; `INSERT <topic> <key> <value>` writes a record.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ksql_emulator.contracts.backend import (
    Command,
    KafkaGateway,
    PullQueryResult,
    PushQuery,
    QueryHeader,
    QueryTask,
    Row,
    StatementResult,
)
from ksql_emulator.contracts.message import Message
from ksql_emulator.errors import KsqlStatementError


@dataclass
class UpperTask:
    query_id: str
    source: str
    sink: str
    properties: Mapping[str, Any]
    stateful: bool = False

    @property
    def source_topics(self) -> Sequence[str]:
        return [self.source]

    def process(self, msg: Message) -> Sequence[Message]:
        value = (msg.value or b"").upper()
        return [Message(self.sink, msg.key, value, msg.timestamp)]


@dataclass
class CountTask:
    query_id: str
    source: str
    sink: str
    properties: Mapping[str, Any]
    stateful: bool = True
    counts: dict[bytes | None, int] = field(default_factory=dict)

    @property
    def source_topics(self) -> Sequence[str]:
        return [self.source]

    def process(self, msg: Message) -> Sequence[Message]:
        self.counts[msg.key] = self.counts.get(msg.key, 0) + 1
        return [Message(self.sink, msg.key, str(self.counts[msg.key]).encode(), msg.timestamp)]


@dataclass
class TopicPush:
    header: QueryHeader
    source_topics: Sequence[str]
    limit: int | None
    closed: bool = False

    def process(self, msg: Message) -> Sequence[Row]:
        key = msg.key.decode() if msg.key is not None else None
        value = json.loads(msg.value) if msg.value is not None else None
        return [Row([key, value])]

    def close(self) -> None:
        self.closed = True


class ToyBackend:
    def __init__(self, gateway: KafkaGateway, properties: Mapping[str, str]) -> None:
        self.gateway = gateway
        self.properties = dict(properties)
        self.queries: dict[str, QueryTask] = {}
        self.pushes: list[TopicPush] = []
        self._ids = 0

    def execute_statements(
        self, text: str, properties: Mapping[str, Any], session_variables: Mapping[str, Any]
    ) -> list[StatementResult]:
        return [
            self._run(statement.strip(), properties)
            for statement in text.split(";")
            if statement.strip()
        ]

    def _run(self, statement: str, properties: Mapping[str, Any]) -> StatementResult:
        words = statement.split()
        verb = words[0].upper()
        if verb in ("UPPER", "COUNT") and len(words) == 3:
            source, sink = words[1], words[2]
            if self.gateway.describe_topic(source) is None:
                error = KsqlStatementError(f"Kafka topic does not exist: {source}")
                error.statement = statement
                raise error
            info = self.gateway.describe_topic(source)
            assert info is not None
            self.gateway.create_topic(sink, info.partitions, info.replication, {})
            query_id = f"CSAS_{sink.upper().replace('-', '_')}_{len(self.queries)}"
            task_type = UpperTask if verb == "UPPER" else CountTask
            self.queries[query_id] = task_type(query_id, source, sink, dict(properties))
            command_id = f"stream/`{sink}`/create"
            entity = {
                "@type": "currentStatus",
                "statementText": statement,
                "commandId": command_id,
                "commandStatus": {
                    "status": "SUCCESS",
                    "message": "Created query with ID " + query_id,
                    "queryId": query_id,
                },
            }
            return StatementResult(entity, Command(command_id, statement, dict(properties)))
        if verb == "INSERT" and len(words) == 4:
            self.gateway.produce(Message(words[1], words[2].encode(), words[3].encode(), 0))
            return StatementResult(None)
        error = KsqlStatementError(f"line 1:1: Syntax Error: {words[0]}")
        error.statement = statement
        raise error

    def query(
        self, sql: str, properties: Mapping[str, Any], session_variables: Mapping[str, Any]
    ) -> PullQueryResult | PushQuery:
        words = sql.rstrip(";").split()
        if len(words) < 2 or words[0].upper() != "SELECT":
            raise KsqlStatementError("not a query")
        self._ids += 1
        header = QueryHeader(
            f"transient_{words[1].upper()}_{self._ids}",
            ["K", "V"],
            ["STRING", "STRING"],
            "`K` STRING KEY, `V` STRING",
        )
        limit = int(words[3]) if len(words) == 4 and words[2].upper() == "LIMIT" else None
        push = TopicPush(header, [words[1]], limit)
        self.pushes.append(push)
        return push

    def insert_row(self, target: str, row: Mapping[str, Any]) -> None:
        key = row.get("K")
        self.gateway.produce(
            Message(
                target,
                str(key).encode() if key is not None else None,
                json.dumps(row.get("V")).encode(),
                int(row.get("ROWTIME", 0)),
            )
        )

    def replay(self, command: Command) -> None:
        self._run(command.statement, command.properties)

    def persistent_queries(self) -> Mapping[str, QueryTask]:
        return dict(self.queries)

    def close(self) -> None:
        pass
