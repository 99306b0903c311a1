"""A record as it sits in a topic: serialized key and value plus metadata."""

from __future__ import annotations

from dataclasses import dataclass

from ksql_emulator.frozen import filled

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
    # The parameters are the fields, named alike: the only locals at this point.
    return filled(Message, locals())
