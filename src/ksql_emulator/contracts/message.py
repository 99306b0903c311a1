"""A record as it sits in a topic: serialized key and value plus metadata."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Message", "make_message"]


@dataclass(frozen=True)
class Message:
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
    """`Message(...)` with every field given, built as `frozen.filled` builds."""
    # Each field stored in the new instance's dict, which costs half of filling it from
    # locals(): several messages are made for each record a query consumes.
    msg = _new(Message)
    fields = msg.__dict__
    fields["topic"] = topic
    fields["key"] = key
    fields["value"] = value
    fields["timestamp"] = timestamp
    fields["partition"] = partition
    fields["offset"] = offset
    fields["headers"] = headers
    fields["window"] = window
    return msg


_new = object.__new__
