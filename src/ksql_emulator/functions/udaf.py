"""What an aggregate function (UDAF) is to the engine: accumulator steps and a result type."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["AggregateFunction"]

_STREAM_ONLY = frozenset(
    {
        "MIN",
        "MAX",
        "COLLECT_SET",
        "COUNT_DISTINCT",
        "EARLIEST_BY_OFFSET",
        "LATEST_BY_OFFSET",
        "TOPK",
        "TOPKDISTINCT",
    }
)


def as_is(acc: Any) -> Any:
    """The `result` of a function whose accumulator is its value (COUNT, SUM, MIN, MAX)."""
    return acc


@dataclass(frozen=True)
class AggregateFunction:
    """One aggregate: `init()` a fresh accumulator, `add(acc, *args)` the next one,
    `result(acc)` the column value, `merge(a, b)` two accumulators (session windows merging).

    `intermediate` is False when the accumulator is a single primitive, so any value format can
    hold it; `limit_property` names the config that caps a collection's size. `json_native`:
    the accumulator holds only lists, strings, integers, booleans, nulls, Decimals and sets,
    never a tuple, a dict or a float, so a state store's changelog can write it in one call
    (`changelog_format.encode_native_tuple`)."""

    name: str
    return_type: Any
    init: Callable[[], Any]
    add: Callable[..., Any]
    result: Callable[[Any], Any]
    star: bool = False
    merge: Callable[[Any, Any], Any] | None = None
    intermediate: bool = False
    limit_property: str | None = None
    limit: int | None = None
    json_native: bool = False

    @property
    def table_capable(self) -> bool:
        """Whether a table's rows can feed it: a table replaces rows, so ksqlDB needs the
        function to take a row back out (its TableUdaf `undo`); these cannot."""
        return self.name not in _STREAM_ONLY

    def configured(self, props: Mapping[str, Any]) -> AggregateFunction:
        """This function with the limits `props` set (ksqlDB's default limit is 1000)."""
        if self.limit_property is None:
            return self
        raw = props.get(self.limit_property)
        return dataclasses.replace(self, limit=int(raw) if raw is not None else 1000)
