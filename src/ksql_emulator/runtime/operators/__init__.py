"""One operator per module; each maps a record to zero or more records."""

from __future__ import annotations

from typing import Protocol

from ksql_emulator.runtime.record import Record

__all__ = ["Operator"]


class Operator(Protocol):
    def process(self, record: Record) -> list[Record]: ...
