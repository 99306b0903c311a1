"""Which of a table's rows are in a filtered result, so that leaving it is a delete.

Kafka Streams' KTable filter, with old values sent along (ksqlDB materializes its tables),
forwards a change when its new or its old row passes: a row that had passed leaves the result
as a delete, whether the source deleted it or its update no longer passes, and a delete of a
row that never passed is not forwarded. WHERE on a table and HAVING both filter this way.
"""

from __future__ import annotations

from typing import Any

from ksql_emulator.runtime.record import Record, freeze

__all__ = ["TableResult"]


class TableResult:
    def __init__(self) -> None:
        # Keys (with window start) whose latest row passed: the old value's verdict.
        self.present: set[Any] = set()

    def route(self, record: Record, passes: bool) -> list[Record]:
        """What goes downstream for `record`, given whether its new row passes (ignored for a
        delete)."""
        ident = (freeze(record.key), record.window.start_ms if record.window else None)
        if record.value is None or record.tombstone:
            if ident in self.present:
                self.present.discard(ident)
                return [record]
            return []
        if passes:
            self.present.add(ident)
            return [record]
        if ident in self.present:
            self.present.discard(ident)
            return [record.with_(tombstone=True)]
        return []
