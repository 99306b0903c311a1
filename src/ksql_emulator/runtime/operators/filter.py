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

    def __init__(
        self,
        predicate: Callable[[Sequence[Any]], Any],
        *,
        table: bool = False,
        screen: Callable[[Sequence[Any]], Any] | None = None,
    ) -> None:
        self.predicate = predicate
        self.result = TableResult() if table else None
        # The predicate over only the columns it reads (`analysis.WhereScreen`), if any.
        self.screen = screen

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

    def may_pass(self, values: Sequence[Sequence[Any] | None]) -> list[bool]:
        """Given the values of the columns `screen` reads (None: not known), whether each
        record might pass: False only where the predicate is surely not true."""
        screen = self.screen
        assert screen is not None
        try:
            return [v is None or screen(v) is True for v in values]
        except Exception:  # decided on the whole record instead
            return [v is None or _true_or_failing(screen, v) for v in values]

    def process(self, record: Record) -> list[Record]:
        if self.result is not None:
            passes = not record.tombstone and self._passes(record.value)
            return self.result.route(record, passes)
        if record.tombstone or record.value is None:
            return []
        return [record] if self._passes(record.value) else []


def _true_or_failing(predicate: Callable[[Sequence[Any]], Any], values: Sequence[Any]) -> bool:
    try:
        return predicate(values) is True
    except Exception:
        return True
