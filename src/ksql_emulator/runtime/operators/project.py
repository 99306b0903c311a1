"""SELECT: turns a full row into the sink's key and value columns."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any

from ksql_emulator.runtime.record import Record, with_row

__all__ = ["ProjectOperator"]

log = logging.getLogger(__name__)

Fn = Callable[[Sequence[Any]], Any]


def _null_on_error(row: Sequence[Any], f: Fn) -> Any:
    # ksqlDB logs an expression that fails on a record and writes null for that column.
    try:
        return f(row)
    except Exception as err:
        log.debug("expression failed on a record: %s", err)
        return None


class ProjectOperator:
    def __init__(
        self,
        key_fns: list[Fn],
        value_fns: list[Fn],
        repartitioned: bool = False,
        transient: bool = False,
        value_columns: Sequence[int | None] = (),
    ) -> None:
        """`value_columns`: the row position each value expression reads when it is a column
        as it is (None where it is not)."""
        self.repartitioned = repartitioned
        self.transient = transient
        self.key_fns = key_fns
        self.value_fns = value_fns
        # Values that are all columns (a window table's: the group key, its aggregates and
        # window bounds, for every record of a window rule) are taken in one C call.
        columns = [c for c in value_columns if c is not None]
        self._take: Callable[[Sequence[Any]], Any] | None = (
            itemgetter(*columns)
            if len(columns) == len(value_fns) == len(value_columns) and len(columns) > 1
            else None
        )

    def process(self, record: Record) -> list[Record]:
        row = record.value
        assert row is not None
        if record.tombstone and self.transient:
            value = tuple(_null_on_error(row, f) for f in self.value_fns)
            return [record.with_(value=value)]
        if record.tombstone and self.repartitioned:
            return [record.with_(value=None)]
        if record.tombstone:
            return [record.with_(key=self._key(row), value=None)]
        key, value = self.columns(row)
        return [with_row(record, key, value)]

    def columns(self, row: Sequence[Any]) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        """The key and value columns of `row`; an expression that fails on it is null."""
        key = self._key(row)
        take = self._take
        try:
            value = take(row) if take is not None else tuple([f(row) for f in self.value_fns])
        except Exception:
            value = tuple(_null_on_error(row, f) for f in self.value_fns)
        return key, value

    def _key(self, row: Sequence[Any]) -> tuple[Any, ...]:
        # Lists, not generators, inside tuple(): the same values, a good deal faster per row.
        try:
            return tuple([f(row) for f in self.key_fns])
        except Exception:
            return tuple(_null_on_error(row, f) for f in self.key_fns)
