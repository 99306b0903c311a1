"""Aggregate functions (UDAFs): result types and accumulators, as a table by name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ksql_emulator import types as ty
from ksql_emulator.errors import FunctionArgumentError

__all__ = ["AGGREGATES", "AggregateFunction", "resolve_aggregate"]


@dataclass(frozen=True)
class AggregateFunction:
    """One aggregate: `init()` a fresh accumulator, `add(acc, *args)` the next one,
    `result(acc)` the column value."""

    name: str
    return_type: Any
    init: Callable[[], Any]
    add: Callable[..., Any]
    result: Callable[[Any], Any]
    star: bool = False


def _count(arg_types: list[Any], star: bool) -> AggregateFunction:
    if star or not arg_types:
        return AggregateFunction("COUNT", ty.BIGINT, lambda: 0, lambda acc: acc + 1, _same, True)
    return AggregateFunction(
        "COUNT", ty.BIGINT, lambda: 0, lambda acc, v: acc + (v is not None), _same
    )


def _same(acc: Any) -> Any:
    return acc


def _sum(arg_types: list[Any], star: bool) -> AggregateFunction:
    t = _one_numeric("SUM", arg_types)
    zero: Any = Decimal(0) if isinstance(t, ty.DecimalType) else 0.0 if t == ty.DOUBLE else 0
    return AggregateFunction(
        "SUM", t, lambda: zero, lambda acc, v: acc if v is None else acc + v, _same
    )


def _pick(name: str, better: Callable[[Any, Any], bool]) -> Callable[..., AggregateFunction]:
    def make(arg_types: list[Any], star: bool) -> AggregateFunction:
        t = arg_types[0] if arg_types else None
        if t is None or len(arg_types) != 1:
            raise FunctionArgumentError(
                f"Function '{name.lower()}' does not accept parameters "
                f"({', '.join(str(a) for a in arg_types)})."
            )

        def add(acc: Any, v: Any) -> Any:
            if v is None:
                return acc
            return v if acc is None or better(v, acc) else acc

        return AggregateFunction(name, t, lambda: None, add, _same)

    return make


def _avg(arg_types: list[Any], star: bool) -> AggregateFunction:
    _one_numeric("AVG", arg_types)

    def add(acc: tuple[Any, int], v: Any) -> tuple[Any, int]:
        return acc if v is None else (acc[0] + v, acc[1] + 1)

    def result(acc: tuple[Any, int]) -> Any:
        return float(acc[0]) / acc[1] if acc[1] else None

    return AggregateFunction("AVG", ty.DOUBLE, lambda: (0, 0), add, result)


def _collect(name: str, unique: bool) -> Callable[..., AggregateFunction]:
    def make(arg_types: list[Any], star: bool) -> AggregateFunction:
        t = arg_types[0] if arg_types else None

        def add(acc: list[Any], v: Any) -> list[Any]:
            if unique and v in acc:
                return acc
            return [*acc, v]

        return AggregateFunction(name, ty.ArrayType(t), list, add, list)

    return make


def _by_offset(name: str, latest: bool) -> Callable[..., AggregateFunction]:
    """EARLIEST/LATEST_BY_OFFSET(col [, n] [, ignoreNulls]): one value, or an array of n."""

    def make(arg_types: list[Any], star: bool) -> AggregateFunction:
        t = arg_types[0] if arg_types else None
        many = len(arg_types) > 1 and arg_types[1] in (ty.INTEGER, ty.BIGINT)

        def add(acc: tuple[int, list[Any]], v: Any, *rest: Any) -> tuple[int, list[Any]]:
            n = int(rest[0]) if many and rest else 1
            flags = rest[1:] if many else rest
            ignore_nulls = bool(flags[0]) if flags and flags[0] is not None else True
            seen, values = acc
            if v is None and ignore_nulls:
                return acc
            if latest:
                return seen + 1, [*values, v][-n:]
            if len(values) >= n:
                return acc
            return seen + 1, [*values, v]

        def result(acc: tuple[int, list[Any]]) -> Any:
            values = acc[1]
            if many:
                return list(values)
            return values[-1] if values else None

        return AggregateFunction(name, ty.ArrayType(t) if many else t, lambda: (0, []), add, result)

    return make


def _count_distinct(arg_types: list[Any], star: bool) -> AggregateFunction:
    def add(acc: frozenset[Any], v: Any) -> frozenset[Any]:
        return acc if v is None else acc | {repr(v)}

    return AggregateFunction("COUNT_DISTINCT", ty.BIGINT, frozenset, add, len)


def _one_numeric(name: str, arg_types: list[Any]) -> Any:
    if len(arg_types) != 1 or not ty.is_numeric(arg_types[0]):
        raise FunctionArgumentError(
            f"Function '{name.lower()}' does not accept parameters "
            f"({', '.join(str(a) for a in arg_types)})."
        )
    return arg_types[0]


AGGREGATES: dict[str, Callable[[list[Any], bool], AggregateFunction]] = {
    "COUNT": _count,
    "SUM": _sum,
    "MIN": _pick("MIN", lambda a, b: a < b),
    "MAX": _pick("MAX", lambda a, b: a > b),
    "AVG": _avg,
    "COLLECT_LIST": _collect("COLLECT_LIST", unique=False),
    "COLLECT_SET": _collect("COLLECT_SET", unique=True),
    "EARLIEST_BY_OFFSET": _by_offset("EARLIEST_BY_OFFSET", latest=False),
    "LATEST_BY_OFFSET": _by_offset("LATEST_BY_OFFSET", latest=True),
    "COUNT_DISTINCT": _count_distinct,
}


def resolve_aggregate(name: str, arg_types: list[Any], star: bool) -> AggregateFunction:
    return AGGREGATES[name.upper()](arg_types, star)
