"""Expression nodes, with the source positions and written type specs they carry."""

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
