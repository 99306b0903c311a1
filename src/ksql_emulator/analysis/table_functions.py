"""Table functions (EXPLODE, CUBE_EXPLODE) in a SELECT: each call becomes a synthetic column
that a flat-map step fills in, one output row per value the functions return."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ksql_emulator.catalog import Source
from ksql_emulator.compiler.base import Fn
from ksql_emulator.errors import KsqlError, KsqlStatementError
from ksql_emulator.expressions import ExpressionCompiler
from ksql_emulator.parser import tree as t
from ksql_emulator.semantics.format import format_expr
from ksql_emulator.semantics.scope import Scope, ScopeColumn

__all__ = ["TableFunctionCall", "check_table_function_use", "extract_table_functions"]


@dataclass(frozen=True)
class TableFunctionCall:
    """One call: its argument evaluators and the function returning a list of values."""

    args: tuple[Fn, ...]
    call: Any


def _is_table_function(e: t.Expr, registry: Any) -> bool:
    return isinstance(e, t.FunctionCall) and e.name.upper() in registry


def extract_table_functions(
    exprs: list[t.Expr], scope: Scope, compiler: ExpressionCompiler, source: Source
) -> tuple[list[t.Expr], Scope, list[TableFunctionCall]]:
    """`exprs` with each table-function call replaced by a reference to a synthetic column
    appended to `scope`, and the calls that fill those columns in, in that order."""
    from ksql_emulator.functions import table_registry

    registry = table_registry()
    calls: list[TableFunctionCall] = []
    columns = list(scope.columns)

    def rewrite(e: t.Expr) -> t.Expr:
        if not _is_table_function(e, registry):
            return e
        assert isinstance(e, t.FunctionCall)
        args = [compiler.compile(a, scope) for a in e.args]
        resolved = registry.resolve(e.name, [a.type for a in args])
        name = f"KSQL_SYNTH_{len(calls)}"
        calls.append(TableFunctionCall(tuple(a.fn for a in args), resolved.call))
        columns.append(ScopeColumn(name, resolved.return_type, len(columns)))
        return t.ColumnRef(name)

    rewritten = [e.transform(rewrite) for e in exprs]
    if not calls:
        return exprs, scope, []
    if source.kind == "TABLE":
        raise KsqlError("Table source is not supported with table functions")
    extended = Scope(columns, scope.context)
    extended.lambda_vars = dict(scope.lambda_vars)
    return rewritten, extended, calls


def check_table_function_use(items: list[t.Expr], grouped: bool) -> None:
    """ksqlDB's rules on where a table function may be called, checked in SELECT order: not
    inside another table function, not in a query with GROUP BY, not inside a CASE."""
    from ksql_emulator.functions import table_registry

    registry = table_registry()

    def visit(e: t.Expr, outer: str | None, case: t.Case | None) -> None:
        inner_outer = outer
        if _is_table_function(e, registry):
            assert isinstance(e, t.FunctionCall)
            name = e.name.upper()
            if outer is not None:
                raise KsqlStatementError(f"Table functions cannot be nested: {outer}({name}())")
            if grouped:
                raise KsqlStatementError("Table functions cannot be used with aggregations.")
            if case is not None:
                raise KsqlStatementError(
                    f"Table functions cannot be used in CASE: {format_expr(case)}"
                )
            inner_outer = name
        for child in e.children():
            visit(child, inner_outer, e if isinstance(e, t.Case) else case)

    for item in items:
        visit(item, None, None)
