"""WHERE: keeps the records whose predicate is true."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from ksql_emulator.runtime.operators.table_result import TableResult
from ksql_emulator.runtime.record import Record

__all__ = ["FilterOperator"]

log = logging.getLogger(__name__)


class FilterOperator:
    """On a stream, a record passes or is dropped. On a table (`table=True`) the filter works
    on changes, as `TableResult` describes: a row that stops passing leaves as a delete."""

    def __init__(self, predicate: Callable[[Sequence[Any]], Any], *, table: bool = False) -> None:
        self.predicate = predicate
        self.result = TableResult() if table else None

    def _passes(self, row: Sequence[Any] | None) -> bool:
        if row is None:
            return False
        try:
            return self.predicate(row) is True
        except Exception as err:  # ksqlDB logs the failure and filters the record out
            log.debug("filter failed on a record: %s", err)
            return False

    def passing(self, records: Sequence[Record | None]) -> list[bool]:
        """Whether `process` lets each of `records` (None: none) through, for a stream's
        filter, decided in one loop: a rule's filter drops nearly every record it sees."""
        assert self.result is None
        predicate = self.predicate
        try:
            return [
                r is not None
                and not r.tombstone
                and r.value is not None
                and predicate(r.value) is True
                for r in records
            ]
        except Exception:  # a record it fails on: each decided as `process` decides it
            return [r is not None and not r.tombstone and self._passes(r.value) for r in records]

    def may_pass(self, rows: Sequence[Sequence[Any] | None]) -> list[bool]:
        """For rows that hold only the columns the predicate reads (None: not known), whether
        each record might pass: False only where the predicate is surely not true."""
        predicate = self.predicate
        try:
            return [row is None or predicate(row) is True for row in rows]
        except Exception:  # decided on the whole record instead
            return [row is None or self._true_or_failing(row) for row in rows]

    def _true_or_failing(self, row: Sequence[Any]) -> bool:
        try:
            return self.predicate(row) is True
        except Exception:
            return True

    def process(self, record: Record) -> list[Record]:
        if self.result is not None:
            passes = not record.tombstone and self._passes(record.value)
            return self.result.route(record, passes)
        if record.tombstone or record.value is None:
            return []
        return [record] if self._passes(record.value) else []
