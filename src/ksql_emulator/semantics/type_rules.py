"""ksqlDB's typing rules the core needs: literal types, type specs, comparability."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ksql_emulator import sql_types as ty
from ksql_emulator.errors import KsqlStatementError
from ksql_emulator.parser import tree as t

__all__ = ["can_compare", "describe_type", "family", "literal_type", "resolve_type_spec"]

_SIMPLE = {
    "BOOLEAN": ty.BOOLEAN,
    "INTEGER": ty.INTEGER,
    "BIGINT": ty.BIGINT,
    "DOUBLE": ty.DOUBLE,
    "STRING": ty.STRING,
    "BYTES": ty.BYTES,
    "TIMESTAMP": ty.TIMESTAMP,
    "DATE": ty.DATE,
    "TIME": ty.TIME,
}


def resolve_type_spec(spec: t.TypeSpec, custom: dict[str, Any] | None = None) -> Any:
    """A parsed type -> SqlType; custom types come from CREATE TYPE."""
    if spec.name in _SIMPLE:
        return _SIMPLE[spec.name]
    if spec.name == "DECIMAL":
        try:
            return ty.DecimalType(spec.params[0], spec.params[1])
        except ValueError as err:
            raise KsqlStatementError(str(err)) from err
    if spec.name == "ARRAY":
        return ty.ArrayType(resolve_type_spec(spec.items[0], custom))
    if spec.name == "MAP":
        return ty.MapType(
            resolve_type_spec(spec.items[0], custom), resolve_type_spec(spec.items[1], custom)
        )
    if spec.name == "STRUCT":
        return ty.StructType(tuple((n, resolve_type_spec(s, custom)) for n, s in spec.fields))
    if custom and spec.name in custom:
        return custom[spec.name]
    raise KsqlStatementError(f"Unknown type: {spec.name}")


def literal_type(lit: t.Literal) -> Any:
    kind = lit.kind
    if kind == "NULL":
        return None
    if kind == "DECIMAL":
        value = lit.value
        assert isinstance(value, Decimal)
        _sign, digits, exponent = value.as_tuple()
        scale = max(0, -int(exponent))
        precision = max(len(digits), scale)
        return ty.DecimalType(precision, scale)
    if kind == "UNIT":
        return ty.STRING
    return _SIMPLE[kind]


def family(typ: Any) -> str:
    if typ is None:
        return "NULL"
    if typ in (ty.INTEGER, ty.BIGINT, ty.DOUBLE) or isinstance(typ, ty.DecimalType):
        return "NUMBER"
    if typ in (ty.TIMESTAMP, ty.DATE, ty.TIME):
        return "TIME"
    if isinstance(typ, ty.ArrayType):
        return "ARRAY"
    if isinstance(typ, ty.MapType):
        return "MAP"
    if isinstance(typ, ty.StructType):
        return "STRUCT"
    return str(typ)


def describe_type(typ: Any) -> str:
    return "NULL" if typ is None else str(typ)


def can_compare(op: str, left: Any, right: Any) -> bool:
    """Whether ksqlDB accepts `left op right` (ComparisonUtil's rules)."""
    if left is None or right is None:
        return True
    fl, fr = family(left), family(right)
    if fl in ("ARRAY", "MAP", "STRUCT") or fr in ("ARRAY", "MAP", "STRUCT"):
        return op in ("=", "<>") and left == right
    if fl == "BOOLEAN" and fr == "BOOLEAN":
        return op in ("=", "<>")
    if fl == fr:
        return fl != "TIME" or left == right or ty.DATE not in (left, right) or True
    return {fl, fr} == {"TIME", "STRING"}
