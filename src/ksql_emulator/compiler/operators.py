"""Operators: arithmetic, comparisons, AND/OR/NOT, BETWEEN, IN, LIKE, IS [NOT] NULL/DISTINCT."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from ksql_emulator import arithmetic, casts, widening
from ksql_emulator import sql_types as ty
from ksql_emulator.compiler.base import Compiled, CompilerBase, Fn, Row, constant_fn
from ksql_emulator.errors import KsqlError, RuntimeEvaluationError, TypeMismatchError
from ksql_emulator.parser import tree as t
from ksql_emulator.semantics.coercion import NOT_LITERAL, coerce_literal, is_literal_expr
from ksql_emulator.semantics.format import comparison_name, format_expr
from ksql_emulator.semantics.scope import Scope
from ksql_emulator.semantics.type_rules import can_compare, describe_type, family

__all__ = ["OperatorCompiler"]


class OperatorCompiler(CompilerBase):
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
            result_type = arithmetic.arithmetic_type(e.op, left.type, right.type)
            op = arithmetic.arithmetic_function(e.op, left.type, right.type)
        except KsqlError as err:
            raise TypeMismatchError(
                f"Error processing expression: {format_expr(e)}. {err.message}"
            ) from err
        lf, rf = left.fn, right.fn
        if scope.lambda_vars:
            # ksqlDB's generated lambda code unboxes its operands, so a NULL fails the whole
            # call (TRANSFORM(xs, x => x + 5) of [5, NULL] is NULL, not [10, NULL]).
            def strict(row: Row) -> Any:
                a, b = lf(row), rf(row)
                if a is None or b is None:
                    raise RuntimeEvaluationError(f"null operand in lambda: {format_expr(e)}")
                return op(a, b)

            return Compiled(result_type, strict)
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
        if left.type is None or right.type is None:
            # ksqlDB's ComparisonUtil: a side of NULL type (a NULL literal) compares with
            # nothing; the message names each side's base type.
            shown = [_base_type_name(c.type) for c in (left, right)]
            op = "<>" if e.op == "!=" else e.op
            raise TypeMismatchError(
                f"Comparison with NULL not supported: {shown[0]} {op} {shown[1]}\n"
                "Use 'IS NULL' or 'IS NOT NULL' instead."
            )
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
                        target = widening.common_type([target, item_type]) or target
                    items.append(constant_fn(literal))
                    continue
            item = self.compile(item_expr, scope)
            if item.type is None or target is None:
                items.append(item.fn)
                continue
            if not (
                family(target) == family(item.type) == "NUMBER"
                or widening.can_implicitly_cast(item.type, target)
                or widening.can_implicitly_cast(target, item.type)
            ):
                raise TypeMismatchError(
                    f"Invalid Predicate: operator does not exist: {describe_type(target)} = "
                    f"{describe_type(item.type)} ({format_expr(item_expr)})\n"
                    "Hint: You might need to add explicit type casts."
                )
            if family(target) == "NUMBER" and family(item.type) == "NUMBER":
                target = widening.common_type([target, item.type]) or target
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


def _base_type_name(typ: Any) -> str:
    """NULL, or a type's name without its parameters: DECIMAL, ARRAY, MAP, STRUCT..."""
    if typ is None:
        return "NULL"
    return str(typ).split("(")[0].split("<")[0]
