"""The SELECT list: `*` and `->*` expanded into items, and which items are the key columns."""

from __future__ import annotations

from ksql_emulator import sql_types as ty
from ksql_emulator.analysis.grouping import AggregateSpec
from ksql_emulator.analysis.join_keys import pick_join_key
from ksql_emulator.analysis.join_spec import JoinSpec
from ksql_emulator.catalog import Source
from ksql_emulator.compiler.base import Compiled
from ksql_emulator.errors import KsqlStatementError
from ksql_emulator.expressions import ExpressionCompiler
from ksql_emulator.parser import tree as t
from ksql_emulator.semantics.format import and_list, format_expr, qualify
from ksql_emulator.semantics.scope import Scope
from ksql_emulator.semantics.type_rules import describe_type

__all__ = ["expand_select", "pick_keys"]


def expand_select(
    query: t.Query,
    scope: Scope,
    compiler: ExpressionCompiler,
    source: Source,
    ref: t.SourceRef,
    join: JoinSpec | None,
    partition_exprs: list[t.Expr],
    sink_name: str | None,
) -> list[tuple[t.Expr, str | None]]:
    """Each SELECT item with its alias, `*`, `source.*` and `struct->*` expanded to columns."""
    items: list[tuple[t.Expr, str | None]] = []
    for item in query.select:
        if isinstance(item, t.AllColumns) and join is not None:
            if item.source is not None and item.source not in [x.alias for x in join.leaves()]:
                raise KsqlStatementError(
                    f"'{item.source}' is not a valid stream/table name or alias."
                )
            if item.source is None and join.synthetic_key is not None:
                items.append((t.ColumnRef(join.synthetic_key), None))
            for side in join.leaves():
                if item.source is not None and item.source != side.alias:
                    continue
                # Each side's columns: its keys, its window bounds when it is windowed (ksqlDB
                # carries them into the join's value), then its value and header columns.
                names = [c.name for c in side.source.columns if c.namespace == "KEY"]
                if side.source.window_type:
                    names += ["WINDOWSTART", "WINDOWEND"]
                names += [
                    c.name
                    for c in side.source.columns
                    if c.namespace == "VALUE" or c.namespace.startswith("HEADER")
                ]
                for name in names:
                    items.append((t.ColumnRef(name, side.alias), f"{side.alias}_{name}"))
            continue
        if isinstance(item, t.AllColumns):
            if item.source is not None and item.source not in (source.name, ref.alias):
                raise KsqlStatementError(
                    f"'{item.source}' is not a valid stream/table name or alias."
                )
            if partition_exprs:
                # After PARTITION BY the new key columns come first, then every other column.
                keyed = {e.name for e in partition_exprs if isinstance(e, t.ColumnRef)}
                for e in partition_exprs:
                    items.append((e, None))
                for ns in ("VALUE", "KEY"):
                    for col in source.columns:
                        if col.namespace == ns and col.name not in keyed:
                            items.append((t.ColumnRef(col.name), None))
                continue
            for col in source.key_columns:
                items.append((t.ColumnRef(col.name), None))
            if source.window_type and sink_name is None:
                # A transient query on a windowed source shows the window bounds after the keys.
                items += [(t.ColumnRef(name), None) for name in ("WINDOWSTART", "WINDOWEND")]
            for col in source.columns:
                if col.namespace == "VALUE" or col.namespace.startswith("HEADER"):
                    items.append((t.ColumnRef(col.name), None))
        elif isinstance(item, t.StructAll):
            struct_type = compiler.compile(item.expr, scope).type
            if not isinstance(struct_type, ty.StructType):
                raise KsqlStatementError(
                    f"Expected STRUCT type for '{format_expr(item.expr)}->*' but got "
                    f"{describe_type(struct_type)}"
                )
            for fname, _ in struct_type.fields:
                items.append((t.Dereference(item.expr, fname), fname))
        else:
            items.append((item.expr, item.alias))
    return items


def pick_keys(
    query: t.Query,
    source: Source,
    scope: Scope,
    to_compile: list[t.Expr],
    names: list[str],
    compiled: list[Compiled],
    aggregate: AggregateSpec | None,
    join: JoinSpec | None,
    partition_exprs: list[t.Expr],
    sink_name: str | None,
    allow_missing_keys: bool,
) -> tuple[list[bool], list[int]]:
    """Which items are key columns and in what order; ksqlDB's error when a key is left out.

    A join's key item in `compiled` is replaced by a read of the join key itself.
    """
    key_flags = [False] * len(to_compile)
    key_order: list[int] = []
    sink = sink_name or "OUTPUT"
    wanted: list[t.Expr]
    if aggregate is not None:
        wanted = list(aggregate.key_refs)
    elif query.partition_by:
        # PARTITION BY sets the key, a join's result's included.
        wanted = partition_exprs
    elif join is not None:
        return pick_join_key(
            join, scope, to_compile, names, compiled, sink, allow_missing_keys or not sink_name
        )
    else:
        wanted = [t.ColumnRef(c.name) for c in source.key_columns]
    key_names: list[str] = []
    for w in wanted:
        hits = [i for i, expr in enumerate(to_compile) if _same_column(expr, w)]
        if len(hits) > 1 and aggregate is not None:
            shown_keys = " and ".join(f"`{names[i]}`" for i in hits)
            raise KsqlStatementError(
                f"The projection contains a key column more than once: {shown_keys}."
            )
        if len(hits) > 1:
            aliases = " and ".join(names[i] for i in hits)
            raise KsqlStatementError(
                f"The projection contains a key column (`{format_expr(w)}`) more than once, "
                f"aliased as: {aliases}."
            )
        if not hits:
            key_names.append(format_expr(w))
            continue
        key_flags[hits[0]] = True
        key_order.append(hits[0])
    if key_names and aggregate is not None and not allow_missing_keys:
        exprs = [
            format_expr(g)
            for g, ref in zip(aggregate.group_exprs, aggregate.key_refs, strict=True)
            if ref.name in key_names
        ]
        raise _must_include(sink, "grouping expression", exprs)
    if key_names and query.partition_by and not allow_missing_keys:
        exprs = [format_expr(qualify(w, source.name)) for w in wanted]
        raise _must_include(sink, "partitioning expression", exprs)
    if key_names and not allow_missing_keys:
        if len(wanted) > 1:
            key_names = [format_expr(w) for w in wanted]
        raise _must_include(sink, "key column", key_names)
    return key_flags, key_order


def _must_include(sink: str, noun: str, items: list[str]) -> KsqlStatementError:
    """ksqlDB's error for key expressions the projection leaves out: `noun` names their kind."""
    plural = "s" if len(items) > 1 else ""
    return KsqlStatementError(
        f"The query used to build `{sink}` must include the {noun}{plural} {and_list(items)} in "
        f"its projection (eg, SELECT {', '.join(items)}...)."
    )


def _same_column(expr: t.Expr, wanted: t.Expr) -> bool:
    if isinstance(expr, t.ColumnRef) and isinstance(wanted, t.ColumnRef):
        # A join's sides may share a column name: the qualifiers tell them apart.
        if expr.source and wanted.source and expr.source != wanted.source:
            return False
        return expr.name == wanted.name
    return expr == wanted
