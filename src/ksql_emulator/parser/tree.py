"""The syntax tree: frozen dataclasses for statements, queries, expressions and type specs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# --- positions -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pos:
    line: int = 0
    col: int = 0


NOWHERE = Pos()

# --- types as written ------------------------------------------------------------------------


@dataclass(frozen=True)
class TypeSpec:
    """A type as written: `name` upper-cased (INT normalised to INTEGER, VARCHAR to STRING)."""

    name: str
    params: tuple[int, ...] = ()
    items: tuple[TypeSpec, ...] = ()  # ARRAY item, MAP key/value
    fields: tuple[tuple[str, TypeSpec], ...] = ()  # STRUCT fields


# --- expressions -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Expr:
    pos: Pos = field(default_factory=Pos, compare=False, kw_only=True)


@dataclass(frozen=True)
class Literal(Expr):
    """A literal; `kind` is NULL, BOOLEAN, INTEGER, BIGINT, DECIMAL, DOUBLE or STRING."""

    kind: str
    value: Any
    text: str = field(default="", compare=False)


@dataclass(frozen=True)
class ColumnRef(Expr):
    name: str
    source: str | None = None


@dataclass(frozen=True)
class Dereference(Expr):
    """`base->field` on a STRUCT."""

    base: Expr
    field: str


@dataclass(frozen=True)
class Subscript(Expr):
    base: Expr
    index: Expr


@dataclass(frozen=True)
class FunctionCall(Expr):
    name: str
    args: tuple[Expr, ...]
    distinct: bool = False
    star: bool = False


@dataclass(frozen=True)
class Lambda(Expr):
    params: tuple[str, ...]
    body: Expr


@dataclass(frozen=True)
class Arithmetic(Expr):
    """op is one of + - * / %."""

    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Negate(Expr):
    operand: Expr


@dataclass(frozen=True)
class Concat(Expr):
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Comparison(Expr):
    """op is one of = <> < <= > >=."""

    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Logical(Expr):
    op: str  # AND, OR
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Not(Expr):
    operand: Expr


@dataclass(frozen=True)
class Between(Expr):
    value: Expr
    low: Expr
    high: Expr
    negated: bool = False


@dataclass(frozen=True)
class InList(Expr):
    value: Expr
    items: tuple[Expr, ...]
    negated: bool = False


@dataclass(frozen=True)
class Like(Expr):
    value: Expr
    pattern: Expr
    escape: str | None = None
    negated: bool = False


@dataclass(frozen=True)
class IsNull(Expr):
    value: Expr
    negated: bool = False


@dataclass(frozen=True)
class IsDistinct(Expr):
    left: Expr
    right: Expr
    negated: bool = False


@dataclass(frozen=True)
class Case(Expr):
    """A searched CASE when operand is None, a simple CASE otherwise."""

    operand: Expr | None
    whens: tuple[tuple[Expr, Expr], ...]
    default: Expr | None


@dataclass(frozen=True)
class Cast(Expr):
    value: Expr
    type: TypeSpec


@dataclass(frozen=True)
class ArrayCtor(Expr):
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class MapCtor(Expr):
    entries: tuple[tuple[Expr, Expr], ...]


@dataclass(frozen=True)
class StructCtor(Expr):
    fields: tuple[tuple[str, Expr], ...]


@dataclass(frozen=True)
class IntervalLit(Expr):
    """`n UNIT` as used by WITHIN, windows and TIMESTAMPADD."""

    value: int
    unit: str


# --- queries ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Duration:
    value: int
    unit: str  # MILLISECONDS, SECONDS, ... as written, upper-cased

    @property
    def ms(self) -> int:
        return self.value * _UNIT_MS[self.unit.rstrip("S") + "S"]


_UNIT_MS = {
    "MILLISECONDS": 1,
    "SECONDS": 1000,
    "MINUTES": 60_000,
    "HOURS": 3_600_000,
    "DAYS": 86_400_000,
}


@dataclass(frozen=True)
class WindowSpec:
    kind: str  # TUMBLING, HOPPING, SESSION
    size: Duration | None = None
    advance: Duration | None = None
    gap: Duration | None = None
    retention: Duration | None = None
    grace: Duration | None = None


@dataclass(frozen=True)
class SelectItem:
    expr: Expr
    alias: str | None = None


@dataclass(frozen=True)
class AllColumns:
    source: str | None = None


@dataclass(frozen=True)
class StructAll:
    """`expr->*`: every field of a STRUCT as its own column."""

    expr: Expr


@dataclass(frozen=True)
class Relation:
    pass


@dataclass(frozen=True)
class SourceRef(Relation):
    name: str
    alias: str | None = None
    pos: Pos = field(default=NOWHERE, compare=False)


@dataclass(frozen=True)
class Within:
    before: Duration
    after: Duration
    grace: Duration | None = None


@dataclass(frozen=True)
class Join(Relation):
    kind: str  # INNER, LEFT, RIGHT, FULL
    left: Relation
    right: Relation
    criteria: Expr
    within: Within | None = None


@dataclass(frozen=True)
class Query:
    select: tuple[SelectItem | AllColumns | StructAll, ...]
    from_: Relation
    window: WindowSpec | None = None
    where: Expr | None = None
    group_by: tuple[Expr, ...] = ()
    partition_by: tuple[Expr, ...] = ()
    having: Expr | None = None
    emit: str | None = None  # CHANGES, FINAL
    limit: int | None = None


# --- statements ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Statement:
    pass


@dataclass(frozen=True)
class ColumnDef:
    name: str
    type: TypeSpec
    constraint: str | None = None  # KEY, PRIMARY KEY, HEADERS, HEADER
    header_key: str | None = None


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
