"""COALESCE, IFNULL, NULLIF: the null-handling built-ins (null.json, case-expression.json)."""

from __future__ import annotations

from typing import Any

from ksql_emulator.functions.registry import FunctionRegistry
from ksql_emulator.functions.signatures import T

__all__ = ["register"]


def _coalesce(*values: Any) -> Any:
    for v in values:
        if v is not None:
            return v
    return None


def _ifnull(value: Any, fallback: Any) -> Any:
    return fallback if value is None else value


def _nullif(a: Any, b: Any) -> Any:
    return None if a is not None and a == b else a


def register(reg: FunctionRegistry) -> None:
    """Add the conditional functions to `reg`."""
    add = reg.register
    cat = "CONDITIONAL"
    add(
        "COALESCE",
        [T, T],
        T,
        _coalesce,
        variadic=True,
        null_in_null_out=False,
        java_name="COALESCE",
        category=cat,
        description="The first non-null argument.",
    )
    add(
        "IFNULL",
        [T, T],
        T,
        _ifnull,
        null_in_null_out=False,
        category=cat,
        description="The first argument, or the second when the first is null.",
    )
    add(
        "NULLIF",
        [T, T],
        T,
        _nullif,
        null_in_null_out=False,
        category=cat,
        description="Null when both arguments are equal, else the first.",
    )
