"""Expression tree -> typed Python closure over a row, compiled once per query."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ksql_emulator import casts
from ksql_emulator import types as ty
from ksql_emulator.analysis.coercion import NOT_LITERAL, coerce_literal, is_literal_expr
from ksql_emulator.analysis.format import comparison_name, format_expr
from ksql_emulator.analysis.scope import Scope
from ksql_emulator.analysis.typing import (
    can_compare,
    describe_type,
    family,
    literal_type,
    resolve_type_spec,
)
from ksql_emulator.errors import (
    KsqlError,
    KsqlStatementError,
    RuntimeEvaluationError,
    TypeMismatchError,
)
from ksql_emulator.parser import tree as t

__all__ = ["Compiled", "ExpressionCompiler", "Row"]

Row = Sequence[Any]
Fn = Callable[[Row], Any]


@dataclass(frozen=True)
class Compiled:
    """A compiled expression: its SQL type (None for an untyped NULL) and its closure."""

    type: Any
    fn: Fn
    constant: bool = False


def _const(value: Any, typ: Any) -> Compiled:
    return Compiled(typ, lambda _row: value, constant=True)


class ExpressionCompiler:
    """Compiles expressions against a scope, resolving functions through a registry."""

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

    # --- leaves ------------------------------------------------------------------------------

    def _c_Literal(self, e: t.Literal, scope: Scope) -> Compiled:
        return _const(e.value, literal_type(e))

    def _c_ColumnRef(self, e: t.ColumnRef, scope: Scope) -> Compiled:
        col = scope.resolve(e.name, e.source)
        index = col.index
        return Compiled(col.type, lambda row: row[index])

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

    # --- operators ---------------------------------------------------------------------------

    def _c_Arithmetic(self, e: t.Arithmetic, scope: Scope) -> Compiled:
        left = self.compile(e.left, scope)
        right = self.compile(e.right, scope)
        if left.type is None or right.type is None:
            raise TypeMismatchError(
                f"Error processing expression: {format_expr(e)}. Arithmetic on types "
                f"{describe_type(left.type).replace('NULL', 'null')} and "
                f"{describe_type(right.type).replace('NULL', 'null')} are not supported."
            )
        try:
            result_type = casts.arithmetic_type(e.op, left.type, right.type)
            op = casts.arithmetic_function(e.op, left.type, right.type)
        except KsqlError as err:
            raise TypeMismatchError(
                f"Error processing expression: {format_expr(e)}. {err.message}"
            ) from err
        lf, rf = left.fn, right.fn
        return Compiled(result_type, lambda row: op(lf(row), rf(row)))

    def _c_Negate(self, e: t.Negate, scope: Scope) -> Compiled:
        inner = self.compile(e.operand, scope)
        if family(inner.type) != "NUMBER":
            raise TypeMismatchError(
                f"Error processing expression: {format_expr(e)}. "
                f"Unsupported arithmetic types. {describe_type(inner.type)}"
            )
        f = inner.fn

        def negate(row: Row) -> Any:
            v = f(row)
            return None if v is None else -v

        return Compiled(inner.type, negate)

    def _c_Concat(self, e: t.Concat, scope: Scope) -> Compiled:
        return self.compile(t.FunctionCall("CONCAT", (e.left, e.right)), scope)

    def _comparison(
        self, op: str, e: t.Expr, left: Compiled, right: Compiled, le: t.Expr, re_: t.Expr
    ) -> Fn:
        if not can_compare(op, left.type, right.type):
            raise TypeMismatchError(
                f"Cannot compare {format_expr(le)} ({describe_type(left.type)}) to "
                f"{format_expr(re_)} ({describe_type(right.type)}) with {comparison_name(op)}."
            )
        lf = _comparable(left, right.type)
        rf = _comparable(right, left.type)
        if ty.DOUBLE in (left.type, right.type) and family(left.type) == family(right.type):
            # ksqlDB compares a DOUBLE with a DECIMAL as doubles.
            lf, rf = _as_double(lf), _as_double(rf)
        test = _COMPARE[op]

        def compare(row: Row) -> Any:
            a = lf(row)
            if a is None:
                return False
            b = rf(row)
            if b is None:
                return False
            return test(a, b)

        return compare

    def _c_Comparison(self, e: t.Comparison, scope: Scope) -> Compiled:
        left = self.compile(e.left, scope)
        right = self.compile(e.right, scope)
        return Compiled(ty.BOOLEAN, self._comparison(e.op, e, left, right, e.left, e.right))

    def _c_Logical(self, e: t.Logical, scope: Scope) -> Compiled:
        left = self._boolean(e.left, scope)
        right = self._boolean(e.right, scope)
        lf, rf = left.fn, right.fn
        if e.op == "AND":

            def both(row: Row) -> Any:
                a = lf(row)
                if a is False:
                    return False
                b = rf(row)
                if b is False:
                    return False
                return None if a is None or b is None else True

            return Compiled(ty.BOOLEAN, both)

        def either(row: Row) -> Any:
            a = lf(row)
            if a is True:
                return True
            b = rf(row)
            if b is True:
                return True
            return None if a is None or b is None else False

        return Compiled(ty.BOOLEAN, either)

    def _boolean(self, e: t.Expr, scope: Scope) -> Compiled:
        c = self.compile(e, scope)
        if c.type is not None and c.type != ty.BOOLEAN:
            raise TypeMismatchError(
                f"Logical operand {format_expr(e)} ({describe_type(c.type)}) is not a BOOLEAN."
            )
        return c

    def _c_Not(self, e: t.Not, scope: Scope) -> Compiled:
        inner = self._boolean(e.operand, scope)
        f = inner.fn

        def negate(row: Row) -> Any:
            v = f(row)
            return None if v is None else not v

        return Compiled(ty.BOOLEAN, negate)

    def _c_Between(self, e: t.Between, scope: Scope) -> Compiled:
        value = self.compile(e.value, scope)
        low = self.compile(e.low, scope)
        high = self.compile(e.high, scope)
        ge = self._comparison(">=", e, value, low, e.value, e.low)
        le = self._comparison("<=", e, value, high, e.value, e.high)
        vf = value.fn
        negated = e.negated

        def between(row: Row) -> Any:
            if vf(row) is None:
                return False
            inside = bool(ge(row)) and bool(le(row))
            return inside != negated

        return Compiled(ty.BOOLEAN, between)

    def _c_InList(self, e: t.InList, scope: Scope) -> Compiled:
        value = self.compile(e.value, scope)
        target = value.type
        items: list[Fn] = []
        for item_expr in e.items:
            if target is not None and is_literal_expr(item_expr):
                literal = coerce_literal(item_expr, target)
                if literal is not NOT_LITERAL:
                    item_type = self.compile(item_expr, scope).type
                    if family(target) == "NUMBER" and family(item_type) == "NUMBER":
                        target = casts.common_type([target, item_type]) or target
                    items.append(_constant_fn(literal))
                    continue
            item = self.compile(item_expr, scope)
            if item.type is None or target is None:
                items.append(item.fn)
                continue
            if not (
                family(target) == family(item.type) == "NUMBER"
                or casts.can_implicitly_cast(item.type, target)
                or casts.can_implicitly_cast(target, item.type)
            ):
                raise TypeMismatchError(
                    f"Invalid Predicate: operator does not exist: {describe_type(target)} = "
                    f"{describe_type(item.type)} ({format_expr(item_expr)})\n"
                    "Hint: You might need to add explicit type casts."
                )
            if family(target) == "NUMBER" and family(item.type) == "NUMBER":
                target = casts.common_type([target, item.type]) or target
            items.append(_comparable(item, value.type))
        vf = _comparable(value, None)
        negated = e.negated

        def contains(row: Row) -> Any:
            v = vf(row)
            if v is None:
                return False
            for f in items:
                x = f(row)
                if x is not None and _equal(v, x):
                    return not negated
            return negated

        return Compiled(ty.BOOLEAN, contains)

    def _c_Like(self, e: t.Like, scope: Scope) -> Compiled:
        value = self.compile(e.value, scope)
        pattern = self.compile(e.pattern, scope)
        for c, ex in ((value, e.value), (pattern, e.pattern)):
            if c.type is not None and c.type != ty.STRING:
                raise TypeMismatchError(
                    f"Invalid Predicate: LIKE requires STRING operands, got "
                    f"{describe_type(c.type)} ({format_expr(ex)})"
                )
        vf, pf = value.fn, pattern.fn
        escape = e.escape
        negated = e.negated
        cache: dict[str, re.Pattern[str]] = {}

        def like(row: Row) -> Any:
            v = vf(row)
            p = pf(row)
            if v is None or p is None:
                return None
            rx = cache.get(p)
            if rx is None:
                rx = cache[p] = _like_regex(p, escape)
            return (rx.fullmatch(v) is not None) != negated

        return Compiled(ty.BOOLEAN, like)

    def _c_IsNull(self, e: t.IsNull, scope: Scope) -> Compiled:
        f = self.compile(e.value, scope).fn
        if e.negated:
            return Compiled(ty.BOOLEAN, lambda row: f(row) is not None)
        return Compiled(ty.BOOLEAN, lambda row: f(row) is None)

    def _c_IsDistinct(self, e: t.IsDistinct, scope: Scope) -> Compiled:
        left = self.compile(e.left, scope)
        right = self.compile(e.right, scope)
        if (
            left.type is not None
            and right.type is not None
            and not can_compare("=", left.type, right.type)
        ):
            raise TypeMismatchError(
                f"Cannot compare {format_expr(e.left)} ({describe_type(left.type)}) to "
                f"{format_expr(e.right)} ({describe_type(right.type)}) with "
                f"{'NOT_DISTINCT' if e.negated else 'IS_DISTINCT_FROM'}."
            )
        lf = _comparable(left, right.type)
        rf = _comparable(right, left.type)
        negated = e.negated

        def distinct(row: Row) -> Any:
            a = lf(row)
            b = rf(row)
            same = (a is None and b is None) if a is None or b is None else _equal(a, b)
            return same if negated else not same

        return Compiled(ty.BOOLEAN, distinct)

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
        result_type = casts.common_type(typed)
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
            return _const(None, target)
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
        item_type, fns = self._unify(e.items, items, "ARRAY")
        return Compiled(ty.ArrayType(item_type), lambda row: [f(row) for f in fns])

    def _unify(
        self, exprs: Sequence[t.Expr], items: list[Compiled], what: str
    ) -> tuple[Any, list[Fn]]:
        """One element type for a constructor: string literals are read as the others' type."""
        is_text = [isinstance(x, t.Literal) and x.kind == "STRING" for x in exprs]
        others = [c.type for c, text in zip(items, is_text, strict=True) if not text and c.type]
        item_type = casts.common_type(others) if others else ty.STRING
        if others and item_type is None:
            raise TypeMismatchError(
                f"invalid input syntax for type {what}: all elements must be of the same type, "
                f"got {', '.join(describe_type(x) for x in others)}"
            )
        fns: list[Fn] = []
        for x, c, text in zip(exprs, items, is_text, strict=True):
            if text and item_type != ty.STRING:
                assert isinstance(x, t.Literal)
                try:
                    value = coerce_literal(x, item_type)
                except TypeMismatchError as err:
                    raise TypeMismatchError(err.message.replace("Invalid Predicate: ", "")) from err
                fns.append(_constant_fn(value))
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
        kt = casts.common_type([k.type for k in keys if k.type is not None]) or ty.STRING
        kfs = [_coerced(k, kt) for k in keys]
        if all(v.type is None for v in values):
            vt, vfs = None, [v.fn for v in values]
        else:
            vt, vfs = self._unify([v for _, v in e.entries], values, "MAP")
        pairs = list(zip(kfs, vfs, strict=True))
        return Compiled(ty.MapType(kt, vt), lambda row: {k(row): v(row) for k, v in pairs})

    def _c_StructCtor(self, e: t.StructCtor, scope: Scope) -> Compiled:
        compiled = [(name, self.compile(v, scope)) for name, v in e.fields]
        fields = tuple((name, c.type) for name, c in compiled)
        fns = [(name, c.fn) for name, c in compiled]
        return Compiled(ty.StructType(fields), lambda row: {n: f(row) for n, f in fns})

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
            from ksql_emulator.functions.registry import LambdaType

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

            return Compiled(resolved.return_type, invoke)

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


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: _equal(a, b),
    "<>": lambda a, b: not _equal(a, b),
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _as_double(f: Fn) -> Fn:
    def as_double(row: Row) -> Any:
        v = f(row)
        return None if v is None else float(v)

    return as_double


def _constant_fn(value: Any) -> Fn:
    return lambda _row: value


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, Decimal):
        return a == float(b)
    if isinstance(b, float) and isinstance(a, Decimal):
        return float(a) == b
    return bool(a == b)


def _comparable(c: Compiled, other: Any) -> Fn:
    """The closure, converting a STRING to the other side's time type when compared to one."""
    if c.type == ty.STRING and other is not None and family(other) == "TIME":
        convert = casts.cast_function(ty.STRING, other)
        f = c.fn

        def parsed(row: Row) -> Any:
            v = f(row)
            return None if v is None else convert(v)

        return parsed
    return c.fn


def _coerced(c: Compiled, target: Any) -> Fn:
    if target is None or c.type is None or c.type == target:
        return c.fn
    convert = casts.cast_function(c.type, target)
    f = c.fn

    def coerce(row: Row) -> Any:
        v = f(row)
        return None if v is None else convert(v)

    return coerce


def _like_regex(pattern: str, escape: str | None) -> re.Pattern[str]:
    out: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if escape is not None and c == escape and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        if c == "%":
            out.append(".*")
        elif c == "_":
            out.append(".")
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out), re.DOTALL)
