"""The NONE format: no columns; whatever bytes arrive are ignored, nothing is written."""

from __future__ import annotations

from typing import Any

from ksql_emulator.serde.base import Serde

__all__ = ["NoneSerde"]


class NoneSerde(Serde):
    """A key or value with no columns (keyless streams)."""

    format_name = "NONE"

    def serialize(self, values: list[Any] | None) -> bytes | None:
        return None

    def deserialize(self, data: bytes | None) -> list[Any] | None:
        # A key has no columns to fill; a value's null bytes still mean a tombstone.
        if data is None and not self.is_key:
            return None
        return []

    def from_test_value(self, value: Any) -> bytes | None:
        if value is None:
            return None
        return str(value).encode("utf-8")

    def bytes_to_test_value(self, data: bytes | None) -> Any:
        return None
