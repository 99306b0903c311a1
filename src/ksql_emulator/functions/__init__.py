"""ksqlDB's built-in functions: the scalar registry, the test-jar extras, table functions."""

from __future__ import annotations

from functools import lru_cache

from ksql_emulator.errors import FunctionArgumentError, UnknownFunctionError
from ksql_emulator.functions import (
    arrays,
    conditional,
    date_functions,
    encoding,
    geo,
    json_functions,
    maps,
    math_functions,
    misc,
    regex,
    strings,
    testing,
    urls,
)
from ksql_emulator.functions.registry import FunctionRegistry
from ksql_emulator.functions.signatures import FunctionInfo, LambdaType, ResolvedFunction
from ksql_emulator.functions.table import table_registry

__all__ = [
    "FunctionArgumentError",
    "FunctionInfo",
    "FunctionRegistry",
    "LambdaType",
    "ResolvedFunction",
    "UnknownFunctionError",
    "build_registry",
    "default_registry",
    "qtt_registry",
    "table_registry",
]

_FAMILIES = (
    strings,
    regex,
    encoding,
    urls,
    math_functions,
    date_functions,
    json_functions,
    geo,
    arrays,
    maps,
    conditional,
    misc,
)


def build_registry() -> FunctionRegistry:
    """A fresh registry holding every built-in."""
    reg = FunctionRegistry()
    for family in _FAMILIES:
        family.register(reg)
    return reg


@lru_cache(maxsize=1)
def default_registry() -> FunctionRegistry:
    """The shared registry of built-ins (read-only by convention)."""
    return build_registry()


@lru_cache(maxsize=1)
def qtt_registry() -> FunctionRegistry:
    """The built-ins plus the UDFs of ksqlDB's test jar that QTT cases call (BAD_UDF...)."""
    reg = build_registry()
    testing.register(reg)
    return reg
