"""Table functions: one input row becomes as many rows as the longest function result."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from ksql_emulator.analysis.table_functions import TableFunctionCall
from ksql_emulator.runtime.record import Record

__all__ = ["FlatMapOperator"]

log = logging.getLogger(__name__)


class FlatMapOperator:
    """Each output row is the input row plus one value per function; a function with fewer
    values than the longest gives null in the extra rows (ksqlDB's behaviour)."""

    def __init__(self, calls: Sequence[TableFunctionCall]) -> None:
        self.calls = list(calls)

    def process(self, record: Record) -> list[Record]:
        if record.tombstone or record.value is None:
            return []
        row = record.value
        results: list[list[Any]] = []
        for c in self.calls:
            try:
                values = c.call(*[f(row) for f in c.args])
            except Exception as err:  # ksqlDB logs a failing function; the row yields nothing
                log.debug("table function failed on a record: %s", err)
                values = []
            results.append(list(values or []))
        rows = max((len(r) for r in results), default=0)
        return [
            record.with_(value=(*row, *(r[i] if i < len(r) else None for r in results)))
            for i in range(rows)
        ]
