"""The record that flows through a query's operators."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from ksql_emulator.frozen import filled

__all__ = ["Record", "Window", "freeze", "make_record", "make_window", "with_row"]


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
        # A copy of the fields without `dataclasses.replace`'s per-field __init__ round trip
        # (several per record on the hot path); an unknown name still gets replace's error.
        if changes.keys() <= _RECORD_FIELDS:
            return filled(Record, {**self.__dict__, **changes})
        return replace(self, **changes)


_RECORD_FIELDS = frozenset(f.name for f in fields(Record))


def make_record(
    key: tuple[Any, ...],
    value: tuple[Any, ...] | None,
    timestamp: int,
    partition: int,
    offset: int,
    headers: tuple[tuple[str, bytes | None], ...],
    window: Window | None,
    tombstone: bool,
    null_key: bool,
) -> Record:
    """`Record(...)` with every field given, built as `frozen.filled` builds."""
    # As contracts.message.make_message: each field stored in the instance's dict.
    record = _new(Record)
    fields = record.__dict__
    fields["key"] = key
    fields["value"] = value
    fields["timestamp"] = timestamp
    fields["partition"] = partition
    fields["offset"] = offset
    fields["headers"] = headers
    fields["window"] = window
    fields["tombstone"] = tombstone
    fields["null_key"] = null_key
    return record


def make_window(start_ms: int, end_ms: int) -> Window:
    """`Window(start_ms, end_ms)` built as `make_record` builds: a window aggregate makes one
    for every row it emits, and a frozen dataclass's __init__ sets each field the slow way."""
    window = _new(Window)
    fields = window.__dict__
    fields["start_ms"] = start_ms
    fields["end_ms"] = end_ms
    return window


def with_row(record: Record, key: tuple[Any, ...], value: tuple[Any, ...] | None) -> Record:
    """`record.with_(key=key, value=value)` in one call: a projection makes one per record."""
    return make_record(
        key,
        value,
        record.timestamp,
        record.partition,
        record.offset,
        record.headers,
        record.window,
        record.tombstone,
        record.null_key,
    )


_new = object.__new__


def freeze(value: Any) -> Any:
    """A hashable stand-in for a key that may hold lists, maps or structs."""
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    if isinstance(value, dict):
        return tuple((k, freeze(v)) for k, v in value.items())
    return value
