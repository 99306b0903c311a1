"""Expression tree -> typed Python closure over a row, compiled once per query."""

from __future__ import annotations

from collections.abc import Callable
from operator import itemgetter
from typing import Any

from ksql_emulator import sql_types as ty
from ksql_emulator.compiler.base import Compiled, Fn, Row, const
from ksql_emulator.compiler.constructors import ConstructorCompiler
from ksql_emulator.errors import (
    KsqlError,
    KsqlStatementError,
    RuntimeEvaluationError,
    TypeMismatchError,
)
from ksql_emulator.functions.misc import identity
from ksql_emulator.parser import tree as t
from ksql_emulator.semantics.format import format_expr
from ksql_emulator.semantics.scope import Scope
from ksql_emulator.semantics.type_rules import describe_type, literal_type

__all__ = ["ExpressionCompiler"]


class ExpressionCompiler(ConstructorCompiler):
    """Compiles expressions against a scope, resolving functions through a registry."""

    # --- leaves ------------------------------------------------------------------------------

    def _c_Literal(self, e: t.Literal, scope: Scope) -> Compiled:
        return const(e.value, literal_type(e))

    def _c_ColumnRef(self, e: t.ColumnRef, scope: Scope) -> Compiled:
        col = scope.resolve(e.name, e.source)
        # A C call where a lambda would be a Python frame: every query reads columns this way,
        # several times for each record (keys, arguments, filters, projections).
        return Compiled(col.type, itemgetter(col.index), column=col.index)

    # --- access ------------------------------------------------------------------------------

    def _c_Dereference(self, e: t.Dereference, scope: Scope) -> Compiled:
        base = self.compile(e.base, scope)
        if not isinstance(base.type, ty.StructType):
            raise TypeMismatchError(
                f"Expected STRUCT type for '{format_expr(e.base)}' but got "
                f"{describe_type(base.type)}"
            )
        field_type = None
        name = e.field
        for fname, ftype in base.type.fields:
            if fname == e.field:
                field_type = ftype
                break
        if field_type is None:
            for fname, ftype in base.type.fields:
                if fname.upper() == e.field.upper():
                    field_type, name = ftype, fname
                    break
        if field_type is None:
            raise KsqlStatementError(
                f"Could not find field '{e.field}' in '{format_expr(e.base)}'."
            )
        bf = base.fn

        def deref(row: Row) -> Any:
            s = bf(row)
            return None if s is None else s.get(name)

        return Compiled(field_type, deref)

    def _c_Subscript(self, e: t.Subscript, scope: Scope) -> Compiled:
        base = self.compile(e.base, scope)
        index = self.compile(e.index, scope)
        bf, xf = base.fn, index.fn
        if isinstance(base.type, ty.ArrayType):

            def item(row: Row) -> Any:
                arr = bf(row)
                i = xf(row)
                if arr is None or i is None:
                    return None
                n = len(arr)
                if i > 0 and i <= n:
                    return arr[i - 1]
                if i < 0 and -i <= n:
                    return arr[n + i]
                return None

            return Compiled(base.type.item, item)
        if isinstance(base.type, ty.MapType):

            def entry(row: Row) -> Any:
                m = bf(row)
                k = xf(row)
                if m is None or k is None:
                    return None
                return m.get(k)

            return Compiled(base.type.value, entry)
        raise TypeMismatchError(
            f"Subscript expression '{format_expr(e)}' requires ARRAY or MAP, "
            f"got {describe_type(base.type)}"
        )

    def _c_FunctionCall(self, e: t.FunctionCall, scope: Scope) -> Compiled:
        compiled: list[Compiled | None] = []
        arg_types: list[Any] = []
        for a in e.args:
            if isinstance(a, t.Lambda):
                compiled.append(None)
                arg_types.append(None)
            else:
                c = self.compile(a, scope)
                compiled.append(c)
                arg_types.append(c.type)
        lambda_positions = [i for i, a in enumerate(e.args) if isinstance(a, t.Lambda)]
        lambda_bodies: dict[int, Fn] = {}
        if lambda_positions:
            from ksql_emulator.functions.signatures import LambdaType

            inputs = self.registry.lambda_inputs(e.name, arg_types)
            for i in lambda_positions:
                lam = e.args[i]
                assert isinstance(lam, t.Lambda)
                param_types = list(inputs.get(i, [None] * len(lam.params)))
                if len(param_types) != len(lam.params):
                    raise KsqlStatementError(
                        f"Lambda in {e.name} has {len(lam.params)} parameters but "
                        f"{len(param_types)} were expected."
                    )
                body = self.compile(lam.body, scope.with_lambda(lam.params, param_types))
                arg_types[i] = LambdaType(tuple(param_types), body.type)
                lambda_bodies[i] = body.fn
        resolved = self.registry.resolve(e.name, arg_types)
        call = resolved.call
        name = e.name
        if not lambda_bodies:
            fns = [c.fn for c in compiled if c is not None]

            def invoke(row: Row) -> Any:
                try:
                    return call(*[f(row) for f in fns])
                except KsqlError:
                    raise
                except Exception as err:  # a built-in failing on one record
                    raise RuntimeEvaluationError(f"Error computing {name}: {err}") from err

            if len(fns) != 1:
                return Compiled(resolved.return_type, invoke)
            (only,) = fns
            if getattr(call, "__wrapped__", None) is identity:
                (argument,) = (c for c in compiled if c is not None)
                return Compiled(resolved.return_type, only, column=argument.column)

            # One argument (AS_VALUE, UCASE, ...): called without gathering a list per row.
            def invoke_one(row: Row) -> Any:
                try:
                    return call(only(row))
                except KsqlError:
                    raise
                except Exception as err:
                    raise RuntimeEvaluationError(f"Error computing {name}: {err}") from err

            return Compiled(resolved.return_type, invoke_one)

        def make_lambda(body: Fn, row: Row) -> Callable[..., Any]:
            base = tuple(row)
            return lambda *values: body(base + values)

        parts: list[tuple[bool, Fn]] = []
        for i, maybe in enumerate(compiled):
            if maybe is None:
                parts.append((True, lambda_bodies[i]))
            else:
                parts.append((False, maybe.fn))

        def invoke_with_lambdas(row: Row) -> Any:
            args = [make_lambda(f, row) if is_lambda else f(row) for is_lambda, f in parts]
            try:
                return call(*args)
            except KsqlError:
                raise
            except Exception as err:
                raise RuntimeEvaluationError(f"Error computing {name}: {err}") from err

        return Compiled(resolved.return_type, invoke_with_lambdas)
