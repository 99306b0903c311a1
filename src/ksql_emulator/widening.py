"""Widening between SQL types: implicit casts, common types, the DECIMAL a number widens to."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from ksql_emulator import sql_types as ty

__all__ = [
    "can_implicitly_cast",
    "common_type",
    "decimal_of",
    "to_decimal_type",
    "widen_decimal",
]

_MAX_PRECISION = ty.MAX_DECIMAL_PRECISION

# --- decimals -----------------------------------------------------------------------------------


def to_decimal_type(t: ty.SqlType) -> ty.DecimalType | None:
    """The DECIMAL an INTEGER/BIGINT/DECIMAL widens to (ksqlDB's DecimalUtil.toSqlDecimal)."""
    if isinstance(t, ty.DecimalType):
        return t
    if t == ty.INTEGER:
        return ty.DecimalType(10, 0)
    if t == ty.BIGINT:
        return ty.DecimalType(19, 0)
    return None


def widen_decimal(a: ty.DecimalType, b: ty.DecimalType) -> ty.DecimalType:
    """The narrowest DECIMAL holding both (ksqlDB's DecimalUtil.widen)."""
    scale = max(a.scale, b.scale)
    integral = max(a.precision - a.scale, b.precision - b.scale)
    return ty.DecimalType(integral + scale, scale)


def decimal_of(value: Decimal, precision: int | None = None) -> ty.DecimalType:
    """The DECIMAL type a literal value has."""
    _sign, digits, exponent = value.as_tuple()
    scale = max(0, -int(exponent))
    prec = max(len(digits), scale, 1) if precision is None else precision
    return ty.DecimalType(min(prec, _MAX_PRECISION), scale)


# --- implicit casts and common types ---------------------------------------------------------

_NUMERIC_RANK = {"INTEGER": 0, "BIGINT": 1, "DECIMAL": 2, "DOUBLE": 3}


def can_implicitly_cast(src: ty.SqlType | None, dst: ty.SqlType | None) -> bool:
    """Whether ksqlDB widens `src` to `dst` without a CAST (INT->BIGINT->DECIMAL->DOUBLE)."""
    if src is None:
        return True
    if dst is None:
        return False
    if src == dst:
        return True
    if ty.is_numeric(src) and ty.is_numeric(dst):
        if isinstance(dst, ty.DecimalType):
            widened = to_decimal_type(src)
            if widened is None:
                return False
            return (
                widened.scale <= dst.scale
                and widened.precision - widened.scale <= dst.precision - dst.scale
            )
        return _NUMERIC_RANK[src.base] < _NUMERIC_RANK[dst.base]
    if isinstance(src, ty.ArrayType) and isinstance(dst, ty.ArrayType):
        return can_implicitly_cast(src.item, dst.item)
    if isinstance(src, ty.MapType) and isinstance(dst, ty.MapType):
        return can_implicitly_cast(src.key, dst.key) and can_implicitly_cast(src.value, dst.value)
    if isinstance(src, ty.StructType) and isinstance(dst, ty.StructType):
        if [n for n, _ in src.fields] != [n for n, _ in dst.fields]:
            return False
        return all(
            can_implicitly_cast(a, b) for (_, a), (_, b) in zip(src.fields, dst.fields, strict=True)
        )
    return False


def common_type(types: Iterable[ty.SqlType | None]) -> ty.SqlType | None:
    """The type every one of `types` widens to (untyped NULLs ignored), or None if none fits."""
    result: ty.SqlType | None = None
    for t in types:
        if t is None:
            continue
        if result is None:
            result = t
            continue
        merged = _common_pair(result, t)
        if merged is None:
            return None
        result = merged
    return result


def _common_pair(a: ty.SqlType, b: ty.SqlType) -> ty.SqlType | None:
    if a == b:
        return a
    if ty.is_numeric(a) and ty.is_numeric(b):
        if ty.DOUBLE in (a, b):
            return ty.DOUBLE
        da, db = to_decimal_type(a), to_decimal_type(b)
        if isinstance(a, ty.DecimalType) or isinstance(b, ty.DecimalType):
            assert da is not None and db is not None
            return widen_decimal(da, db)
        return ty.BIGINT
    if isinstance(a, ty.ArrayType) and isinstance(b, ty.ArrayType):
        ok, item = _common_nullable(a.item, b.item)
        return ty.ArrayType(item) if ok else None
    if isinstance(a, ty.MapType) and isinstance(b, ty.MapType):
        ok_key, key = _common_nullable(a.key, b.key)
        ok_value, value = _common_nullable(a.value, b.value)
        return ty.MapType(key, value) if ok_key and ok_value else None
    if isinstance(a, ty.StructType) and isinstance(b, ty.StructType):
        if [n for n, _ in a.fields] != [n for n, _ in b.fields]:
            return None
        fields: list[tuple[str, ty.SqlType]] = []
        for (name, fa), (_, fb) in zip(a.fields, b.fields, strict=True):
            merged = _common_pair(fa, fb)
            if merged is None:
                return None
            fields.append((name, merged))
        return ty.StructType(tuple(fields))
    return None


def _common_nullable(a: ty.SqlType | None, b: ty.SqlType | None) -> tuple[bool, ty.SqlType | None]:
    """(fits, type) for element types where None means "unknown" rather than "no fit"."""
    if a is None:
        return True, b
    if b is None:
        return True, a
    merged = _common_pair(a, b)
    return merged is not None, merged
