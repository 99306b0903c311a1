"""Statement nodes: a frozen dataclass per statement kind; the parsed statement with its text."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ksql_emulator.parser.tree.expressions import NOWHERE, Expr, Pos, TypeSpec
from ksql_emulator.parser.tree.queries import Duration, Query


@dataclass(frozen=True)
class Statement:
    pass


@dataclass(frozen=True)
class ColumnDef:
    name: str
    type: TypeSpec
    constraint: str | None = None  # KEY, PRIMARY KEY, HEADERS, HEADER
    header_key: str | None = None
    pos: Pos = field(default=NOWHERE, compare=False)


Props = tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class CreateSource(Statement):
    kind: str  # STREAM, TABLE
    name: str
    columns: tuple[ColumnDef, ...]
    props: Props
    or_replace: bool = False
    if_not_exists: bool = False
    is_source: bool = False


@dataclass(frozen=True)
class CreateAsSelect(Statement):
    kind: str
    name: str
    props: Props
    query: Query
    or_replace: bool = False
    if_not_exists: bool = False


@dataclass(frozen=True)
class InsertInto(Statement):
    target: str
    query: Query
    props: Props = ()
    pos: Pos = field(default=NOWHERE, compare=False)


@dataclass(frozen=True)
class InsertValues(Statement):
    target: str
    columns: tuple[str, ...]
    values: tuple[Expr, ...]
    quoted: bool = False


@dataclass(frozen=True)
class SelectStatement(Statement):
    query: Query


@dataclass(frozen=True)
class Drop(Statement):
    kind: str  # STREAM, TABLE, TYPE
    name: str
    if_exists: bool = False
    delete_topic: bool = False


@dataclass(frozen=True)
class AlterSource(Statement):
    kind: str
    name: str
    columns: tuple[ColumnDef, ...]


@dataclass(frozen=True)
class Show(Statement):
    what: str  # STREAMS, TABLES, TOPICS, QUERIES, PROPERTIES, FUNCTIONS, TYPES, VARIABLES
    extended: bool = False


@dataclass(frozen=True)
class Describe(Statement):
    name: str | None
    extended: bool = False
    function: bool = False
    what: str | None = None  # STREAMS or TABLES for DESCRIBE STREAMS


@dataclass(frozen=True)
class Explain(Statement):
    target: str | Statement


@dataclass(frozen=True)
class Terminate(Statement):
    query_id: str | None  # None: TERMINATE ALL


@dataclass(frozen=True)
class PauseQuery(Statement):
    query_id: str | None  # None: PAUSE ALL


@dataclass(frozen=True)
class ResumeQuery(Statement):
    query_id: str | None  # None: RESUME ALL


@dataclass(frozen=True)
class AlterSystem(Statement):
    name: str
    value: str


@dataclass(frozen=True)
class CreateConnector(Statement):
    kind: str  # SOURCE or SINK
    name: str
    props: Props
    if_not_exists: bool = False


@dataclass(frozen=True)
class DropConnector(Statement):
    name: str
    if_exists: bool = False


@dataclass(frozen=True)
class DescribeConnector(Statement):
    name: str


@dataclass(frozen=True)
class ListConnectors(Statement):
    scope: str = "ALL"  # ALL, SOURCE or SINK


@dataclass(frozen=True)
class ListConnectorPlugins(Statement):
    pass


@dataclass(frozen=True)
class AssertTopic(Statement):
    topic: str
    props: Props
    exists: bool  # False: ASSERT NOT EXISTS
    timeout: Duration | None = None


@dataclass(frozen=True)
class AssertSchema(Statement):
    subject: str | None
    schema_id: int | None
    exists: bool
    timeout: Duration | None = None


@dataclass(frozen=True)
class SetProperty(Statement):
    name: str
    value: str


@dataclass(frozen=True)
class UnsetProperty(Statement):
    name: str


@dataclass(frozen=True)
class DefineVariable(Statement):
    name: str
    value: str


@dataclass(frozen=True)
class UndefineVariable(Statement):
    name: str


@dataclass(frozen=True)
class CreateType(Statement):
    name: str
    type: TypeSpec
    if_not_exists: bool = False


@dataclass(frozen=True)
class PrintTopic(Statement):
    topic: str
    from_beginning: bool = False
    limit: int | None = None


@dataclass(frozen=True)
class ParsedStatement:
    """A statement with the text it came from."""

    statement: Statement
    text: str
    line: int
