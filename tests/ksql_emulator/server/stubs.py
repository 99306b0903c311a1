"""A small stub backend and feeder for the REST layer's unit tests."""

from __future__ import annotations

import queue
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ksql_emulator.contracts.backend import (
    Command,
    PullQueryResult,
    PushQuery,
    QueryHeader,
    QueryTask,
    Row,
    StatementResult,
)
from ksql_emulator.contracts.hosting import RowSink
from ksql_emulator.contracts.message import Message
from ksql_emulator.errors import KsqlStatementError
from ksql_emulator.server._state import ServerState


@dataclass
class StubPush:
    """A push query whose rows the test feeds through `incoming` (None ends the feed)."""

    header: QueryHeader
    limit: int | None
    source_topics: Sequence[str] = ("src",)
    incoming: queue.Queue[Row | None] = field(default_factory=queue.Queue)
    closed: threading.Event = field(default_factory=threading.Event)

    def process(self, msg: Message) -> Sequence[Row]:
        return [Row([msg.value])]

    def close(self) -> None:
        assert not self.closed.is_set(), "a push query was closed twice"
        self.closed.set()


class StubBackend:
    """Understands just enough: CREATE STREAM, SHOW STREAMS, a failing statement, SELECT."""

    def __init__(self) -> None:
        self.streams: list[str] = []
        self.pushes: list[StubPush] = []
        self.inserted: list[tuple[str, dict[str, Any]]] = []
        self.seen_properties: list[Mapping[str, Any]] = []
        self.replayed: list[Command] = []
        self._counter = 0

    def execute_statements(
        self, text: str, properties: Mapping[str, Any], session_variables: Mapping[str, Any]
    ) -> list[StatementResult]:
        self.seen_properties.append(dict(properties))
        results: list[StatementResult] = []
        for statement in [s.strip() + ";" for s in text.split(";") if s.strip()]:
            create = re.match(r"CREATE STREAM (\w+)", statement, re.I)
            if create:
                name = create.group(1).upper()
                command_id = f"stream/`{name}`/create"
                entity = {
                    "@type": "currentStatus",
                    "statementText": statement,
                    "commandId": command_id,
                    "commandStatus": {"status": "SUCCESS", "message": "Stream created"},
                }
                self.streams.append(name)
                results.append(
                    StatementResult(entity, Command(command_id, statement, dict(properties)))
                )
            elif statement.upper().startswith("SHOW STREAMS"):
                streams = [{"type": "STREAM", "name": s, "topic": s.lower()} for s in self.streams]
                results.append(
                    StatementResult(
                        {"@type": "streams", "statementText": statement, "streams": streams}
                    )
                )
            elif statement.upper().startswith("SET"):
                results.append(StatementResult(None))
            else:
                error = KsqlStatementError(f"line 1:1: Syntax Error in {statement[:10]}")
                error.statement = statement
                error.entities = [r.entity for r in results if r.entity]
                raise error
        return results

    def query(
        self, sql: str, properties: Mapping[str, Any], session_variables: Mapping[str, Any]
    ) -> PullQueryResult | PushQuery:
        self.seen_properties.append(dict(properties))
        if not sql.upper().startswith("SELECT"):
            raise KsqlStatementError("not a query")
        self._counter += 1
        header = QueryHeader(
            f"transient_S_{self._counter}",
            ["K", "V"],
            ["STRING", "DECIMAL(4, 2)"],
            "`K` STRING KEY, `V` DECIMAL(4, 2)",
        )
        if "EMIT CHANGES" not in sql.upper():
            from decimal import Decimal

            rows = [Row(["a", Decimal("1.50")]), Row(["b", None])]
            return PullQueryResult(header, rows, "STREAM" if "STREAM" in sql.upper() else "TABLE")
        limit = re.search(r"LIMIT (\d+)", sql, re.I)
        push = StubPush(header, int(limit.group(1)) if limit else None)
        self.pushes.append(push)
        return push

    def insert_row(self, target: str, row: Mapping[str, Any]) -> None:
        if "BAD" in row:
            raise KsqlStatementError("Failed to insert values into 'S'. bad row")
        self.inserted.append((target, dict(row)))

    def replay(self, command: Command) -> None:
        self.replayed.append(command)

    def persistent_queries(self) -> Mapping[str, QueryTask]:
        return {}

    def close(self) -> None:
        pass


class _Feed:
    def __init__(self, push: StubPush, sink: RowSink) -> None:
        self.push = push
        self.sink = sink
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopped.is_set():
            try:
                row = self.push.incoming.get(timeout=0.05)
            except queue.Empty:
                continue
            if row is None:
                self.sink.finish()
                return
            if not self.sink.put([row]):
                return

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(5)


class StubFeeder:
    def __init__(self) -> None:
        self.offset_resets: list[str] = []

    def start(self, query: PushQuery, offset_reset: str, sink: RowSink) -> _Feed:
        assert isinstance(query, StubPush)
        self.offset_resets.append(offset_reset)
        return _Feed(query, sink)


@dataclass
class StubServer:
    url: str
    backend: StubBackend
    feeder: StubFeeder
    state: ServerState
