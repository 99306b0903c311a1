"""The record that flows through a query's operators."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

__all__ = ["Record", "Window", "freeze"]


@dataclass(frozen=True)
class Window:
    start_ms: int
    end_ms: int


@dataclass(frozen=True)
class Record:
    """One record: `key` and `value` are column values in schema order (value None: tombstone)."""

    key: tuple[Any, ...]
    value: tuple[Any, ...] | None
    timestamp: int
    partition: int = 0
    offset: int = 0
    headers: tuple[tuple[str, bytes | None], ...] = ()
    window: Window | None = None
    tombstone: bool = False  # a null value: `value` holds the row with only key columns set
    null_key: bool = False  # the record came without a key (not: a key whose columns are null)

    def with_(self, **changes: Any) -> Record:
        return replace(self, **changes)


def freeze(value: Any) -> Any:
    """A hashable stand-in for a key that may hold lists, maps or structs."""
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    if isinstance(value, dict):
        return tuple((k, freeze(v)) for k, v in value.items())
    return value
