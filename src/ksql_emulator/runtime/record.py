"""The record that flows through a query's operators."""

from __future__ import annotations

from typing import Any, NamedTuple

__all__ = ["Record", "Window", "freeze", "make_record", "make_window", "with_row"]


class Window(NamedTuple):
    start_ms: int
    end_ms: int


class Record(NamedTuple):
    """One record: `key` and `value` are column values in schema order (value None: tombstone).

    A named tuple, as `Message` is: every operator makes records (a transaction through the
    rules, a dozen), and a tuple is made in a third of a frozen dataclass's time, with no
    dictionary beside it for the garbage collector to track."""

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
        """This record with the named fields changed."""
        return self._replace(**changes)


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
    """`Record(...)` with every field given, without the keyword handling of its constructor."""
    return _new(
        Record, (key, value, timestamp, partition, offset, headers, window, tombstone, null_key)
    )


def make_window(start_ms: int, end_ms: int) -> Window:
    """`Window(start_ms, end_ms)` built as `make_record` builds."""
    return _new(Window, (start_ms, end_ms))


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


_new = tuple.__new__


def freeze(value: Any) -> Any:
    """A hashable stand-in for a key that may hold lists, maps or structs."""
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    if isinstance(value, dict):
        return tuple((k, freeze(v)) for k, v in value.items())
    return value
