"""The rows a pull query returns, read from its source's topic.

A table's state is its topic's latest record per key (and window); a tombstone, or a record
the query's WHERE clause drops, leaves no row. Rows come out as ksqlDB's stores hand them out:
a scan goes partition by partition, keys by their serialized bytes, windows by start; a key
lookup returns the keys in the order the WHERE clause names them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ksql_emulator.contracts.message import Message
from ksql_emulator.runtime.record import freeze
from ksql_emulator.runtime.topology import RunningQuery
from ksql_emulator.service.pull import KeyLookup

__all__ = ["stream_rows", "table_rows"]


@dataclass(frozen=True)
class _Entry:
    partition: int
    key_bytes: bytes
    window_start: int
    key: Any


def table_rows(
    messages: Iterable[Message], pipeline: RunningQuery, lookup: KeyLookup | None
) -> list[list[Any]]:
    decode = pipeline.inputs[0][1]
    latest: dict[_Entry, list[Any] | None] = {}
    for msg in messages:
        record = decode.decode(msg)
        if record is None:
            continue
        produced = [
            list(r.value) for r in pipeline.records(msg) if r.value is not None and not r.tombstone
        ]
        window_start = record.window.start_ms if record.window else 0
        entry = _Entry(msg.partition, msg.key or b"", window_start, freeze(record.key))
        latest[entry] = produced[0] if produced else None
    if lookup is None:
        ordered = sorted(latest, key=lambda e: (e.partition, e.key_bytes, e.window_start))
    else:
        by_key: dict[Any, list[_Entry]] = {}
        for entry in latest:
            by_key.setdefault(entry.key, []).append(entry)
        ordered = [
            entry
            for key in lookup.keys
            for entry in sorted(by_key.get(freeze(key), []), key=lambda e: e.window_start)
        ]
    return [row for e in ordered if (row := latest[e]) is not None]


def stream_rows(messages: Iterable[Message], pipeline: RunningQuery) -> list[list[Any]]:
    """A stream's rows in each partition's order, partition after partition."""
    ordered = sorted(messages, key=lambda m: (m.partition, m.offset))
    return [
        list(r.value)
        for msg in ordered
        for r in pipeline.records(msg)
        if r.value is not None and not r.tombstone
    ]
