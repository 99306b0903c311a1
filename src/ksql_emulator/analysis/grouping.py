"""GROUP BY analysis: group keys, aggregate calls, and the row an aggregation emits."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ksql_emulator import sql_types as ty
from ksql_emulator.compiler.base import Compiled, Fn
from ksql_emulator.errors import KsqlStatementError, UnknownColumnError
from ksql_emulator.expressions import ExpressionCompiler
from ksql_emulator.functions.aggregates import AGGREGATES, AggregateFunction, resolve_aggregate
from ksql_emulator.parser import tree as t
from ksql_emulator.semantics.format import columns_of, format_expr
from ksql_emulator.semantics.scope import Scope, ScopeColumn

__all__ = [
    "AggregateCall",
    "AggregateSpec",
    "aggregate_calls",
    "build_aggregation",
    "check_grouping",
    "check_table_grouped",
    "has_aggregate",
]

_WINDOW_BOUNDS = ("WINDOWSTART", "WINDOWEND")


@dataclass
class AggregateCall:
    function: AggregateFunction
    args: list[Fn]
    # Per argument, the input row position it reads when it is a column as it is.
    columns: list[int | None] = field(default_factory=list)


@dataclass
class AggregateSpec:
    """What the aggregate operator needs; its output row is keys, aggregates, window bounds,
    ROWTIME, laid out as `scope` describes."""

    group_fns: list[Fn]
    group_exprs: list[t.Expr]
    key_refs: list[t.ColumnRef]
    calls: list[AggregateCall]
    window: t.WindowSpec | None
    scope: Scope
    emit_final: bool = False
    names: list[str] = field(default_factory=list)
    table_source: bool = False


def _is_aggregate(e: t.Expr) -> bool:
    return isinstance(e, t.FunctionCall) and e.name.upper() in AGGREGATES


def has_aggregate(e: t.Expr) -> bool:
    return any(_is_aggregate(n) for n in e.walk())


def build_aggregation(
    query: t.Query,
    input_scope: Scope,
    compiler: ExpressionCompiler,
    exprs: list[t.Expr],
) -> tuple[AggregateSpec, list[t.Expr], t.Expr | None]:
    """The aggregation for `query`; returns it with `exprs` and HAVING rewritten to read the
    aggregation's output row."""
    group_exprs = list(query.group_by)
    for g in group_exprs:
        found = aggregate_calls(g)
        if found:
            raise KsqlStatementError(
                f"GROUP BY does not support aggregate functions: {found[0].name} is an "
                "aggregate function."
            )
    _check_functions(exprs + ([query.having] if query.having is not None else []), compiler)
    select_calls = [c for e in exprs for c in aggregate_calls(e)]
    having_calls = aggregate_calls(query.having) if query.having is not None else []
    for call in select_calls + having_calls:
        for a in call.args:
            nested = aggregate_calls(a)
            if nested:
                raise KsqlStatementError(
                    f"Aggregate functions can not be nested: {format_expr(call)}"
                )
    for g in group_exprs:
        _no_window_bounds(g)
    if query.having is not None:
        _no_window_bounds(query.having)
    for call in select_calls + having_calls:
        for a in call.args:
            _no_window_bounds(a)
    if not select_calls and not having_calls and group_exprs:
        raise KsqlStatementError(
            "GROUP BY requires aggregate functions in either the SELECT or HAVING clause."
        )
    group_compiled = [_compile(compiler, g, input_scope, "GROUP BY") for g in group_exprs]
    key_refs = [t.ColumnRef(f"KSQL_GROUP_{i}") for i in range(len(group_exprs))]
    calls: list[AggregateCall] = []
    call_names: dict[t.Expr, str] = {}
    call_types: list[Any] = []

    def rewrite(e: t.Expr, where: str) -> t.Expr:
        parameters = e.parameter_refs()

        def step(n: t.Expr) -> t.Expr:
            if id(n) in parameters:
                return n  # a lambda's parameter: no column to group by
            for g, ref in zip(group_exprs, key_refs, strict=True):
                if n == g or (
                    isinstance(n, t.ColumnRef) and isinstance(g, t.ColumnRef) and n.name == g.name
                ):
                    return ref
            if _is_aggregate(n):
                assert isinstance(n, t.FunctionCall)
                if n not in call_names:
                    args = [_compile(compiler, a, input_scope, where) for a in n.args]
                    fn = resolve_aggregate(n.name, [a.type for a in args], n.star)
                    call_names[n] = format_expr(n)
                    calls.append(AggregateCall(fn, [a.fn for a in args], [a.column for a in args]))
                    call_types.append(fn.return_type)
                return t.ColumnRef(call_names[n])
            if isinstance(n, t.ColumnRef):
                if n.name in _WINDOW_BOUNDS or n.name == "ROWTIME":
                    return t.ColumnRef(n.name)
                raise _NotGrouped(n)
            return n

        return e.transform(step)

    rewritten: list[t.Expr] = []
    not_grouped: list[str] = []
    for e in exprs:
        try:
            rewritten.append(rewrite(e, "SELECT"))
        except _NotGrouped:
            not_grouped.append(format_expr(e))
    if not_grouped:
        raise KsqlStatementError(
            "Non-aggregate SELECT expression(s) not part of GROUP BY: "
            f"{', '.join(not_grouped)}\n"
            "Either add the column(s) to the GROUP BY or remove them from the SELECT."
        )
    having = None
    if query.having is not None:
        try:
            having = rewrite(query.having, "HAVING")
        except _NotGrouped as err:
            raise KsqlStatementError(
                f"Non-aggregate HAVING expression not part of GROUP BY: {format_expr(err.column)}"
            ) from None
    cols: list[ScopeColumn] = []
    for ref, gc in zip(key_refs, group_compiled, strict=True):
        cols.append(ScopeColumn(ref.name, gc.type, len(cols)))
    for name, typ in zip(list(call_names.values()), call_types, strict=True):
        cols.append(ScopeColumn(name, typ, len(cols)))
    for name in (*_WINDOW_BOUNDS, "ROWTIME"):
        cols.append(ScopeColumn(name, ty.BIGINT, len(cols)))
    spec = AggregateSpec(
        [g.fn for g in group_compiled],
        group_exprs,
        key_refs,
        calls,
        query.window,
        Scope(cols),
        query.emit == "FINAL",
        [c.name for c in cols],
    )
    return spec, rewritten, having


def _no_window_bounds(e: t.Expr) -> None:
    from ksql_emulator.semantics.format import columns_of

    for name in _WINDOW_BOUNDS:
        if name in columns_of(e):
            raise KsqlStatementError(
                f"Window bounds column {name} can only be used in the SELECT clause of "
                "windowed aggregations and can not be passed to aggregate functions."
            )


class _NotGrouped(Exception):
    def __init__(self, column: t.ColumnRef) -> None:
        super().__init__(column.name)
        self.column = column


def aggregate_calls(e: t.Expr) -> list[t.FunctionCall]:
    """The aggregate function calls in `e`, outermost first (none looked for inside one)."""
    return [
        n for n in e.walk(prune=_is_aggregate) if isinstance(n, t.FunctionCall) and _is_aggregate(n)
    ]


def _check_functions(exprs: list[t.Expr], compiler: ExpressionCompiler) -> None:
    """Unknown scalar functions are reported before any grouping problem, as ksqlDB does."""
    for e in exprs:
        for call in e.find_all(t.FunctionCall):
            if not _is_aggregate(call):
                compiler.registry.info(call.name)


def _compile(compiler: ExpressionCompiler, e: t.Expr, scope: Scope, context: str) -> Compiled:
    scope.context = context
    try:
        return compiler.compile(e, scope)
    finally:
        scope.context = "SELECT"


def check_grouping(query: t.Query, exprs: list[t.Expr], joined: bool) -> None:
    """ksqlDB's checks on an aggregation's shape, made before its expressions are analysed."""
    if query.window is not None and not query.group_by:
        raise KsqlStatementError("WINDOW clause requires a GROUP BY clause.")
    if joined and query.window is not None:
        # A windowed aggregation over a join has no window bounds to select (ksqlDB's
        # limitation), so they do not resolve.
        for e in exprs:
            for name in ("WINDOWSTART", "WINDOWEND"):
                if name in columns_of(e):
                    raise UnknownColumnError(f"SELECT column '{name}' cannot be resolved.")


def check_table_grouped(
    query: t.Query, exprs: list[t.Expr], sink_name: str | None, sink_kind: str
) -> None:
    """A CREATE TABLE AS SELECT aggregating without GROUP BY has no key for its rows."""
    if not query.group_by and sink_name is not None and sink_kind == "TABLE":
        calls = [c for e in exprs for c in aggregate_calls(e)]
        shown = ", ".join(
            f"{c.name.upper()}(ROWTIME)" if c.star or not c.args else format_expr(c) for c in calls
        )
        raise KsqlStatementError(
            f"CREATE TABLE AS SELECT statement does not support aggregate function [{shown}] "
            "without a GROUP BY clause."
        )
