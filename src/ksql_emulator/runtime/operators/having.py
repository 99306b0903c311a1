"""HAVING: a group row that fails the predicate becomes a tombstone for its key."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ksql_emulator.runtime.operators.table_result import TableResult
from ksql_emulator.runtime.record import Record

__all__ = ["HavingOperator"]


class HavingOperator:
    def __init__(self, predicate: Callable[[Sequence[Any]], Any]) -> None:
        self.predicate = predicate
        self.result = TableResult()

    def process(self, record: Record) -> list[Record]:
        passes = False
        if not record.tombstone and record.value is not None:
            try:
                passes = self.predicate(record.value) is True
            except Exception:
                passes = False
        return self.result.route(record, passes)
