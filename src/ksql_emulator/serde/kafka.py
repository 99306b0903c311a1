"""The KAFKA format: one primitive column in Kafka's own serializers' byte layouts."""

from __future__ import annotations

import base64
import struct
from decimal import Decimal
from typing import Any

from ksql_emulator import sql_types as ty
from ksql_emulator.errors import SerializationError
from ksql_emulator.serde.base import Column, NullKey, Serde, b64

__all__ = ["SUPPORTED_TYPES", "KafkaSerde"]

# Kafka's IntegerSerializer, LongSerializer, DoubleSerializer: big-endian fixed widths.
_LAYOUTS: dict[ty.SqlType, tuple[str, int, str]] = {
    ty.INTEGER: (">i", 4, "IntegerDeserializer"),
    ty.BIGINT: (">q", 8, "LongDeserializer"),
    ty.DOUBLE: (">d", 8, "DoubleDeserializer"),
}
SUPPORTED_TYPES: tuple[ty.SqlType, ...] = (ty.INTEGER, ty.BIGINT, ty.DOUBLE, ty.STRING, ty.BYTES)


class KafkaSerde(Serde):
    """A single INTEGER, BIGINT, DOUBLE, STRING or BYTES column (or none at all)."""

    format_name = "KAFKA"

    def __init__(self, schema: list[Column], *, is_key: bool) -> None:
        super().__init__(schema, is_key=is_key)
        self.type: ty.SqlType | None = schema[0][1] if schema else None
        # Looked up once: hashing a SqlType per record is a measurable share of a key's cost.
        self._layout = _LAYOUTS.get(self.type) if self.type is not None else None
        self._string = self.type == ty.STRING

    def serialize(self, values: list[Any] | None) -> bytes | None:
        if values is None or self.type is None:
            return None
        self._check_width(values)
        return self._encode(values[0])

    def _encode(self, value: Any) -> bytes | None:
        if value is None:
            return None
        layout = self._layout
        if layout is not None:
            code = layout[0]
            return struct.pack(code, float(value) if code == ">d" else int(value))
        if self._string:
            return str(value).encode("utf-8")
        if self.type == ty.BYTES:
            return bytes(value)
        raise SerializationError(f"The 'KAFKA' format does not support type '{self.type}'")

    def deserialize(self, data: bytes | None) -> list[Any] | None:
        if self.type is None:
            return [] if self.is_key or data is not None else None
        if data is None:
            return NullKey.of(1) if self.is_key else None
        layout = self._layout
        if layout is not None:
            code, size, name = layout
            if len(data) != size:
                raise SerializationError(f"Size of data received by {name} is not {size}")
            return [struct.unpack(code, data)[0]]
        if self._string:
            try:
                return [data.decode("utf-8")]
            except UnicodeDecodeError as err:
                raise SerializationError(f"Error deserializing STRING: {err}") from err
        return [bytes(data)]

    def from_test_value(self, value: Any) -> bytes | None:
        if value is None:
            return None
        if self.type == ty.BYTES and isinstance(value, str):
            return base64.b64decode(value)
        if self.type in _LAYOUTS and isinstance(value, str):
            # A string where a number is expected: the raw text, as a producer would send it.
            return value.encode("utf-8")
        if self.type in _LAYOUTS:
            if isinstance(value, Decimal | float) and self.type != ty.DOUBLE:
                return value_bytes(str(value))
            return self._encode(value)
        if isinstance(value, str):
            return value.encode("utf-8")
        return str(value).encode("utf-8")

    def bytes_to_test_value(self, data: bytes | None) -> Any:
        if data is None:
            return None
        if self.type == ty.BYTES:
            return b64(data)
        values = self.deserialize(data)
        return values[0] if values else None


def value_bytes(text: str) -> bytes:
    """Text as UTF-8 bytes (what a test gives where the format wants a binary number)."""
    return text.encode("utf-8")
