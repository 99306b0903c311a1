"""Windowed keys as they sit in Kafka, as Kafka Streams' windowed serdes write them.

The runtime carries a record's window beside its key (`Message.window`); in a topic the window
is part of the key bytes, so that any ksqlDB client reads the same records: a time window
(tumbling, hopping) appends its start, a session window its end and then its start, each an
8-byte big-endian long. A time window's end is not stored: readers add the window size.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

from ksql_emulator.contracts.message import Message, make_message

__all__ = ["Windowing", "folder", "from_wire", "to_wire"]

_LONG = struct.Struct(">q")
_TWO_LONGS = struct.Struct(">qq")


@dataclass(frozen=True)
class Windowing:
    """How a windowed source's keys are laid out: its window type and (time windows) size."""

    kind: str
    size_ms: int | None = None

    @property
    def session(self) -> bool:
        return self.kind.upper() == "SESSION"


def folder(windowing: Windowing) -> Callable[[bytes, int, int], bytes]:
    """`(key bytes, window start, window end) -> the key as a windowed topic holds it`."""
    if windowing.session:
        return lambda key, start, end: key + _TWO_LONGS.pack(end, start)
    return lambda key, start, _end: key + _LONG.pack(start)


def to_wire(msg: Message, windowing: Windowing | None) -> Message:
    """`msg` with its window folded into its key bytes, as a windowed sink topic holds it."""
    if windowing is None or msg.window is None or msg.key is None:
        return msg
    start, end = msg.window
    return _rekeyed(msg, folder(windowing)(msg.key, start, end), None)


def from_wire(msg: Message, windowing: Windowing | None) -> Message:
    """`msg` read from a windowed topic: its key bytes split into key and window."""
    if windowing is None or msg.window is not None or msg.key is None:
        return msg
    key = msg.key
    if windowing.session:
        if len(key) < _TWO_LONGS.size:
            return msg
        end, start = _TWO_LONGS.unpack(key[-_TWO_LONGS.size :])
        return _rekeyed(msg, key[: -_TWO_LONGS.size], (start, end))
    if len(key) < _LONG.size:
        return msg
    (start,) = _LONG.unpack(key[-_LONG.size :])
    size = windowing.size_ms
    # Kafka Streams' TimeWindowedDeserializer without a size ends the window at Long.MAX_VALUE.
    end = start + size if size is not None else 2**63 - 1
    return _rekeyed(msg, key[: -_LONG.size], (start, end))


def _rekeyed(msg: Message, key: bytes, window: tuple[int, int] | None) -> Message:
    # Not dataclasses.replace: this runs for every windowed record.
    return make_message(
        msg.topic, key, msg.value, msg.timestamp, msg.partition, msg.offset, msg.headers, window
    )
