"""ksqlDB's table functions (EXPLODE, CUBE_EXPLODE): one input row in, zero or more rows out."""

from __future__ import annotations

from functools import lru_cache
from itertools import product
from typing import Any

from ksql_emulator import sql_types as ty
from ksql_emulator.functions.registry import FunctionRegistry
from ksql_emulator.functions.signatures import T

__all__ = ["table_registry"]


def _explode(items: list[Any] | None) -> list[Any]:
    return list(items) if items is not None else []


_CUBE_MAX_COLUMNS = 20


def _cube(items: list[Any] | None) -> list[list[Any]]:
    if items is None:
        return []
    if len(items) > _CUBE_MAX_COLUMNS:
        # 2^N rows: ksqlDB refuses inputs that would exhaust memory.
        raise ValueError(
            f"CUBE_EXPLODE input size ({len(items)}) exceeds the maximum of {_CUBE_MAX_COLUMNS} "
            "columns. The output cardinality is 2^N rows and would exhaust server memory."
        )
    # Every subset of the items kept in place, the rest nulled, in binary counting order
    # (cube.json: [null, null], [null, "two"], ["one", null], ["one", "two"]). Keeping a null
    # item is the same row as nulling it, so that row comes out once.
    return [
        [item if keep else None for item, keep in zip(items, mask, strict=True)]
        for mask in product((False, True), repeat=len(items))
        if not any(keep and item is None for item, keep in zip(items, mask, strict=True))
    ]


@lru_cache(maxsize=1)
def table_registry() -> FunctionRegistry:
    """Table functions resolved like scalars; `return_type` is one output row's type and
    `call` returns the list of output values (empty for a null or failing input)."""
    reg = FunctionRegistry()
    reg.register(
        "EXPLODE",
        [ty.ArrayType(T)],
        T,
        _explode,
        null_in_null_out=False,
        category="TABLE",
        description="One row per element of an array.",
    )
    reg.register(
        "CUBE_EXPLODE",
        [ty.ArrayType(T)],
        ty.ArrayType(T),
        _cube,
        null_in_null_out=False,
        category="TABLE",
        description="One row per combination of the array's elements kept or nulled.",
    )
    return reg
