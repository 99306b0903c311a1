"""ksqlDB's map built-ins and the lambda functions over maps (map.json, transform-map.json)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ksql_emulator import sql_types as ty
from ksql_emulator.functions.registry import FunctionRegistry
from ksql_emulator.functions.signatures import Generic, K, LambdaParam, T, V

__all__ = ["register"]

S_ = ty.STRING
MAP_KV = ty.MapType(K, V)
K2, V2, STATE = Generic("K2"), Generic("V2"), Generic("S")


def _as_map(keys: list[Any], values: list[Any]) -> dict[Any, Any]:
    return {k: (values[i] if i < len(values) else None) for i, k in enumerate(keys)}


def _entries(m: dict[str, Any], sort: bool) -> list[dict[str, Any]]:
    keys = sorted(m) if sort else list(m)
    return [{"K": k, "V": m[k]} for k in keys]


def _entries_type(types: list[ty.SqlType | None]) -> ty.SqlType:
    m = types[0]
    value = m.value if isinstance(m, ty.MapType) and m.value is not None else ty.STRING
    return ty.ArrayType(ty.StructType((("K", ty.STRING), ("V", value))))


def _union(*maps: dict[Any, Any] | None) -> dict[Any, Any] | None:
    present = [m for m in maps if m is not None]
    if not present:
        return None
    out: dict[Any, Any] = {}
    for m in present:
        out.update(m)
    return out


def _transform(
    m: dict[Any, Any], kf: Callable[[Any, Any], Any], vf: Callable[[Any, Any], Any]
) -> dict[Any, Any]:
    return {kf(k, v): vf(k, v) for k, v in m.items()}


def _filter(m: dict[Any, Any], fn: Callable[[Any, Any], Any]) -> dict[Any, Any]:
    return {k: v for k, v in m.items() if fn(k, v) is True}


def _reduce(m: dict[Any, Any] | None, state: Any, fn: Callable[[Any, Any, Any], Any]) -> Any:
    if state is None:
        # ksqlDB's Reduce: no initial state, no result, whatever the collection holds.
        return None
    if m is None:
        return state
    for k, v in m.items():
        state = fn(state, k, v)
    return state


def register(reg: FunctionRegistry) -> None:
    """Add the map functions to `reg`."""
    add = reg.register
    cat = "MAP"
    add(
        "AS_MAP",
        [ty.ArrayType(S_), ty.ArrayType(T)],
        ty.MapType(S_, T),
        _as_map,
        category=cat,
        description="A map from an array of keys and an array of values.",
    )
    add(
        "MAP_KEYS",
        [MAP_KV],
        ty.ArrayType(K),
        lambda m: list(m),
        category=cat,
        description="The keys of a map.",
    )
    add(
        "MAP_VALUES",
        [MAP_KV],
        ty.ArrayType(V),
        lambda m: list(m.values()),
        category=cat,
        description="The values of a map.",
    )
    add(
        "MAP_UNION",
        [MAP_KV, MAP_KV],
        MAP_KV,
        _union,
        null_in_null_out=False,
        category=cat,
        description="Both maps merged; the second wins on equal keys.",
    )
    add(
        "ENTRIES",
        [ty.MapType(S_, T), ty.BOOLEAN],
        _entries_type,
        _entries,
        category=cat,
        description="A map's entries as an array of STRUCT<K, V>, optionally sorted by key.",
    )
    add(
        "TRANSFORM",
        [MAP_KV, LambdaParam((K, V), K2), LambdaParam((K, V), V2)],
        ty.MapType(K2, V2),
        _transform,
        category="LAMBDA",
    )
    add("FILTER", [MAP_KV, LambdaParam((K, V), ty.BOOLEAN)], MAP_KV, _filter, category="LAMBDA")
    add(
        "REDUCE",
        [MAP_KV, STATE, LambdaParam((STATE, K, V), STATE)],
        STATE,
        _reduce,
        null_in_null_out=False,
        category="LAMBDA",
    )
