"""Query nodes: select items, sources and joins, windows, durations, the Query itself."""

from __future__ import annotations

from dataclasses import dataclass, field

from ksql_emulator.parser.tree.expressions import NOWHERE, Expr, Pos


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
