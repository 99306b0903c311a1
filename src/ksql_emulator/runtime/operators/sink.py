"""Writes records to the sink topic in the sink's key and value formats."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from ksql_emulator.contracts.message import Message, make_message
from ksql_emulator.errors import KsqlError
from ksql_emulator.runtime.record import Record

__all__ = ["SinkOperator"]

log = logging.getLogger(__name__)


class SinkOperator:
    def __init__(
        self,
        topic: str,
        key_serde: Any,
        value_serde: Any,
        timestamp: Callable[[Record], int | None] | None = None,
    ) -> None:
        self.topic = topic
        self.key_serde = key_serde
        self.value_serde = value_serde
        self.timestamp = timestamp

    def encode(
        self, record: Record, fold: Callable[[bytes, int, int], bytes] | None = None
    ) -> Message | None:
        """The record as a message; `fold` (the Kafka layer's, for a windowed sink) writes the
        window into the key bytes, as the topic holds it, where the message would carry it
        beside the key."""
        ts = record.timestamp
        if self.timestamp is not None and record.value is not None:
            extracted = self.timestamp(record)
            if extracted is None or extracted < 0:
                return None
            ts = extracted
        window = (record.window.start_ms, record.window.end_ms) if record.window else None
        return self.message(
            record.key,
            record.value,
            ts,
            window,
            record.headers,
            fold,
            keyless=record.null_key,
        )

    def message(
        self,
        key: tuple[Any, ...],
        value: tuple[Any, ...] | None,
        timestamp: int,
        window: tuple[int, int] | None = None,
        headers: tuple[tuple[str, bytes | None], ...] = (),
        fold: Callable[[bytes, int, int], bytes] | None = None,
        *,
        keyless: bool = False,
    ) -> Message | None:
        """The message of a record with these columns (`keyless`: it came without a key), or
        None when they cannot be written in the sink's formats (logged, dropped)."""
        try:
            key_bytes = self.key_serde.serialize(list(key)) if key and not keyless else None
            value_bytes = self.value_serde.serialize(list(value)) if value is not None else None
        except KsqlError as err:
            log.debug("dropping unencodable record for %s: %s", self.topic, err)
            return None
        if fold is not None and window is not None and key_bytes is not None:
            key_bytes = fold(key_bytes, *window)
            window = None
        return make_message(self.topic, key_bytes, value_bytes, timestamp, 0, 0, headers, window)
