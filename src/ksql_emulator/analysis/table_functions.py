"""Table functions (EXPLODE, CUBE_EXPLODE) in a SELECT: each call becomes a synthetic column
that a flat-map step fills in, one output row per value the functions return."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ksql_emulator.catalog import Source
from ksql_emulator.compiler.base import Fn
from ksql_emulator.errors import KsqlError
from ksql_emulator.expressions import ExpressionCompiler
from ksql_emulator.parser import tree as t
from ksql_emulator.semantics.scope import Scope, ScopeColumn

__all__ = ["TableFunctionCall", "extract_table_functions"]


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
