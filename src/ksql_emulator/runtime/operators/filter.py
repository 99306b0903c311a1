"""WHERE: keeps the records whose predicate is true."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from ksql_emulator.runtime.record import Record

__all__ = ["FilterOperator"]

log = logging.getLogger(__name__)


class FilterOperator:
    def __init__(self, predicate: Callable[[Sequence[Any]], Any]) -> None:
        self.predicate = predicate

    def process(self, record: Record) -> list[Record]:
        if record.tombstone or record.value is None:
            return []
        try:
            keep = self.predicate(record.value) is True
        except Exception as err:  # ksqlDB logs the failure and filters the record out
            log.debug("filter failed on a record: %s", err)
            return []
        return [record] if keep else []
