"""The element type of an ARRAY or MAP constructor, as ksqlDB's CoercionUtil.coerceUserList
finds it: a fold over the elements in order, where

- a string literal takes the type found so far, but after a numeric element it counts as
  the number it spells (`'2e1'` is a DECIMAL(2, 0), `'10'` an INTEGER), so it can widen it;
- a STRUCT constructor after a struct takes the union of both field lists (its own fields
  first), each field's type folded the same way; ARRAY and MAP constructors fold per item.

String literals met before any typed element take the type found for the others."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from ksql_emulator import sql_types as ty
from ksql_emulator import widening
from ksql_emulator.parser import tree as t
from ksql_emulator.semantics.coercion import coerce_text

__all__ = ["fold_type", "string_number_type"]

_INT = 2**31
_BIGINT = 2**63


def string_number_type(text: str) -> ty.SqlType:
    """The numeric type of a string literal's text (ksqlDB's getStringNumericType)."""
    value = Decimal(text.strip())
    if not any(c in text for c in ".eE") and value == value.to_integral_value():
        n = int(value)
        if -_INT < n < _INT - 1:
            return ty.INTEGER
        if -_BIGINT < n < _BIGINT - 1:
            return ty.BIGINT
    if value.as_tuple().exponent > 0:  # type: ignore[operator]
        value = value.quantize(Decimal(1))
    return widening.decimal_of(value)


def fold_type(common: Any, expr: t.Expr, typ: Any, type_of: Any) -> Any:
    """`common` widened by the element `expr` of type `typ`; None when there is no fit.
    `type_of(expr)` types a sub-expression (a constructor's field or item)."""
    if common is None:
        return typ
    if typ is None:
        return common
    if isinstance(expr, t.StructCtor) and isinstance(common, ty.StructType):
        return _fold_struct(common, expr, type_of)
    if isinstance(expr, t.ArrayCtor) and isinstance(common, ty.ArrayType):
        item = _fold_all(common.item, expr.items, type_of)
        return None if item is _NO_FIT else ty.ArrayType(item)
    if isinstance(expr, t.MapCtor) and isinstance(common, ty.MapType):
        key = _fold_all(common.key, [k for k, _ in expr.entries], type_of)
        value = _fold_all(common.value, [v for _, v in expr.entries], type_of)
        if key is _NO_FIT or value is _NO_FIT:
            return None
        return ty.MapType(key, value)
    if isinstance(expr, t.Literal) and expr.kind == "STRING":
        if not ty.is_numeric(common):
            return common  # read as `common` when converted (BOOLEAN 'true', ...)
        try:
            typ = string_number_type(str(expr.value))
        except InvalidOperation:
            coerce_text(str(expr.value), common)  # raises ksqlDB's "invalid input syntax"
            raise
    return widening.common_type([common, typ])


_NO_FIT = object()


def _fold_all(common: Any, exprs: Sequence[t.Expr], type_of: Any) -> Any:
    for e in exprs:
        typ = type_of(e)
        if typ is None:
            continue
        common = fold_type(common, e, typ, type_of)
        if common is None:
            return _NO_FIT
    return common


def _fold_struct(common: ty.StructType, expr: t.StructCtor, type_of: Any) -> Any:
    mine = {name.upper(): value for name, value in expr.fields}
    theirs = dict(common.fields)
    names = list(dict.fromkeys([*mine, *theirs]))
    fields: list[tuple[str, Any]] = []
    for name in names:
        if name not in theirs:
            fields.append((name, type_of(mine[name])))
        elif name not in mine:
            fields.append((name, theirs[name]))
        else:
            merged = fold_type(theirs[name], mine[name], type_of(mine[name]), type_of)
            if merged is None:
                return None
            fields.append((name, merged))
    return ty.StructType(tuple(fields))
