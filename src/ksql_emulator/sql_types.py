"""ksqlDB's SQL types as frozen dataclasses, printed the way ksqlDB prints them."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "BIGINT",
    "BOOLEAN",
    "BYTES",
    "DATE",
    "DOUBLE",
    "INTEGER",
    "INTERVALUNIT",
    "NUMERIC_TYPES",
    "STRING",
    "TIME",
    "TIMESTAMP",
    "ArrayType",
    "DecimalType",
    "MapType",
    "PrimitiveType",
    "SqlType",
    "StructType",
    "array_of",
    "contains_map",
    "decimal",
    "is_integral",
    "is_numeric",
    "map_of",
    "primitive",
    "struct_of",
]


@dataclass(frozen=True)
class SqlType:
    """Base of every SQL type; `str()` gives ksqlDB's spelling."""

    @property
    def base(self) -> str:
        """The type's family name without parameters (`DECIMAL`, `ARRAY`, `INTEGER`...)."""
        raise NotImplementedError


@dataclass(frozen=True)
class PrimitiveType(SqlType):
    """A parameterless type: BOOLEAN, INTEGER, BIGINT, DOUBLE, STRING, BYTES and the time types."""

    name: str

    @property
    def base(self) -> str:
        return self.name

    def __str__(self) -> str:
        return self.name


BOOLEAN = PrimitiveType("BOOLEAN")
INTEGER = PrimitiveType("INTEGER")
BIGINT = PrimitiveType("BIGINT")
DOUBLE = PrimitiveType("DOUBLE")
STRING = PrimitiveType("STRING")
BYTES = PrimitiveType("BYTES")
TIMESTAMP = PrimitiveType("TIMESTAMP")
DATE = PrimitiveType("DATE")
TIME = PrimitiveType("TIME")

# The type of a time-unit keyword argument (DAYS, HOURS...) to DATEADD and friends; its value
# is the unit's upper-case name as a str.
INTERVALUNIT = PrimitiveType("INTERVALUNIT")

_PRIMITIVES = {
    t.name: t for t in (BOOLEAN, INTEGER, BIGINT, DOUBLE, STRING, BYTES, TIMESTAMP, DATE, TIME)
}
# Spellings ksqlDB's grammar accepts for the same types.
_ALIASES = {"INT": INTEGER, "VARCHAR": STRING}

# ksqlDB caps the precision of DECIMAL arithmetic results and literals at 38 digits.
MAX_DECIMAL_PRECISION = 38


@dataclass(frozen=True)
class DecimalType(SqlType):
    """DECIMAL(precision, scale); values are decimal.Decimal quantized to `scale`."""

    precision: int
    scale: int

    def __post_init__(self) -> None:
        # ksqlDB's SqlDecimal rules; a type may be wider than 38 digits (GREATEST of two wide
        # DECIMALs is), only arithmetic results are capped.
        shown = f"DECIMAL({self.precision},{self.scale})"
        if self.precision < 1:
            raise ValueError(f"DECIMAL precision must be >= 1: {shown}")
        if self.scale < 0:
            raise ValueError(f"DECIMAL scale must be >= 0: {shown}")
        if self.precision < self.scale:
            raise ValueError(f"DECIMAL precision must be >= scale: {shown}")

    @property
    def base(self) -> str:
        return "DECIMAL"

    def __str__(self) -> str:
        return f"DECIMAL({self.precision}, {self.scale})"


@dataclass(frozen=True)
class ArrayType(SqlType):
    """ARRAY<item>; values are Python lists."""

    item: SqlType | None

    @property
    def base(self) -> str:
        return "ARRAY"

    def __str__(self) -> str:
        return f"ARRAY<{_name(self.item)}>"


@dataclass(frozen=True)
class MapType(SqlType):
    """MAP<key, value>; values are Python dicts."""

    key: SqlType | None
    value: SqlType | None

    @property
    def base(self) -> str:
        return "MAP"

    def __str__(self) -> str:
        return f"MAP<{_name(self.key)}, {_name(self.value)}>"


@dataclass(frozen=True)
class StructType(SqlType):
    """STRUCT<`NAME` type, ...>; values are dicts keyed by field name in schema order."""

    fields: tuple[tuple[str, SqlType], ...]

    @property
    def base(self) -> str:
        return "STRUCT"

    def field(self, name: str) -> SqlType | None:
        """The type of field `name` (exact match), or None when the struct has no such field."""
        for field_name, field_type in self.fields:
            if field_name == name:
                return field_type
        return None

    def __str__(self) -> str:
        inner = ", ".join(f"`{n}` {t}" for n, t in self.fields)
        return f"STRUCT<{inner}>"


def _name(t: SqlType | None) -> str:
    return "NULL" if t is None else str(t)


NUMERIC_TYPES: tuple[SqlType, ...] = (INTEGER, BIGINT, DOUBLE)


def is_numeric(t: SqlType | None) -> bool:
    """INTEGER, BIGINT, DOUBLE or any DECIMAL."""
    return t in NUMERIC_TYPES or isinstance(t, DecimalType)


def is_integral(t: SqlType | None) -> bool:
    """INTEGER or BIGINT."""
    return t in (INTEGER, BIGINT)


def contains_map(t: SqlType | None) -> bool:
    """Whether a type is a MAP or holds one (in an array's items or a struct's fields)."""
    if isinstance(t, MapType):
        return True
    if isinstance(t, ArrayType):
        return contains_map(t.item)
    if isinstance(t, StructType):
        return any(contains_map(f) for _, f in t.fields)
    return False


def primitive(name: str) -> PrimitiveType:
    """The primitive type named `name` (case-insensitive; INT and VARCHAR accepted)."""
    key = name.upper()
    found = _PRIMITIVES.get(key) or _ALIASES.get(key)
    if found is None:
        raise ValueError(f"Unknown primitive type: {name}")
    return found


def decimal(precision: int, scale: int) -> DecimalType:
    """DECIMAL(precision, scale)."""
    return DecimalType(precision, scale)


def array_of(item: SqlType | None) -> ArrayType:
    """ARRAY<item>."""
    return ArrayType(item)


def map_of(key: SqlType | None, value: SqlType | None) -> MapType:
    """MAP<key, value>."""
    return MapType(key, value)


def struct_of(*fields: tuple[str, SqlType]) -> StructType:
    """STRUCT of (name, type) pairs in order."""
    return StructType(tuple(fields))
