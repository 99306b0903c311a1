"""JOIN: stream-stream joins within a time window, stream-table lookups."""

from __future__ import annotations

from typing import Any

from ksql_emulator.analysis.join_spec import JoinSpec
from ksql_emulator.runtime.operators.join_window import Match, WindowJoin
from ksql_emulator.runtime.record import Record, freeze

__all__ = ["JoinOperator"]


class JoinOperator:
    """Takes records from either side (`left`, `right`) and emits joined rows: the left row
    followed by the right row, nulls standing in for a missing side of an outer join."""

    def __init__(self, spec: JoinSpec) -> None:
        self.spec = spec
        self.table: dict[Any, tuple[Any, ...]] = {}
        self.left_table: dict[Any, tuple[Any, ...]] = {}
        self.emitted: set[Any] = set()
        self.fk_rows: dict[Any, tuple[Any, tuple[Any, ...]]] = {}
        self.left_nulls = (None,) * spec.left.width
        self.right_nulls = (None,) * spec.right.width
        self.window_join = WindowJoin(
            spec.before_ms or 0,
            spec.after_ms or 0,
            spec.grace_ms,
            spec.kind in ("LEFT", "FULL"),
            spec.kind in ("RIGHT", "FULL"),
        )
        # Per key, the rows of the table-table result last emitted (what its delete removes).
        self.last_joined: dict[Any, tuple[tuple[Any, ...], tuple[Any, ...]]] = {}

    def process(self, record: Record) -> list[Record]:
        return self.left(record)

    def _key(self, fn: Any, row: tuple[Any, ...]) -> Any:
        try:
            return fn(row)
        except Exception:
            return None

    @staticmethod
    def _lookup(raw: Any, record: Record) -> Any:
        """The key records match on: a windowed source's window is part of its key."""
        if raw is None:
            return None
        if record.window is not None:
            return (freeze(raw), record.window.start_ms, record.window.end_ms)
        return freeze(raw)

    def _keyed(self, record: Record, *, is_left: bool) -> tuple[tuple[Any, ...], Any, Any]:
        """A side's row, its join key value, and the key it is matched on (None: no match)."""
        assert record.value is not None
        row = tuple(record.value)
        side = self.spec.left if is_left else self.spec.right
        raw = self._key(side.key_fn, row)
        return row, raw, self._lookup(raw, record)

    def _stream_stream(self, record: Record, *, is_left: bool) -> list[Record]:
        if record.value is None or record.tombstone:
            return []
        row, raw, key = self._keyed(record, is_left=is_left)
        if key is None:
            return []
        return [
            self._from_match(record, m)
            for m in self.window_join.process(is_left, key, raw, row, record.timestamp)
        ]

    def _from_match(self, record: Record, m: Match) -> Record:
        left = m.left if m.left is not None else self.left_nulls
        right = m.right if m.right is not None else self.right_nulls
        return self._joined(record, m.raw_key, left, right, m.timestamp)

    def left(self, record: Record) -> list[Record]:
        if self.spec.table_table:
            return self._table_update(record, is_left=True)
        if not self.spec.stream_table:
            return self._stream_stream(record, is_left=True)
        if record.value is None or record.tombstone:
            return []
        row = tuple(record.value)
        raw = self._key(self.spec.left.key_fn, row)
        key = self._lookup(raw, record)
        outer = self.spec.kind in ("LEFT", "FULL")
        match = self.table.get(key) if key is not None else None
        if match is None:
            if not outer:
                return []
            return [self._joined(record, raw, row, self.right_nulls, record.timestamp)]
        return [self._joined(record, raw, row, match, record.timestamp)]

    def right(self, record: Record) -> list[Record]:
        if self.spec.table_table:
            return self._table_update(record, is_left=False)
        if not self.spec.stream_table:
            return self._stream_stream(record, is_left=False)
        if record.value is None:
            return []
        row = tuple(record.value)
        key = self._lookup(self._key(self.spec.right.key_fn, row), record)
        if record.tombstone:
            self.table.pop(key, None)
        elif key is not None:
            self.table[key] = row
        return []

    def _foreign_key_update(self, record: Record, *, is_left: bool) -> list[Record]:
        """Left rows join the right row their foreign key names; results keyed by left key."""
        assert record.value is not None and self.spec.left_pk_fn is not None
        row = tuple(record.value)
        out: list[Record] = []
        if is_left:
            pk = freeze(self._key(self.spec.left_pk_fn, row))
            if record.tombstone:
                # ksqlDB forwards every left-side delete of a foreign-key join.
                self.fk_rows.pop(pk, None)
                self.emitted.discard(pk)
                gone = self._joined(record, pk, row, self.right_nulls, record.timestamp)
                out.append(gone.with_(tombstone=True))
                return out
            fk = freeze(self._key(self.spec.left.key_fn, row))
            self.fk_rows[pk] = (fk, row)
            out += self._emit_fk(record, pk, row, fk)
            return out
        key = freeze(self._key(self.spec.right.key_fn, row))
        if record.tombstone:
            self.table.pop(key, None)
        else:
            self.table[key] = row
        for pk, (fk, left_row) in list(self.fk_rows.items()):
            if fk == key:
                out += self._emit_fk(record, pk, left_row, fk)
        return out

    def _emit_fk(self, record: Record, pk: Any, left: tuple[Any, ...], fk: Any) -> list[Record]:
        right = self.table.get(fk) if fk is not None else None
        if right is None and self.spec.kind == "INNER":
            if pk in self.emitted:
                self.emitted.discard(pk)
                gone = self._joined(record, pk, left, self.right_nulls, record.timestamp)
                return [gone.with_(tombstone=True)]
            return []
        self.emitted.add(pk)
        return [self._joined(record, pk, left, right or self.right_nulls, record.timestamp)]

    def _table_update(self, record: Record, *, is_left: bool) -> list[Record]:
        """Table-table join on both primary keys: each side's change re-joins that key."""
        if self.spec.foreign_key:
            return self._foreign_key_update(record, is_left=is_left)
        row, raw, key = self._keyed(record, is_left=is_left)
        if key is None:
            return []
        store = self.left_table if is_left else self.table
        if record.tombstone:
            store.pop(key, None)
        else:
            store[key] = row
        left = self.left_table.get(key)
        right = self.table.get(key)
        kind = self.spec.kind
        present = (
            left is not None and right is not None
            if kind == "INNER"
            else left is not None
            if kind == "LEFT"
            else right is not None
            if kind == "RIGHT"
            else left is not None or right is not None
        )
        if present:
            self.emitted.add(key)
            rows = (left or self.left_nulls, right or self.right_nulls)
            self.last_joined[key] = rows
            return [self._joined(record, raw, *rows, record.timestamp)]
        if key in self.emitted:
            self.emitted.discard(key)
            # The delete carries the row it removes, so a filter that let that row through
            # lets its delete through too.
            gone = self.last_joined.pop(key, None) or (
                left or (row if is_left else self.left_nulls),
                right or (self.right_nulls if is_left else row),
            )
            out = self._joined(record, raw, *gone, record.timestamp)
            return [out.with_(tombstone=True)]
        return []

    @staticmethod
    def _joined(
        record: Record, key: Any, left: tuple[Any, ...], right: tuple[Any, ...], ts: int
    ) -> Record:
        row = (*left, *right, key)
        return Record(
            (key,), row, ts, record.partition, record.offset, record.headers, record.window
        )
