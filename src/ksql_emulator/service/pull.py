"""A pull query's WHERE clause on a materialized table, planned as ksqlDB plans it.

ksqlDB rewrites the clause into disjunctive normal form (IN lists become one equality per item,
BETWEEN two bounds) and then either looks keys up, when every disjunct binds every key column
with '=', or scans the whole table. Without table scans
(`ksql.query.pull.table.scan.enabled=false`) a clause that needs one is refused, in ksqlDB's
words. Either way the whole clause still filters the rows; the plan decides which rows are read
and in which order: looked-up keys in the order the clause names them, a scan in the store's
order (partition by partition, keys by their serialized bytes, windows by start).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ksql_emulator import sql_types as ty
from ksql_emulator.catalog import Source
from ksql_emulator.errors import KsqlStatementError
from ksql_emulator.parser import tree as t
from ksql_emulator.semantics.format import comparison_name, format_expr
from ksql_emulator.service.pull_values import NO, coerce_strict, partial_timestamp

__all__ = [
    "KeyLookup",
    "check_null_comparisons",
    "plan_lookups",
    "validate_where",
    "window_bounds_as_millis",
]

_WINDOW_BOUNDS = ("WINDOWSTART", "WINDOWEND")
_WINDOW_OPS = ("=", "<", "<=", ">", ">=")
_HELP = (
    "See https://cnfl.io/queries for more info.\n"
    "Pull queries require a WHERE clause that:\n"
    " - includes a key equality expression, e.g. `SELECT * FROM X WHERE <key-column> = Y;`.\n"
    " - in the case of a multi-column key, is a conjunction of equality expressions that cover "
    "all key columns."
)
_WINDOW_HELP = (
    "\n - (optionally) limits the time bounds of the windowed table.\n"
    "\t Bounds on [`WINDOWSTART`, `WINDOWEND`] are supported\n"
    "\t Supported operators are [EQUAL, GREATER_THAN, GREATER_THAN_OR_EQUAL, LESS_THAN, "
    "LESS_THAN_OR_EQUAL]"
)
_SCAN_HINT = (
    "\nIf more flexible queries are needed, , table scans can be enabled by setting "
    "ksql.query.pull.table.scan.enabled=true."
)


@dataclass(frozen=True)
class KeyLookup:
    """The key values to fetch, one tuple per disjunct, in the clause's order."""

    keys: tuple[tuple[Any, ...], ...]


class _TableScan(Exception):
    """A disjunct that only a table scan answers."""


def _invalid(message: str, windowed: bool) -> KsqlStatementError:
    return KsqlStatementError(f"{message}. {_HELP}{_WINDOW_HELP if windowed else ''}{_SCAN_HINT}")


def _key_text(source: Source) -> str:
    return "[" + ", ".join(f"`{c.name}` {c.type} KEY" for c in source.key_columns) + "]"


def check_null_comparisons(where: t.Expr | None, source: Source) -> None:
    """ksqlDB's type check refuses `col = NULL` (IN lists are checked later, per key)."""
    if where is None:
        return
    for node in where.find_all(t.Comparison):
        sides = (node.left, node.right)
        if not any(isinstance(s, t.Literal) and s.kind == "NULL" for s in sides):
            continue
        shown = [
            "NULL" if isinstance(s, t.Literal) and s.kind == "NULL" else _type_name(s, source)
            for s in sides
        ]
        raise KsqlStatementError(
            "Error in WHERE expression: Comparison with NULL not supported: "
            f"{shown[0]} {node.op} {shown[1]}\nUse 'IS NULL' or 'IS NOT NULL' instead."
            f"\nStatement: {format_expr(where)}"
        )


def _type_name(e: t.Expr, source: Source) -> str:
    if isinstance(e, t.ColumnRef):
        col = source.column(e.name)
        if col is not None:
            return str(col.type)
        if e.name in _WINDOW_BOUNDS or e.name == "ROWTIME":
            return "BIGINT"
    if isinstance(e, t.Literal):
        return e.kind
    return "UNKNOWN"


def _dnf(e: t.Expr) -> list[list[t.Expr]]:
    """`e` as a list of disjuncts, each a list of conjoined terms."""
    if isinstance(e, t.Logical) and e.op == "OR":
        return _dnf(e.left) + _dnf(e.right)
    if isinstance(e, t.Logical) and e.op == "AND":
        return [a + b for a in _dnf(e.left) for b in _dnf(e.right)]
    if isinstance(e, t.InList) and not e.negated:
        return [[t.Comparison("=", e.value, item, pos=e.pos)] for item in e.items]
    if isinstance(e, t.Between) and not e.negated:
        return [[t.Comparison(">=", e.value, e.low), t.Comparison("<=", e.value, e.high)]]
    return [[e]]


def _conjunction(terms: Sequence[t.Expr]) -> t.Expr:
    out = terms[0]
    for term in terms[1:]:
        out = t.Logical("AND", out, term)
    return out


def _column_side(c: t.Comparison) -> tuple[t.ColumnRef | None, t.Expr]:
    if isinstance(c.right, t.ColumnRef):
        return c.right, c.left
    if isinstance(c.left, t.ColumnRef):
        return c.left, c.right
    return None, c.right


def plan_lookups(
    where: t.Expr | None, source: Source, scans: bool, range_scans: bool = True
) -> KeyLookup | None:
    """The keys to look up, or None for a table (or range) scan; raises what ksqlDB refuses."""
    if where is None:
        if scans:
            return None
        raise _invalid("WHERE clause missing key column for disjunct", bool(source.window_type))
    disjuncts = _dnf(where)
    try:
        for terms in disjuncts:
            _validate(terms, source, scans)
    except _TableScan:
        return None
    keys: list[tuple[Any, ...]] = []
    try:
        for terms in disjuncts:
            key = _key_of(terms, source)
            if key is None:
                if not scans and not (range_scans and _range_scan(disjuncts, source)):
                    raise KsqlStatementError(
                        "Query requires table scan to be enabled. Table scans can be enabled "
                        "by setting ksql.query.pull.table.scan.enabled=true"
                    )
                return None
            if key not in keys:
                keys.append(key)
    except _TableScan:
        return None
    return KeyLookup(tuple(keys))


def validate_where(where: t.Expr, source: Source, scans: bool) -> None:
    """The shape checks ksqlDB's pull planner makes before the clause is typed."""
    try:
        for terms in _dnf(where):
            _validate(terms, source, scans)
    except _TableScan:
        return


def _range_scan(disjuncts: Sequence[Sequence[t.Expr]], source: Source) -> bool:
    """Whether ksqlDB serves the clause with a range scan (no table scan needed): one disjunct
    bounding the single STRING or BYTES key of a non-windowed table."""
    keys = source.key_columns
    if source.window_type or len(disjuncts) != 1 or len(keys) != 1:
        return False
    if keys[0].type not in (ty.STRING, ty.BYTES):
        return False
    for term in disjuncts[0]:
        if isinstance(term, t.Comparison) and term.op in ("<", "<=", ">", ">="):
            column, _ = _column_side(term)
            if column is not None and column.name == keys[0].name:
                return True
    return False


def _validate_like(term: t.Like, source: Source, scan_or: Any) -> None:
    windowed = bool(source.window_type)
    if not isinstance(term.value, t.ColumnRef):
        scan_or(_invalid("Like condition must be between strings", windowed))
        return
    col = source.column(term.value.name)
    if col is None:
        raise _invalid(f"Like condition on non-existent column {term.value.name}", windowed)
    if col.type != ty.STRING:
        base = col.type.base if isinstance(col.type, ty.SqlType) else str(col.type)
        raise _invalid(
            f"The column type for Like condition must be VARCHAR. The column type is {base}",
            windowed,
        )


def _validate(terms: Sequence[t.Expr], source: Source, scans: bool) -> None:
    windowed = bool(source.window_type)
    key_names = [c.name for c in source.key_columns]
    seen: set[str] = set()

    def scan_or(err: KsqlStatementError) -> None:
        if scans:
            raise _TableScan
        raise err

    for term in terms:
        if not isinstance(term, t.Comparison | t.Like):
            raise _invalid(f"Unsupported expression in WHERE clause: {format_expr(term)}", False)
        if isinstance(term, t.Like):
            _validate_like(term, source, scan_or)
            continue
        column, other = _column_side(term)
        if column is None:
            scan_or(_invalid("A comparison must directly reference a key column", windowed))
            continue
        if _has_column(other):
            scan_or(
                _invalid(
                    "A comparison must be between a key column and a resolvable expression",
                    windowed,
                )
            )
            continue
        if column.name in _WINDOW_BOUNDS:
            if term.op not in _WINDOW_OPS:
                raise _invalid(
                    f"Unsupported {column.name} bounds: {comparison_name(term.op)}", True
                )
            if not windowed:
                raise _invalid("Cannot use WINDOWSTART/WINDOWEND on non-windowed source", False)
            continue
        if column.name in key_names:
            if term.op in ("<>", "!="):
                scan_or(
                    _invalid(
                        f"Bound on key columns '{_key_text(source)}' must currently be '='",
                        windowed,
                    )
                )
            if column.name in seen and not scans:
                raise _invalid(
                    "A comparison condition on the key column cannot be combined with other "
                    "comparisons such as an IN predicate",
                    windowed,
                )
            seen.add(column.name)
    if not seen:
        scan_or(
            _invalid(
                "WHERE clause missing key column for disjunct: "
                + format_expr(_conjunction(list(terms))),
                windowed,
            )
        )
    if seen and len(seen) != len(key_names):
        specified = "[" + ", ".join(f"`{n}`" for n in key_names if n in seen) + "]"
        scan_or(
            _invalid(
                "Multi-column sources must specify every key in the WHERE clause. "
                f"Specified: {specified} Expected: {_key_text(source)}",
                windowed,
            )
        )


def _key_of(terms: Sequence[t.Expr], source: Source) -> tuple[Any, ...] | None:
    """The disjunct's key, or None when it bounds a key by more than '='."""
    values: dict[str, Any] = {}
    ops: dict[str, str] = {}
    for term in terms:
        if not isinstance(term, t.Comparison):
            continue
        column, other = _column_side(term)
        col = source.column(column.name) if column is not None else None
        if col is None or col.namespace != "KEY":
            continue
        value = _resolve_key(other, col, term)
        if ops.get(col.name) == "=":
            continue
        if term.op == "=" or col.name not in ops:
            values[col.name] = value
            ops[col.name] = term.op
    if not values or any(op != "=" for op in ops.values()):
        return None
    return tuple(values[c.name] for c in source.key_columns)


def _resolve_key(e: t.Expr, col: Any, comparison: t.Comparison) -> Any:
    if isinstance(e, t.Literal):
        value = e.value
        if e.kind == "NULL":
            value = None
    elif isinstance(e, t.Negate) and isinstance(e.operand, t.Literal):
        value = -e.operand.value
    else:
        raise _TableScan  # an expression ksqlDB would evaluate first: scan and filter instead
    if value is None:
        shown = format_expr(t.Comparison(comparison.op, t.ColumnRef(col.name), e))
        raise KsqlStatementError(f"Primary key columns can not be NULL: {shown}")
    coerced = coerce_strict(value, col.type)
    if coerced is NO:
        raise KsqlStatementError(
            f"'{value}' can not be converted to the type of the key column: "
            f"{col.name} {col.type} KEY"
        )
    return coerced


def window_bounds_as_millis(where: t.Expr | None) -> t.Expr | None:
    """`where` with datetime strings compared to WINDOWSTART/WINDOWEND made epoch millis."""
    if where is None:
        return None
    return _rewrite(where)


def _rewrite(e: t.Expr) -> t.Expr:
    def step(n: t.Expr) -> t.Expr:
        if not isinstance(n, t.Comparison):
            return n
        column, other = _column_side(n)
        if (
            column is not None
            and column.name in _WINDOW_BOUNDS
            and isinstance(other, t.Literal)
            and other.kind == "STRING"
        ):
            millis = partial_timestamp(str(other.value))
            if millis is None:
                raise _invalid(f"Failed to parse datetime: {other.value}", True)
            literal = t.Literal("BIGINT", millis, str(millis), pos=other.pos)
            if column is n.left:
                return dataclasses.replace(n, right=literal)
            return dataclasses.replace(n, left=literal)
        return n

    return e.transform(step)


def _has_column(e: t.Expr) -> bool:
    return e.find(t.ColumnRef) is not None
