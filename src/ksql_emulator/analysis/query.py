"""SELECT analysis: the source, its row layout, and each clause typed and compiled."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ksql_emulator import sql_types as ty
from ksql_emulator.analysis.aliases import (
    RESERVED_COLUMN_NAMES,
    ColumnAliasGenerator,
    check_reserved_names,
)
from ksql_emulator.analysis.grouping import (
    AggregateSpec,
    build_aggregation,
    check_grouping,
    check_table_grouped,
    has_aggregate,
)
from ksql_emulator.analysis.join import analyze_join
from ksql_emulator.analysis.join_spec import JoinSpec
from ksql_emulator.analysis.magic_timestamps import rewrite_magic_timestamps
from ksql_emulator.analysis.projection import expand_select, pick_keys
from ksql_emulator.analysis.query_checks import (
    check_emit_final,
    check_group_by_duplicates,
    check_kafka_value_format_grouping,
    check_table_aggregations,
    unknown_source_hint,
)
from ksql_emulator.analysis.table_functions import (
    TableFunctionCall,
    check_table_function_use,
    extract_table_functions,
)
from ksql_emulator.catalog import Catalog, Column, Source
from ksql_emulator.compiler.base import Compiled
from ksql_emulator.errors import (
    KsqlError,
    KsqlStatementError,
    TypeMismatchError,
    UnknownColumnError,
    UnknownSourceError,
)
from ksql_emulator.expressions import ExpressionCompiler
from ksql_emulator.parser import tree as t
from ksql_emulator.semantics.format import columns_of, format_expr
from ksql_emulator.semantics.scope import Scope, ScopeColumn
from ksql_emulator.semantics.type_rules import describe_type

__all__ = ["PSEUDO_COLUMNS", "QueryAnalysis", "WhereScreen", "analyze_query"]

# Pseudo columns every source offers (system-columns.json, row-offset-and-partition.json).
PSEUDO_COLUMNS: tuple[tuple[str, Any], ...] = (
    ("ROWTIME", ty.BIGINT),
    ("ROWPARTITION", ty.INTEGER),
    ("ROWOFFSET", ty.BIGINT),
)
WINDOW_COLUMNS: tuple[tuple[str, Any], ...] = (("WINDOWSTART", ty.BIGINT), ("WINDOWEND", ty.BIGINT))


@dataclass
class OutputItem:
    name: str
    compiled: Compiled
    is_key: bool = False


@dataclass
class QueryAnalysis:
    source: Source
    scope: Scope
    # Per scope column: ("KEY", i), ("VALUE", i), ("PSEUDO", name), ("HEADER", key|None)
    layout: list[tuple[str, Any]]
    where: Compiled | None
    partition_by: list[Compiled] | None
    keys: list[OutputItem]
    values: list[OutputItem]
    query: t.Query
    columns: list[Column] = field(default_factory=list)
    projection: list[OutputItem] = field(default_factory=list)  # SELECT order, keys included
    # Per PARTITION BY expression: whether it reads key columns only (so tombstones keep it).
    partition_key_only: list[bool] = field(default_factory=list)
    aggregate: AggregateSpec | None = None
    having: Compiled | None = None
    join: JoinSpec | None = None
    table_functions: list[TableFunctionCall] = field(default_factory=list)
    # The WHERE once more, over just the value columns it reads, when it reads nothing else
    # and calls no function: a record can be judged on those before the rest is decoded.
    where_screen: WhereScreen | None = None
    # The row positions the query's expressions read, all clauses together; None when it
    # reads every column (`*`) or it is not known (a join).
    reads: tuple[int, ...] | None = None


@dataclass(frozen=True)
class WhereScreen:
    """A stream's WHERE as a predicate over the values of the row positions `reads` alone,
    in that order: true exactly where the WHERE is true on a row holding those values."""

    reads: tuple[int, ...]
    predicate: Compiled


def _source_scope(source: Source) -> tuple[Scope, list[tuple[str, Any]]]:
    cols: list[ScopeColumn] = []
    layout: list[tuple[str, Any]] = []
    key_i = value_i = 0
    for c in source.columns:
        if c.namespace == "KEY":
            layout.append(("KEY", key_i))
            key_i += 1
        elif c.namespace == "VALUE":
            layout.append(("VALUE", value_i))
            value_i += 1
        else:
            layout.append(("HEADER", c.header_key))
        cols.append(ScopeColumn(c.name, c.type, len(cols), source.name))
    pseudo = list(PSEUDO_COLUMNS)
    if source.window_type:
        pseudo += list(WINDOW_COLUMNS)
    for name, typ in pseudo:
        layout.append(("PSEUDO", name))
        cols.append(ScopeColumn(name, typ, len(cols), source.name))
    return Scope(cols), layout


def _compile_in(compiler: ExpressionCompiler, expr: t.Expr, scope: Scope, context: str) -> Compiled:
    scope.context = context
    try:
        return compiler.compile(expr, scope)
    finally:
        scope.context = "SELECT"


def analyze_query(
    query: t.Query,
    catalog: Catalog,
    compiler: ExpressionCompiler,
    sink_name: str | None,
    sink_kind: str = "STREAM",
    allow_missing_keys: bool = False,
) -> QueryAnalysis:
    """Resolve and compile a stateless SELECT; part 2 adds joins, windows and aggregates."""
    check_group_by_duplicates(query)
    join: JoinSpec | None = None
    if isinstance(query.from_, t.Join):
        join, scope = analyze_join(query.from_, catalog, compiler, _source_scope)
        source = join.left.source
        ref = t.SourceRef(source.name, join.left.alias)
        layout = join.left.layout + join.right.layout
    else:
        assert isinstance(query.from_, t.SourceRef)
        ref = query.from_
        found = catalog.source(ref.name)
        if found is None:
            raise UnknownSourceError(
                f"Line: {ref.pos.line}, Col: {ref.pos.col}: {ref.name} does not exist."
                + unknown_source_hint(ref.name, catalog)
            )
        source = found
        scope, layout = _source_scope(source)
        if ref.alias:
            scope.columns = [ScopeColumn(c.name, c.type, c.index, ref.alias) for c in scope.columns]
    where = None
    where_screen = None
    if query.where is not None:
        where_expr = rewrite_magic_timestamps(query.where)
        try:
            where = _compile_in(compiler, where_expr, scope, "WHERE")
        except UnknownColumnError as err:
            missing = err.message.split("'")[1] if "'" in err.message else ""
            if missing in ("WINDOWSTART", "WINDOWEND"):
                raise KsqlStatementError(
                    f"Error in WHERE expression: Unknown column {missing}."
                ) from err
            raise
        except TypeMismatchError as err:
            raise _relocated(
                KsqlStatementError(f"Error in WHERE expression: {_join_names(err.message, join)}"),
                err,
            ) from err
        if where.type is not None and where.type != ty.BOOLEAN:
            raise KsqlStatementError(
                f"Type error in WHERE expression: Should evaluate to boolean but is "
                f"{format_expr(query.where)} ({describe_type(where.type)}) instead."
            )
        if join is None and source.kind == "STREAM":
            where_screen = _screen(compiler, where_expr, scope, layout)
    partition_by: list[Compiled] | None = None
    partition_exprs: list[t.Expr] = []
    if query.partition_by:
        if len(query.partition_by) > 1 and any(
            isinstance(e, t.Literal) and e.kind == "NULL" for e in query.partition_by
        ):
            raise KsqlStatementError("Cannot PARTITION BY multiple columns including NULL")
        partition_exprs = [
            e for e in query.partition_by if not (isinstance(e, t.Literal) and e.kind == "NULL")
        ]
        try:
            partition_by = [
                _compile_in(compiler, e, scope, "PARTITION BY") for e in partition_exprs
            ]
        except UnknownColumnError as err:
            name = err.message.split("'")[1] if "'" in err.message else "?"
            raise _relocated(
                UnknownColumnError(
                    f"{err.message} '{name}' must be a column in the source schema since "
                    "PARTITION BY is applied on the input."
                ),
                err,
            ) from err

    items = expand_select(query, scope, compiler, source, ref, join, partition_exprs, sink_name)
    # ksqlDB checks the items written in the SELECT, not what `*` stands for: `SELECT *`
    # after PARTITION BY ROWTIME keeps ROWTIME as the key column's name.
    explicit = [(i.expr, i.alias) for i in query.select if isinstance(i, t.SelectItem)]
    check_reserved_names(explicit, join is not None, sink_name is not None)
    check_table_function_use([e for e, _ in items], bool(query.group_by))

    aggregate: AggregateSpec | None = None
    having: Compiled | None = None
    select_scope = scope
    to_compile = [e for e, _ in items]
    if (
        query.group_by
        or query.window is not None
        or query.having is not None
        or any(has_aggregate(e) for e, _ in items)
    ):
        if query.partition_by:
            raise KsqlStatementError("PARTITION BY and GROUP BY can not be used together.")
        check_grouping(query, [e for e, _ in items], join is not None)
        aggregate, to_compile, having_expr = build_aggregation(query, scope, compiler, to_compile)
        check_table_grouped(query, [e for e, _ in items], sink_name, sink_kind)
        if source.value_format.upper() == "DELIMITED" and any(
            c.function.intermediate for c in aggregate.calls
        ):
            # The aggregation's state is stored in the source's value format, and DELIMITED
            # holds no structs, arrays or maps.
            raise KsqlError(
                "One of the functions used in the statement has an intermediate type that the "
                "value format can not handle. Please remove the function or change the format."
            )
        select_scope = aggregate.scope
        aggregate.table_source = source.kind == "TABLE"
        if having_expr is not None and query.having is not None:
            try:
                having = _compile_in(compiler, having_expr, select_scope, "HAVING")
            except TypeMismatchError as err:
                raise _relocated(
                    KsqlStatementError(
                        f"Error in HAVING expression: {_join_names(err.message, join)}"
                    ),
                    err,
                ) from err
            if having.type is not None and having.type != ty.BOOLEAN:
                raise KsqlStatementError(
                    f"Type error in HAVING expression: Should evaluate to boolean but is "
                    f"{format_expr(query.having)} ({describe_type(having.type)}) instead."
                )

    table_functions: list[TableFunctionCall] = []
    if aggregate is None:
        to_compile, select_scope, table_functions = extract_table_functions(
            to_compile, scope, compiler, source
        )

    names: list[str] = []
    compiled: list[Compiled] = []
    read = [leaf.source for leaf in join.leaves()] if join is not None else [source]
    aliases = ColumnAliasGenerator(c.name for s in read for c in s.columns)
    for (expr, alias), rewritten in zip(items, to_compile, strict=True):
        try:
            c: Compiled = compiler.compile(rewritten, select_scope)
        except TypeMismatchError as err:
            if err.message.startswith("Invalid") or err.message.startswith("Error"):
                raise
            raise _relocated(KsqlStatementError(f"Invalid Select: {err.message}"), err) from err
        if c.type is None:
            raise KsqlStatementError(
                "Can't infer a type of null. Please explicitly cast it to a required type, "
                "e.g. CAST(null AS VARCHAR)."
            )
        if alias is None:
            if isinstance(expr, t.ColumnRef) and join is not None and expr.source:
                counts: dict[str, int] = {}
                for leaf in join.leaves():
                    for leaf_col in leaf.source.columns:
                        counts[leaf_col.name] = counts.get(leaf_col.name, 0) + 1
                both = {n for n, k in counts.items() if k > 1} | RESERVED_COLUMN_NAMES
                alias = f"{expr.source}_{expr.name}" if expr.name in both else expr.name
            elif isinstance(expr, t.ColumnRef):
                alias = expr.name
            elif isinstance(expr, t.Dereference):
                alias = aliases.for_field(expr.field)
            else:
                alias = aliases.next_generated()
        names.append(alias)
        compiled.append(c)

    # ksqlDB's analyzer ends with the format check, before the planner looks at keys.
    check_kafka_value_format_grouping(query, read)
    key_flags, key_order = pick_keys(
        query,
        source,
        scope,
        to_compile,
        names,
        compiled,
        aggregate,
        join,
        partition_exprs,
        sink_name,
        allow_missing_keys,
    )
    seen: dict[str, bool] = {}  # name -> whether its first use is a key
    for n, c, is_key in zip(names, compiled, key_flags, strict=True):
        if n in seen:
            # ksqlDB's LogicalSchema builder rejects a name twice in one namespace.
            if not is_key and (aggregate is not None or not seen[n]):
                raise KsqlStatementError(f"Duplicate value columns found in schema: `{n}` {c.type}")
            if is_key and seen[n]:
                raise KsqlStatementError(
                    f"Duplicate key columns found in schema: `{n}` {c.type} KEY"
                )
            raise KsqlStatementError(f"Duplicate column name in projection: {n}")
        seen[n] = is_key
    # Keys come out in the order PARTITION BY / GROUP BY name them, else in projection order.
    if not query.partition_by and aggregate is None:
        key_order.sort()
    keys = [OutputItem(names[i], compiled[i], True) for i in key_order]
    values = [OutputItem(names[i], compiled[i]) for i in range(len(items)) if not key_flags[i]]
    if not values and sink_name is not None:
        raise KsqlStatementError("The projection contains no value columns.")
    key_ns = "KEY"
    out_columns = [Column(k.name, k.compiled.type, key_ns) for k in keys] + [
        Column(v.name, v.compiled.type) for v in values
    ]
    projection = [OutputItem(names[i], compiled[i], key_flags[i]) for i in range(len(items))]
    key_names_set = {c.name for c in source.key_columns}
    key_only = [columns_of(e) <= key_names_set for e in partition_exprs]
    check_emit_final(query)
    check_table_aggregations(aggregate, source)
    return QueryAnalysis(
        source,
        scope,
        layout,
        where,
        partition_by,
        keys,
        values,
        query,
        out_columns,
        projection,
        key_only,
        aggregate,
        having,
        join,
        table_functions,
        where_screen,
        _reads(query, scope) if join is None else None,
    )


def _reads(query: t.Query, scope: Scope) -> tuple[int, ...] | None:
    """The row positions the expressions of every clause of `query` read, or None: it selects
    `*`, or a name does not resolve to a source column (the window bounds of an aggregate's
    result do not: they read nothing of the source row)."""
    exprs: list[t.Expr] = []
    for item in query.select:
        if isinstance(item, t.AllColumns):
            return None
        exprs.append(item.expr)
    exprs += [e for e in (query.where, query.having) if e is not None]
    exprs += [*query.group_by, *query.partition_by]
    positions: set[int] = set()
    for expr in exprs:
        for ref in expr.columns():
            try:
                positions.add(scope.resolve(ref.name, ref.source).index)
            except KsqlError:
                if query.window is None or ref.name not in ("WINDOWSTART", "WINDOWEND"):
                    return None
    return tuple(sorted(positions))


# Expression kinds whose value follows from the columns they read alone: no function (some
# are not deterministic, RANDOM()), no lambda, no struct or collection access.
_PURE_KINDS = (
    t.Literal,
    t.ColumnRef,
    t.Arithmetic,
    t.Negate,
    t.Concat,
    t.Comparison,
    t.Logical,
    t.Not,
    t.Between,
    t.InList,
    t.Like,
    t.IsNull,
    t.IsDistinct,
    t.Case,
    t.Cast,
)


def _screen(
    compiler: ExpressionCompiler, expr: t.Expr, scope: Scope, layout: list[tuple[str, Any]]
) -> WhereScreen | None:
    """`expr` compiled again over the value columns it reads, in row order, when it is made
    of `_PURE_KINDS` only and reads value columns only (not keys, headers or pseudo columns
    such as ROWTIME); else None."""
    if any(not isinstance(node, _PURE_KINDS) for node in expr.walk()):
        return None
    reads = sorted({scope.resolve(ref.name, ref.source).index for ref in expr.columns()})
    if not reads or any(layout[p][0] != "VALUE" for p in reads):
        return None
    # The same columns, each at its place among the values read; the others are never named.
    compact = Scope(
        [
            ScopeColumn(
                c.name, c.type, reads.index(c.index) if c.index in reads else c.index, c.source
            )
            for c in scope.columns
        ]
    )
    return WhereScreen(tuple(reads), _compile_in(compiler, expr, compact, "WHERE"))


def _join_names(message: str, join: JoinSpec | None) -> str:
    """ksqlDB names a joined source's columns `ALIAS_COLUMN` in its messages."""
    if join is None:
        return message
    for leaf in join.leaves():
        message = message.replace(f"{leaf.alias}.", f"{leaf.alias}_")
    return message


def _relocated(new: KsqlError, old: KsqlError) -> KsqlError:
    if old.line is not None and old.col is not None:
        new.locate(old.line, old.col)
    return new
