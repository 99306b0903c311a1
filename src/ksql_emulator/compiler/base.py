"""Compiled expressions: the typed closure over a row, and dispatch from tree node to rule."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ksql_emulator.errors import KsqlError, KsqlStatementError
from ksql_emulator.parser import tree as t
from ksql_emulator.semantics.format import format_expr
from ksql_emulator.semantics.scope import Scope
from ksql_emulator.semantics.type_rules import resolve_type_spec

__all__ = ["Compiled", "CompilerBase", "Fn", "Row", "const", "constant_fn"]

Row = Sequence[Any]
Fn = Callable[[Row], Any]


@dataclass(frozen=True)
class Compiled:
    """A compiled expression: its SQL type (None for an untyped NULL) and its closure."""

    type: Any
    fn: Fn
    constant: bool = False
    # The row position `fn` reads when the expression is a column as it is: a projection of
    # only such expressions takes its values in one call (`ProjectOperator`).
    column: int | None = None


def const(value: Any, typ: Any) -> Compiled:
    return Compiled(typ, lambda _row: value, constant=True)


def constant_fn(value: Any) -> Fn:
    return lambda _row: value


class CompilerBase:
    """Sends each node to its `_c_<Node>` rule; the subclasses hold the rules."""

    def __init__(self, registry: Any, custom_types: dict[str, Any] | None = None) -> None:
        self.registry = registry
        self.custom_types = custom_types or {}

    def compile(self, expr: t.Expr, scope: Scope) -> Compiled:
        method = getattr(self, "_c_" + type(expr).__name__, None)
        if method is None:
            raise KsqlStatementError(f"Unsupported expression: {format_expr(expr)}")
        try:
            result: Compiled = method(expr, scope)
        except KsqlError as err:
            raise err.locate(expr.pos.line, expr.pos.col) from None
        return result

    def type_of(self, spec: t.TypeSpec) -> Any:
        return resolve_type_spec(spec, self.custom_types)
