"""CASE, CAST and the ARRAY/MAP/STRUCT constructors: expressions that unify or convert types."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ksql_emulator import casts, widening
from ksql_emulator import sql_types as ty
from ksql_emulator.compiler.base import Compiled, Fn, Row, const, constant_fn
from ksql_emulator.compiler.operators import OperatorCompiler
from ksql_emulator.compiler.user_lists import fold_type
from ksql_emulator.errors import KsqlError, KsqlStatementError, TypeMismatchError
from ksql_emulator.parser import tree as t
from ksql_emulator.semantics.coercion import coerce_literal
from ksql_emulator.semantics.scope import Scope
from ksql_emulator.semantics.type_rules import describe_type

__all__ = ["ConstructorCompiler"]


class ConstructorCompiler(OperatorCompiler):
    def _c_Case(self, e: t.Case, scope: Scope) -> Compiled:
        operand = self.compile(e.operand, scope) if e.operand is not None else None
        conds: list[Fn] = []
        results: list[Compiled] = []
        for cond_expr, res_expr in e.whens:
            if operand is not None:
                cond = self.compile(cond_expr, scope)
                conds.append(self._comparison("=", e, operand, cond, e.operand, cond_expr))  # type: ignore[arg-type]
            else:
                conds.append(self._boolean(cond_expr, scope).fn)
            results.append(self.compile(res_expr, scope))
        default = self.compile(e.default, scope) if e.default is not None else None
        all_results = results + ([default] if default is not None else [])
        typed = [r.type for r in all_results if r.type is not None]
        if not typed:
            raise KsqlStatementError("Invalid Case expression. All case branches have NULL type")
        result_type = widening.common_type(typed)
        if result_type is None:
            raise TypeMismatchError(
                "Invalid Case expression. Type for all 'THEN' clauses should be the same. "
                f"Result types: {', '.join(describe_type(x) for x in typed)}"
            )
        result_fns = [_coerced(r, result_type) for r in results]
        default_fn = _coerced(default, result_type) if default is not None else None
        pairs = list(zip(conds, result_fns, strict=True))

        def case(row: Row) -> Any:
            for cond, res in pairs:
                if cond(row):
                    return res(row)
            return default_fn(row) if default_fn is not None else None

        return Compiled(result_type, case)

    def _c_Cast(self, e: t.Cast, scope: Scope) -> Compiled:
        inner = self.compile(e.value, scope)
        target = self.type_of(e.type)
        if inner.type is None:
            return const(None, target)
        try:
            convert = casts.cast_function(inner.type, target)
        except KsqlError as err:
            raise TypeMismatchError(err.message) from err
        f = inner.fn

        def cast(row: Row) -> Any:
            v = f(row)
            return None if v is None else convert(v)

        return Compiled(target, cast)

    def _c_ArrayCtor(self, e: t.ArrayCtor, scope: Scope) -> Compiled:
        if not e.items:
            raise KsqlStatementError(
                "Array constructor cannot be empty. Please supply at least one element "
                "(see https://github.com/confluentinc/ksql/issues/4239)."
            )
        items = [self.compile(i, scope) for i in e.items]
        if all(i.type is None for i in items):
            raise KsqlStatementError(
                "Cannot construct an array with all NULL elements "
                "(see https://github.com/confluentinc/ksql/issues/4239). As a workaround, you "
                "may cast a NULL value to the desired type."
            )
        item_type, fns = self._unify(e.items, items, "ARRAY", scope)
        return Compiled(ty.ArrayType(item_type), lambda row: [f(row) for f in fns])

    def _unify(
        self, exprs: Sequence[t.Expr], items: list[Compiled], what: str, scope: Scope
    ) -> tuple[Any, list[Fn]]:
        """One element type for a constructor (see user_lists.py)."""
        is_text = [isinstance(x, t.Literal) and x.kind == "STRING" for x in exprs]
        others = [c.type for c, text in zip(items, is_text, strict=True) if not text and c.type]
        item_type: Any = None
        if others:
            for x, c, text in zip(exprs, items, is_text, strict=True):
                if c.type is None or (text and item_type is None):
                    continue  # a NULL, or a string that takes the type the others settle on
                item_type = fold_type(item_type, x, c.type, lambda e: self.compile(e, scope).type)
                if item_type is None:
                    raise TypeMismatchError(
                        f"invalid input syntax for type {what}: all elements must be of the "
                        f"same type, got {', '.join(describe_type(x) for x in others)}"
                    )
        else:
            item_type = ty.STRING
        fns: list[Fn] = []
        for x, c, text in zip(exprs, items, is_text, strict=True):
            if text and item_type != ty.STRING:
                assert isinstance(x, t.Literal)
                try:
                    value = coerce_literal(x, item_type)
                except TypeMismatchError as err:
                    raise TypeMismatchError(err.message.replace("Invalid Predicate: ", "")) from err
                fns.append(constant_fn(value))
            else:
                fns.append(_coerced(c, item_type))
        return item_type, fns

    def _c_MapCtor(self, e: t.MapCtor, scope: Scope) -> Compiled:
        if not e.entries:
            raise KsqlStatementError(
                "Map constructor cannot be empty. Please supply at least one key value pair "
                "(see https://github.com/confluentinc/ksql/issues/4239)."
            )
        keys = [self.compile(k, scope) for k, _ in e.entries]
        values = [self.compile(v, scope) for _, v in e.entries]
        # A map's key and value types come from its entries: NULLs alone give neither.
        for part, compiled in (("keys", keys), ("values", values)):
            if all(c.type is None for c in compiled):
                raise KsqlStatementError(
                    f"Cannot construct a map with all NULL {part} "
                    "(see https://github.com/confluentinc/ksql/issues/4239). As a workaround, "
                    f"you may cast a NULL {part[:-1]} to the desired type."
                )
        kt = widening.common_type([k.type for k in keys if k.type is not None]) or ty.STRING
        kfs = [_coerced(k, kt) for k in keys]
        vt, vfs = self._unify([v for _, v in e.entries], values, "MAP", scope)
        pairs = list(zip(kfs, vfs, strict=True))
        return Compiled(ty.MapType(kt, vt), lambda row: {k(row): v(row) for k, v in pairs})

    def _c_StructCtor(self, e: t.StructCtor, scope: Scope) -> Compiled:
        compiled = [(name, self.compile(v, scope)) for name, v in e.fields]
        seen: dict[str, Any] = {}
        for name, c in compiled:
            # Field names are case sensitive: `a` and `A` are two fields.
            if name in seen:
                raise KsqlStatementError(
                    f"Duplicate field names found in STRUCT: '`{name}` {seen[name]}' and "
                    f"'`{name}` {c.type}'"
                )
            seen[name] = c.type
        fields = tuple((name, c.type) for name, c in compiled)
        fns = [(name, c.fn) for name, c in compiled]
        return Compiled(ty.StructType(fields), lambda row: {n: f(row) for n, f in fns})


def _coerced(c: Compiled, target: Any) -> Fn:
    if target is None or c.type is None or c.type == target:
        return c.fn
    convert = casts.cast_function(c.type, target)
    f = c.fn

    def coerce(row: Row) -> Any:
        v = f(row)
        return None if v is None else convert(v)

    return coerce
