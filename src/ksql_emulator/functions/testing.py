"""UDFs that exist only in ksqlDB's test jar, which some QTT cases call; never in a server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ksql_emulator import sql_types as ty
from ksql_emulator.functions.registry import FunctionRegistry

__all__ = ["register"]


def _throws(_: Any) -> str:
    raise RuntimeError("boom!")


def _might_throw(should_throw: bool) -> int:
    if should_throw:
        raise RuntimeError("You asked me to throw...")
    return 0


def _every_other_null() -> Callable[[str], str | None]:
    calls = 0

    def every_other(arg: str) -> str | None:
        nonlocal calls
        calls += 1
        return None if calls % 2 == 1 else arg

    return every_other


def _when(value: Any, should_be_evaluated: bool) -> Any:
    if not should_be_evaluated:
        raise RuntimeError("This function should not have been evaluated")
    return value


def register(reg: FunctionRegistry) -> None:
    """Add the test-jar UDFs (BAD_UDF, WHENCONDITION, WHENRESULT) to `reg`."""
    add = reg.register
    cat = "TEST"
    add(
        "BAD_UDF",
        [ty.INTEGER],
        ty.STRING,
        _throws,
        category=cat,
        description="Throws exceptions when called (ksqlDB test jar).",
    )
    add("BAD_UDF", [ty.BOOLEAN], ty.INTEGER, _might_throw, category=cat)
    add("BAD_UDF", [ty.STRING], ty.STRING, _every_other_null, factory=True, category=cat)
    add(
        "WHENCONDITION",
        [ty.BOOLEAN, ty.BOOLEAN],
        ty.BOOLEAN,
        _when,
        category=cat,
        description="Fails when evaluated unless told it should be (ksqlDB test jar).",
    )
    add(
        "WHENRESULT",
        [ty.INTEGER, ty.BOOLEAN],
        ty.INTEGER,
        _when,
        category=cat,
        description="Fails when evaluated unless told it should be (ksqlDB test jar).",
    )
