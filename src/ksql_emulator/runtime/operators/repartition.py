"""PARTITION BY: computes the record's new key from its row."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ksql_emulator.runtime.record import Record

__all__ = ["RepartitionOperator"]


class RepartitionOperator:
    def __init__(
        self, key_fns: list[Callable[[Sequence[Any]], Any]], key_only: list[bool] | None = None
    ) -> None:
        self.key_fns = key_fns
        self.key_only = key_only or [False] * len(key_fns)

    def process(self, record: Record) -> list[Record]:
        row = record.value
        assert row is not None
        if record.tombstone:
            # A tombstone has no value columns: only expressions over key columns survive.
            key = tuple(
                _or_null(f, row) if only else None
                for f, only in zip(self.key_fns, self.key_only, strict=True)
            )
            return [record.with_(key=key, null_key=False)]
        return [record.with_(key=tuple(_or_null(f, row) for f in self.key_fns), null_key=False)]


def _or_null(f: Callable[[Sequence[Any]], Any], row: Sequence[Any]) -> Any:
    # A tombstone's row has only its key columns: expressions over values come out null.
    try:
        return f(row)
    except Exception:
        return None
