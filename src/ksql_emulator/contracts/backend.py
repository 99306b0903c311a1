"""The narrow interface between the REST server / Kafka layer and the backend behind them.

The server and `ksql_emulator.kafka` only ever talk to the backend (`service.KsqlService` over
the engine) through these Protocols and plain data classes; it satisfies them structurally.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from ksql_emulator.contracts.message import Message

__all__ = [
    "Command",
    "Entity",
    "KafkaGateway",
    "KsqlBackend",
    "PullQueryResult",
    "PushQuery",
    "QueryHeader",
    "QueryTask",
    "Row",
    "StatementResult",
    "TopicInfo",
    "task_generation",
    "task_paused",
]

# One element of `/ksql`'s answer, exactly as ksqlDB's JSON: it has "@type" and "statementText"
# (and "warnings", a list of {"message": str}); the server adds "commandSequenceNumber".
Entity = dict[str, Any]


@dataclass(frozen=True)
class Command:
    """A statement that changed the catalog, as it is appended to the command topic.

    `command_id` is ksqlDB's `<type>/<name>/<action>` (e.g. "stream/`S`/create"); `statement`
    the text to replay (variables already substituted, one statement); `properties` the
    request's property overrides in force for it (replay passes them back unchanged).
    """

    command_id: str
    statement: str
    properties: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StatementResult:
    """What one statement of a `/ksql` request produced.

    `entity` is None for statements ksqlDB answers with nothing (SET, UNSET, DEFINE ...);
    `command` is set for DDL and persistent-query statements (CREATE/DROP/TERMINATE/CSAS/CTAS/
    INSERT INTO ... SELECT), never for INSERT VALUES, SHOW, LIST, DESCRIBE, EXPLAIN.
    """

    entity: Entity | None
    command: Command | None = None


@dataclass(frozen=True)
class QueryHeader:
    """What a query's answer starts with.

    `schema` is the `/query` header's string ("`K` STRING KEY, `ID` INTEGER"); `column_names`
    and `column_types` are `/query-stream`'s (types as ksqlDB prints them, e.g. "INTEGER").
    """

    query_id: str
    column_names: Sequence[str]
    column_types: Sequence[str]
    schema: str


@dataclass(frozen=True)
class Row:
    """One result row: Python values per the types contract, in header column order."""

    values: Sequence[Any]
    tombstone: bool = False


@dataclass(frozen=True)
class PullQueryResult:
    """A pull query's complete answer. `source_kind` picks `/query`'s final message."""

    header: QueryHeader
    rows: Sequence[Row]
    source_kind: Literal["STREAM", "TABLE"] = "TABLE"
    # A pull query on a stream that stopped at its LIMIT says so instead of "Query Completed".
    limit_reached: bool = False


@runtime_checkable
class PushQuery(Protocol):
    """A transient push query. The Kafka layer feeds it its source topics' messages."""

    @property
    def header(self) -> QueryHeader: ...

    @property
    def source_topics(self) -> Sequence[str]: ...

    @property
    def limit(self) -> int | None:
        """The query's LIMIT; the server ends the response after this many rows."""
        ...

    def process(self, msg: Message) -> Sequence[Row]:
        """The rows one source message yields (usually 0 or 1); never raises for bad data."""
        ...

    def close(self) -> None:
        """Releases the query; called exactly once, when the response ends for any reason."""
        ...


class QueryTask(Protocol):
    """A persistent query (CSAS/CTAS/INSERT INTO ... SELECT) as the Kafka layer runs it."""

    @property
    def query_id(self) -> str: ...

    @property
    def source_topics(self) -> Sequence[str]: ...

    @property
    def properties(self) -> Mapping[str, Any]:
        """The property overrides in force when the query was created; the Kafka layer reads
        `auto.offset.reset` (default "latest", as ksqlDB) from it for a new consumer group."""
        ...

    @property
    def stateful(self) -> bool:
        """True when the query keeps state (aggregates, joins, tables): on restart the Kafka
        layer replays its sources from the start with sink writes suppressed up to the
        committed offsets, so the state is rebuilt without writing duplicates."""
        ...

    def process(self, msg: Message) -> Sequence[Message]:
        """The sink messages one source message yields (key/value bytes already serialized).
        `Message.partition` of the result is ignored: the producer partitions by key bytes
        with Kafka's murmur2, as ksqlDB's Java producer does. A task may also offer
        `windowed_sinks` (sink topic -> bytes the window adds to each key): those records are
        partitioned by the key bytes without the window, as Kafka Streams' windowed sinks are.
        It may offer `table_sinks` (the sink topics that are tables'): an at-least-once stream
        thread may hold their records a little longer to send them together.
        A task may also offer `process_many(msgs, *, alone)`: `process` for each of several
        messages of one topic, in order, one result each; a stream thread then hands it a
        batch at once, `alone` true when no other task of the thread is offered them."""
        ...


# Attributes a task may have beyond the protocol (a test's stand-in need not): its generation,
# which a CREATE OR REPLACE raises, and whether PAUSE holds it.
def task_generation(task: QueryTask) -> int:
    return int(getattr(task, "generation", 0))


def task_paused(task: QueryTask) -> bool:
    return bool(getattr(task, "paused", False))


@dataclass(frozen=True)
class TopicInfo:
    name: str
    partitions: int
    replication: int


class KafkaGateway(Protocol):
    """What the engine may ask of Kafka; `ksql_emulator.kafka.gateway` implements it."""

    def cluster_id(self) -> str: ...

    def describe_topic(self, name: str) -> TopicInfo | None:
        """The topic, or None when it does not exist."""
        ...

    def list_topics(self) -> Sequence[TopicInfo]:
        """Every topic, internal ones (names starting with "_") included, sorted by name."""
        ...

    def create_topic(
        self, name: str, partitions: int, replication: int, config: Mapping[str, str]
    ) -> TopicInfo:
        """Creates the topic; if it exists already, returns it as it is (no error)."""
        ...

    def delete_topic(self, name: str) -> None: ...

    def produce(self, msg: Message) -> None:
        """Writes one message and returns once the broker acknowledged it (raises otherwise).
        `Message.partition` is ignored: the key bytes pick it (murmur2, as Java clients)."""
        ...

    def read_topic(self, name: str) -> Iterator[Message]:
        """Every message now in the topic, from the earliest offset up to the end offsets at
        the time of the call, partition by partition (for pull queries over streams)."""
        ...


class KsqlBackend(Protocol):
    """What the server and the Kafka layer need from the backend; one thread calls at a time."""

    def execute_statements(
        self,
        text: str,
        properties: Mapping[str, Any],
        session_variables: Mapping[str, Any],
    ) -> list[StatementResult]:
        """Runs every statement of `text` in order (validated first as ksqlDB does).

        Raises `errors.KsqlError` for the first statement that fails, with its fields set as
        the REST answer shows them: `statement` (the failing statement, or the whole text when
        it does not parse), `entities` (results of the statements before it) and `error_code`
        (None for the default 40001; 40002 for a SELECT sent to /ksql with ksqlDB's "should be
        issued to the websocket endpoint" message).
        """
        ...

    def query(
        self,
        sql: str,
        properties: Mapping[str, Any],
        session_variables: Mapping[str, Any],
    ) -> PullQueryResult | PushQuery:
        """Starts one SELECT: a pull query answers at once, a push query is returned to be fed.
        Raises `errors.KsqlError` (fields as above, `statement` the whole `sql`) when the
        statement is not a query or is rejected."""
        ...

    def insert_row(self, target: str, row: Mapping[str, Any]) -> None:
        """Inserts one `/inserts-stream` row (JSON object, column names case-insensitive) into
        stream `target`, via `KafkaGateway.produce`. Raises `errors.KsqlError` for a bad row."""
        ...

    def replay(self, command: Command) -> None:
        """Re-applies a command read back from the command topic when a server restarts.
        Must not write records (INSERT VALUES is never a command) nor fail on topics that
        already exist."""
        ...

    def persistent_queries(self) -> Mapping[str, QueryTask]:
        """The persistent queries that should be running now, by query id. The Kafka layer
        reconciles against this after every statement batch and replay: it starts the new
        ones and stops those that disappeared (TERMINATE, DROP)."""
        ...

    def close(self) -> None: ...
