"""Reads a topic message into a record whose value is the source's full row."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from ksql_emulator.errors import KsqlError, StreamsError
from ksql_emulator.runtime.message import Message
from ksql_emulator.runtime.record import Record, Window

__all__ = ["SourceOperator", "TimestampExtractor"]

log = logging.getLogger(__name__)

TimestampExtractor = Callable[[tuple[Any, ...], Message], int | None]


class SourceOperator:
    """Deserializes key and value, lays the row out as the query's scope expects it."""

    def __init__(
        self,
        key_serde: Any,
        value_serde: Any,
        layout: list[tuple[str, Any]],
        *,
        is_table: bool,
        timestamp: TimestampExtractor | None = None,
        throw_on_invalid_timestamp: bool = False,
    ) -> None:
        self.key_serde = key_serde
        self.value_serde = value_serde
        self.layout = layout
        self.is_table = is_table
        self.has_key = any(kind == "KEY" for kind, _ in layout)
        self.timestamp = timestamp
        self.throw_on_invalid_timestamp = throw_on_invalid_timestamp

    def decode(self, msg: Message) -> Record | None:
        try:
            key = self.key_serde.deserialize(msg.key)
            value = self.value_serde.deserialize(msg.value)
        except KsqlError as err:
            log.debug("dropping undecodable record at %s/%s: %s", msg.topic, msg.offset, err)
            return None
        key_t = tuple(key) if key is not None else ()
        if self.is_table and self.has_key and all(k is None for k in key_t):
            return None  # tables drop records without a key
        headers = dict(msg.headers)
        row: list[Any] = []
        window = Window(*msg.window) if msg.window else None
        for kind, ref in self.layout:
            if kind == "KEY":
                row.append(key_t[ref] if ref < len(key_t) else None)
            elif kind == "VALUE":
                row.append(value[ref] if value is not None and ref < len(value) else None)
            elif kind == "HEADER":
                if ref is None:
                    row.append([{"KEY": k, "VALUE": v} for k, v in msg.headers])
                else:
                    row.append(headers.get(ref))
            elif ref == "ROWTIME":
                row.append(msg.timestamp)
            elif ref == "ROWPARTITION":
                row.append(msg.partition)
            elif ref == "ROWOFFSET":
                row.append(msg.offset)
            elif ref == "WINDOWSTART":
                row.append(window.start_ms if window else None)
            elif ref == "WINDOWEND":
                row.append(window.end_ms if window else None)
            else:
                row.append(None)
        timestamp = msg.timestamp
        if self.timestamp is not None and value is not None:
            try:
                extracted = self.timestamp(tuple(row), msg)
            except Exception as err:
                extracted = None
                if self.throw_on_invalid_timestamp:
                    raise StreamsError(
                        "Fatal user code error in TimestampExtractor callback for record "
                        f"{msg.topic}-{msg.partition}-{msg.offset}: {err}"
                    ) from err
            if extracted is None or extracted < 0:
                if self.throw_on_invalid_timestamp:
                    raise StreamsError(
                        "Fatal user code error in TimestampExtractor callback for record "
                        f"{msg.topic}-{msg.partition}-{msg.offset}"
                    )
                return None
            timestamp = extracted
            for i, (kind, ref) in enumerate(self.layout):
                if kind == "PSEUDO" and ref == "ROWTIME":
                    row[i] = timestamp
        return Record(
            key_t,
            tuple(row),
            timestamp,
            msg.partition,
            msg.offset,
            msg.headers,
            window,
            tombstone=value is None,
            null_key=msg.key is None,
        )


def to_epoch_ms(value: Any) -> int | None:
    """A TIMESTAMP/BIGINT column value as epoch milliseconds."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return int(aware.timestamp() * 1000)
    return int(value)
