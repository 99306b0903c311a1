"""Reads a topic message into a record whose value is the source's full row."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Collection, Sequence
from operator import itemgetter
from typing import Any

from ksql_emulator.contracts.message import Message
from ksql_emulator.errors import KsqlError, StreamsError
from ksql_emulator.runtime.record import Record, Window, make_record

__all__ = ["SourceOperator", "TimestampExtractor"]

log = logging.getLogger(__name__)

TimestampExtractor = Callable[[tuple[Any, ...], Message], int | None]
RowGetter = Callable[[tuple[Any, ...]], tuple[Any, ...]]
ColumnsReader = Callable[[Sequence[Message]], list[tuple[Any, ...] | None]]

# Pseudo columns' places after the key and value columns in the flat tuple `_row_getter` reads.
_PSEUDO = ("ROWTIME", "ROWPARTITION", "ROWOFFSET", "WINDOWSTART", "WINDOWEND")
# Records in a row the pruner could not read before records are decoded whole again.
_GIVE_UP_PRUNING = 1000


def _width(serde: Any) -> int | None:
    schema = getattr(serde, "schema", None)
    return len(schema) if schema is not None else None


def _row_getter(
    layout: list[tuple[str, Any]], key_width: int | None, value_width: int | None
) -> RowGetter | None:
    """The layout as one itemgetter over key + value + pseudo columns (+ a trailing None for
    what nothing fills): a row costs one C call instead of a Python step per column. None when
    the layout reads headers or a serde's width is unknown: the general loop serves those."""
    if key_width is None or value_width is None:
        return None
    pseudo_at = key_width + value_width
    none_at = pseudo_at + len(_PSEUDO)
    indices: list[int] = []
    for kind, ref in layout:
        if kind == "KEY":
            indices.append(ref if ref < key_width else none_at)
        elif kind == "VALUE":
            indices.append(key_width + ref if ref < value_width else none_at)
        elif kind == "HEADER":
            return None
        elif ref in _PSEUDO:
            indices.append(pseudo_at + _PSEUDO.index(ref))
        else:
            indices.append(none_at)
    if not indices:
        return lambda _flat: ()
    if len(indices) == 1:
        only = indices[0]
        return lambda flat: (flat[only],)
    getter: RowGetter = itemgetter(*indices)
    return getter


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
        int_timestamp_at: int | None = None,
    ) -> None:
        self.key_serde = key_serde
        self.value_serde = value_serde
        self.layout = layout
        self.is_table = is_table
        self.has_key = any(kind == "KEY" for kind, _ in layout)
        self.timestamp = timestamp
        self.throw_on_invalid_timestamp = throw_on_invalid_timestamp
        # Where `timestamp` reads the row when an int there is the answer as it is: the usual
        # BIGINT column is then read without calling the extractor.
        self._int_timestamp_at = int_timestamp_at
        self._key_width = _width(key_serde)
        self._value_width = _width(value_serde)
        self._null_value = (None,) * (self._value_width or 0)
        self._row = _row_getter(layout, self._key_width, self._value_width)
        self._rowtime_at = [
            i for i, (kind, ref) in enumerate(layout) if kind == "PSEUDO" and ref == "ROWTIME"
        ]
        # The last message decoded and its record, as one tuple: stream threads may share
        # the operator, and a tuple is replaced whole. Likewise the last list of messages
        # decoded together and their records.
        self._memo: tuple[Message | None, Record | None] = (None, None)
        self._batch_memo: tuple[Sequence[Message] | None, list[Record | None]] = (None, [])
        # How a message's value becomes its columns: decoded whole, until the queries given
        # this operator say which columns they read (`read_only`).
        self._value: Callable[[bytes | None], list[Any] | None] = value_serde.deserialize
        self._reads: set[int] | None = set()

    def read_only(self, positions: Collection[int] | None) -> None:
        """Says that a query given this operator reads only the row positions `positions`
        (None: every column, or it cannot say). Each query that shares the operator says so
        before it is offered a message; records then leave out (as null) the value columns
        none of them reads, where the value format can skip them (`Serde.pruner`)."""
        if self._reads is None:
            return
        if positions is None or self.is_table:
            self._reads = None  # a table's rows are kept whole, for its changes to undo them
            self._value = self.value_serde.deserialize
            return
        self._reads |= {
            ref for kind, ref in map(self.layout.__getitem__, positions) if kind == "VALUE"
        }
        pruner = getattr(self.value_serde, "pruner", None)
        prune = pruner(self._reads) if pruner is not None else None
        self._value = self.value_serde.deserialize if prune is None else self._pruning(prune)

    def _pruning(
        self, prune: Callable[[bytes], list[Any] | None]
    ) -> Callable[[bytes | None], list[Any] | None]:
        deserialize: Callable[[bytes | None], list[Any] | None] = self.value_serde.deserialize
        misses = 0

        def value(data: bytes | None) -> list[Any] | None:
            nonlocal misses
            if data is not None:
                row = prune(data)
                if row is not None:
                    misses = 0
                    return row
                misses += 1
                if misses >= _GIVE_UP_PRUNING:
                    # Records the pruner cannot read (fields spelled in another case, most
                    # likely): no more asking it.
                    log.debug("%d records in a row not read by exact names: decoding whole", misses)
                    self._value = deserialize
            return deserialize(data)

        return value

    def decode(self, msg: Message) -> Record | None:
        # Queries that read one stream the same way share this operator (see
        # topology.build_query) and are offered each message in turn: the first builds its
        # record, the others get that record (records are immutable).
        memo = self._memo
        if memo[0] is msg:
            return memo[1]
        record = self._decode(msg)
        self._memo = (msg, record)
        return record

    def decode_all(self, msgs: Sequence[Message]) -> list[Record | None]:
        """`decode` for each of `msgs`. A stream thread offers each reader of a topic the
        same list of a batch's messages: the first reader decodes them, the others get the
        same records. The list must not change once offered."""
        memo = self._batch_memo
        if memo[0] is msgs:
            return memo[1]
        decode = self._decode
        records = [decode(msg) for msg in msgs]
        self._batch_memo = (msgs, records)
        return records

    def columns_reader(self, positions: Sequence[int]) -> ColumnsReader | None:
        """A reader of just the value columns at `positions` of the layout, for a WHERE that
        reads nothing else: per message, their values as `decode` would lay them out, or None
        where the record must be decoded whole to tell (the value format cannot read those
        columns alone, or not in this record). None when records cannot be judged this way at
        all: a table (its filter deletes) or a source whose bad timestamps stop the query."""
        if self.is_table or self.throw_on_invalid_timestamp:
            return None
        if any(self.layout[p][0] != "VALUE" for p in positions):
            return None
        peeker = getattr(self.value_serde, "peeker", None)
        peek = peeker([self.layout[p][1] for p in positions]) if peeker is not None else None
        if peek is None:
            return None

        def read(msgs: Sequence[Message]) -> list[tuple[Any, ...] | None]:
            return [None if msg.value is None else peek(msg.value) for msg in msgs]

        return read

    def _decode(self, msg: Message) -> Record | None:
        try:
            key = self.key_serde.deserialize(msg.key)
            value = self._value(msg.value)
        except KsqlError as err:
            log.debug("dropping undecodable record at %s/%s: %s", msg.topic, msg.offset, err)
            return None
        key_t = tuple(key) if key is not None else ()
        if self.is_table and self.has_key and all(k is None for k in key_t):
            return None  # tables drop records without a key
        window = Window(*msg.window) if msg.window else None
        if (
            self._row is not None
            and len(key_t) == self._key_width
            and (value is None or len(value) == self._value_width)
        ):
            row = self._row(
                (
                    *key_t,
                    *(self._null_value if value is None else value),
                    msg.timestamp,
                    msg.partition,
                    msg.offset,
                    window.start_ms if window else None,
                    window.end_ms if window else None,
                    None,
                )
            )
        else:
            row = self._general_row(msg, key_t, value, window)
        timestamp = msg.timestamp
        if self.timestamp is not None and value is not None:
            at = self._int_timestamp_at
            extracted = row[at] if at is not None and at < len(row) else None
            if type(extracted) is not int:
                try:
                    extracted = self.timestamp(row, msg)
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
            if self._rowtime_at and extracted != msg.timestamp:
                cells = list(row)
                for i in self._rowtime_at:
                    cells[i] = timestamp
                row = tuple(cells)
        return make_record(
            key_t,
            row,
            timestamp,
            msg.partition,
            msg.offset,
            msg.headers,
            window,
            value is None,
            msg.key is None,
        )

    def _general_row(
        self, msg: Message, key_t: tuple[Any, ...], value: Any, window: Window | None
    ) -> tuple[Any, ...]:
        """Any layout (headers too) and any key or value width, one column at a time."""
        headers = dict(msg.headers)
        row: list[Any] = []
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
        return tuple(row)


def to_epoch_ms(value: Any) -> int | None:
    """A TIMESTAMP/BIGINT column value as epoch milliseconds."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return int(aware.timestamp() * 1000)
    return int(value)
