"""HAVING: a group row that fails the predicate becomes a tombstone for its key."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ksql_emulator.runtime.record import Record, freeze

__all__ = ["HavingOperator"]


class HavingOperator:
    def __init__(self, predicate: Callable[[Sequence[Any]], Any]) -> None:
        self.predicate = predicate
        # Rows currently in the result: only their removal needs a tombstone.
        self.present: set[Any] = set()

    def process(self, record: Record) -> list[Record]:
        ident = (freeze(record.key), record.window.start_ms if record.window else None)
        if record.tombstone or record.value is None:
            self.present.discard(ident)
            return [record]
        try:
            keep = self.predicate(record.value) is True
        except Exception:
            keep = False
        if keep:
            self.present.add(ident)
            return [record]
        if ident in self.present:
            self.present.discard(ident)
            return [record.with_(tombstone=True)]
        return []
