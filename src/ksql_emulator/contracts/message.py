"""A record as it sits in a topic: serialized key and value plus metadata."""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["Message", "make_message"]


class Message(NamedTuple):
    """Immutable, as a record read from a topic is. A named tuple rather than a frozen
    dataclass: a stream thread makes one for every record it reads and every record a query
    writes (a dozen for each transaction through the rules), and a tuple is made in a third of
    the time, its fields read as fast."""

    topic: str
    key: bytes | None
    value: bytes | None
    timestamp: int
    partition: int = 0
    offset: int = 0
    headers: tuple[tuple[str, bytes | None], ...] = ()
    window: tuple[int, int] | None = None


def make_message(
    topic: str,
    key: bytes | None,
    value: bytes | None,
    timestamp: int,
    partition: int,
    offset: int,
    headers: tuple[tuple[str, bytes | None], ...],
    window: tuple[int, int] | None = None,
) -> Message:
    """`Message(...)` with every field given, without the keyword handling of its constructor."""
    return _new(Message, (topic, key, value, timestamp, partition, offset, headers, window))


_new = tuple.__new__
