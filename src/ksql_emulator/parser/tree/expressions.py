"""Expression nodes, with the source positions and written type specs they carry."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

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


E = TypeVar("E", bound="Expr")


@dataclass(frozen=True)
class Expr:
    """An expression node. Its children are the values of its fields that are expressions,
    directly or inside tuples (a CASE's WHEN pairs, a MAP's entries, a STRUCT's fields), so
    every traversal below reaches every node of every kind without knowing the kinds."""

    pos: Pos = field(default_factory=Pos, compare=False, kw_only=True)

    def children(self) -> Iterator[Expr]:
        """The direct sub-expressions, in field order."""
        for name in _child_fields(type(self)):
            yield from _exprs_in(getattr(self, name))

    def walk(self, prune: Callable[[Expr], bool] | None = None) -> Iterator[Expr]:
        """This node and every node below it, depth first, each parent before its children;
        `prune(node)` true keeps the walk out of that node's children."""
        stack: list[Expr] = [self]
        while stack:
            node = stack.pop()
            yield node
            if prune is None or not prune(node):
                stack.extend(reversed(list(node.children())))

    def find_all(self, *kinds: type[E], prune: Callable[[Expr], bool] | None = None) -> Iterator[E]:
        """The nodes of the given kinds, in `walk` order."""
        for node in self.walk(prune):
            if isinstance(node, kinds):
                yield node

    def find(self, *kinds: type[E]) -> E | None:
        """The first node of the given kinds in `walk` order, if any."""
        return next(self.find_all(*kinds), None)

    def transform(self, fn: Callable[[Expr], Expr]) -> Expr:
        """A copy with `fn` applied to every node, parents first: where `fn` returns another
        node, that node takes the old one's place as it is; where it returns its argument, the
        node's children are transformed in turn. Unchanged subtrees are shared, not copied."""
        new = fn(self)
        if new is not self:
            return new
        changes: dict[str, Any] = {}
        for name in _child_fields(type(self)):
            value = getattr(self, name)
            replaced = _transform_in(value, fn)
            if replaced is not value:
                changes[name] = replaced
        return dataclasses.replace(self, **changes) if changes else self

    def columns(self) -> Iterator[ColumnRef]:
        """The column references, in `walk` order, leaving out a lambda's uses of its own
        parameters (`x` in `x => x + 1` names no column)."""
        yield from _free_columns(self, frozenset())

    def parameter_refs(self) -> set[int]:
        """The identities (`id`) of the references that name an enclosing lambda's parameter,
        for a `transform` to tell them from columns: it sees the original nodes."""
        columns = {id(c) for c in self.columns()}
        return {id(c) for c in self.find_all(ColumnRef) if id(c) not in columns}

    def map_columns(self, fn: Callable[[ColumnRef], Expr]) -> Expr:
        """A copy with each column reference `columns` yields replaced by `fn(reference)`."""
        return _map_columns(self, fn, frozenset())


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


# --- traversal -------------------------------------------------------------------------------


_CHILD_FIELDS: dict[type, tuple[str, ...]] = {}


def _child_fields(kind: type) -> tuple[str, ...]:
    # Every init field but the position: the values decide what is a child, so a new node kind
    # needs no registration here.
    names = _CHILD_FIELDS.get(kind)
    if names is None:
        names = tuple(f.name for f in dataclasses.fields(kind) if f.init and f.name != "pos")
        _CHILD_FIELDS[kind] = names
    return names


def _exprs_in(value: Any) -> Iterator[Expr]:
    if isinstance(value, Expr):
        yield value
    elif isinstance(value, tuple):
        for item in value:
            yield from _exprs_in(item)


def _transform_in(value: Any, fn: Callable[[Expr], Expr]) -> Any:
    if isinstance(value, Expr):
        return value.transform(fn)
    if isinstance(value, tuple):
        items = tuple(_transform_in(item, fn) for item in value)
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items
    return value


def _free_columns(e: Expr, bound: frozenset[str]) -> Iterator[ColumnRef]:
    if isinstance(e, ColumnRef):
        if e.source is not None or e.name not in bound:
            yield e
        return
    inner = bound | set(e.params) if isinstance(e, Lambda) else bound
    for child in e.children():
        yield from _free_columns(child, inner)


def _map_columns(e: Expr, fn: Callable[[ColumnRef], Expr], bound: frozenset[str]) -> Expr:
    def step(node: Expr) -> Expr:
        if isinstance(node, ColumnRef):
            return node if node.source is None and node.name in bound else fn(node)
        if isinstance(node, Lambda):
            # A new node even when the body is unchanged: the outer walk must not enter it.
            return dataclasses.replace(
                node, body=_map_columns(node.body, fn, bound | set(node.params))
            )
        return node

    return e.transform(step)
