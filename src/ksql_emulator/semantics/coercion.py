"""ksqlDB's coercion of literals to a target type, as IN lists use it (in.json checks it)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from ksql_emulator import casts
from ksql_emulator import sql_types as ty
from ksql_emulator.errors import TypeMismatchError
from ksql_emulator.parser import tree as t

__all__ = ["NOT_LITERAL", "coerce_literal", "is_literal_expr"]

NOT_LITERAL = object()

_INT_RANGES = {ty.INTEGER: 2**31, ty.BIGINT: 2**63}


def _invalid(target: Any, text: str) -> TypeMismatchError:
    base = target.base if isinstance(target, ty.SqlType) else str(target)
    return TypeMismatchError(f'Invalid Predicate: invalid input syntax for type {base}: "{text}".')


def _boolean(text: str) -> bool | None:
    word = text.strip().lower()
    if not word:
        return None
    if "true".startswith(word) or "yes".startswith(word):
        return True
    if "false".startswith(word) or "no".startswith(word):
        return False
    return None


def coerce_text(text: str, target: Any) -> Any:
    """A string literal as a value of `target`, or the error ksqlDB gives."""
    if target == ty.STRING:
        return text
    if target == ty.BOOLEAN:
        b = _boolean(text)
        if b is None:
            raise _invalid(target, text)
        return b
    if target in _INT_RANGES:
        try:
            d = Decimal(text.strip())
        except InvalidOperation as err:
            raise _invalid(target, text) from err
        if d != d.to_integral_value():
            raise _invalid(target, text)
        n = int(d)
        if not -_INT_RANGES[target] <= n < _INT_RANGES[target]:
            raise _invalid(target, text)
        return n
    if target == ty.DOUBLE:
        try:
            return float(text.strip())
        except ValueError as err:
            raise _invalid(target, text) from err
    if isinstance(target, ty.DecimalType):
        try:
            return Decimal(text.strip())
        except InvalidOperation as err:
            raise _invalid(target, text) from err
    try:
        return casts.cast_function(ty.STRING, target)(text)
    except Exception as err:
        raise _invalid(target, text) from err


def is_literal_expr(e: t.Expr) -> bool:
    if isinstance(e, t.Literal):
        return True
    if isinstance(e, t.ArrayCtor):
        return all(is_literal_expr(i) for i in e.items)
    if isinstance(e, t.MapCtor):
        return all(is_literal_expr(k) and is_literal_expr(v) for k, v in e.entries)
    if isinstance(e, t.StructCtor):
        return all(is_literal_expr(v) for _, v in e.fields)
    if isinstance(e, t.Negate):
        return isinstance(e.operand, t.Literal)
    return False


def coerce_literal(e: t.Expr, target: Any) -> Any:
    """The literal expression `e` as a value of `target`; NOT_LITERAL when it does not fit."""
    if isinstance(e, t.Negate) and isinstance(e.operand, t.Literal):
        inner = coerce_literal(e.operand, target)
        return NOT_LITERAL if inner is NOT_LITERAL or inner is None else -inner
    if isinstance(e, t.Literal):
        if e.kind == "NULL":
            return None
        if e.kind == "STRING":
            return coerce_text(str(e.value), target)
        if e.kind == "BOOLEAN":
            return e.value if target == ty.BOOLEAN else NOT_LITERAL
        if ty.is_numeric(target):
            return e.value
        if target == ty.STRING:
            return e.text or str(e.value)
        return NOT_LITERAL
    if isinstance(e, t.ArrayCtor) and isinstance(target, ty.ArrayType):
        items = [coerce_literal(i, target.item) for i in e.items]
        return NOT_LITERAL if any(i is NOT_LITERAL for i in items) else items
    if isinstance(e, t.MapCtor) and isinstance(target, ty.MapType):
        out = {}
        for k, v in e.entries:
            ck = coerce_literal(k, target.key)
            cv = coerce_literal(v, target.value)
            if ck is NOT_LITERAL or cv is NOT_LITERAL:
                return NOT_LITERAL
            out[ck] = cv
        return out
    if isinstance(e, t.StructCtor) and isinstance(target, ty.StructType):
        given = dict(e.fields)
        struct: dict[str, Any] = {}
        for name, ftype in target.fields:
            if name in given:
                v = coerce_literal(given.pop(name), ftype)
                if v is NOT_LITERAL:
                    return NOT_LITERAL
                struct[name] = v
            else:
                struct[name] = None
        if given:
            struct.update({f"\0{n}": True for n in given})  # never equal to a real value
        return struct
    return NOT_LITERAL
