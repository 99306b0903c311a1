"""Aggregate functions (UDAFs): result types and accumulators, as a table by name."""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from itertools import count
from operator import itemgetter
from typing import Any

from ksql_emulator import sql_types as ty
from ksql_emulator.errors import FunctionArgumentError
from ksql_emulator.functions.aggregates_stats import STATS_AGGREGATES
from ksql_emulator.functions.udaf import AggregateFunction, as_is

__all__ = ["AGGREGATES", "AggregateFunction", "resolve_aggregate"]


def _plus(a: Any, b: Any) -> Any:
    return a + b


def _native(t: Any) -> bool:
    """Whether values of type `t` are JSON-native accumulator parts (see AggregateFunction)."""
    return t in (ty.STRING, ty.INTEGER, ty.BIGINT, ty.BOOLEAN) or isinstance(t, ty.DecimalType)


def _count(arg_types: list[Any], star: bool) -> AggregateFunction:
    if star or not arg_types:
        return AggregateFunction(
            "COUNT",
            ty.BIGINT,
            lambda: 0,
            lambda acc: acc + 1,
            as_is,
            True,
            merge=_plus,
            json_native=True,
        )
    return AggregateFunction(
        "COUNT",
        ty.BIGINT,
        lambda: 0,
        lambda acc, v: acc + (v is not None),
        as_is,
        merge=_plus,
        json_native=True,
    )


def _sum(arg_types: list[Any], star: bool) -> AggregateFunction:
    t = _one_numeric("SUM", arg_types)
    zero: Any = Decimal(0) if isinstance(t, ty.DecimalType) else 0.0 if t == ty.DOUBLE else 0
    return AggregateFunction(
        "SUM",
        t,
        lambda: zero,
        lambda acc, v: acc if v is None else acc + v,
        as_is,
        merge=_plus,
        json_native=_native(t),
    )


def _sum_list(arg_types: list[Any], star: bool) -> AggregateFunction:
    """SUM_LIST(array): the sum of every non-null element of every row's array."""
    item = (
        arg_types[0].item
        if len(arg_types) == 1 and isinstance(arg_types[0], ty.ArrayType)
        else None
    )
    if item not in (ty.INTEGER, ty.BIGINT, ty.DOUBLE):
        raise FunctionArgumentError(
            f"Function 'sum_list' does not accept parameters "
            f"({', '.join(str(a) for a in arg_types)})."
        )
    zero: Any = 0.0 if item == ty.DOUBLE else 0

    def add(acc: Any, items: list[Any] | None) -> Any:
        return acc + sum(v for v in items or [] if v is not None)

    return AggregateFunction("SUM_LIST", item, lambda: zero, add, as_is, merge=_plus)


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

        return AggregateFunction(
            name, t, lambda: None, add, as_is, merge=add, json_native=_native(t)
        )

    return make


def _avg(arg_types: list[Any], star: bool) -> AggregateFunction:
    _one_numeric("AVG", arg_types)

    def add(acc: tuple[Any, int], v: Any) -> tuple[Any, int]:
        return acc if v is None else (acc[0] + v, acc[1] + 1)

    def merge(a: tuple[Any, int], b: tuple[Any, int]) -> tuple[Any, int]:
        return a[0] + b[0], a[1] + b[1]

    def result(acc: tuple[Any, int]) -> Any:
        return float(acc[0]) / acc[1] if acc[1] else None

    return AggregateFunction(
        "AVG", ty.DOUBLE, lambda: (0, 0), add, result, merge=merge, intermediate=True
    )


def _collect(name: str, unique: bool) -> Callable[..., AggregateFunction]:
    def make(arg_types: list[Any], star: bool) -> AggregateFunction:
        t = arg_types[0] if arg_types else None

        def add(acc: list[Any], v: Any) -> list[Any]:
            if unique and v in acc:
                return acc
            return [*acc, v]

        def merge(a: list[Any], b: list[Any]) -> list[Any]:
            out = list(a)
            for v in b:
                out = add(out, v)
            return out

        return AggregateFunction(
            name,
            ty.ArrayType(t),
            list,
            add,
            list,
            merge=merge,
            intermediate=True,
            limit_property=f"ksql.functions.{name.lower()}.limit",
        )

    return make


def _by_offset(name: str, latest: bool) -> Callable[..., AggregateFunction]:
    """EARLIEST/LATEST_BY_OFFSET(col [, n] [, ignoreNulls]): one value, or an array of n.

    Each kept value carries the order it arrived in, so that merging two session windows'
    accumulators keeps the values that really came first (or last)."""

    def make(arg_types: list[Any], star: bool) -> AggregateFunction:
        t = arg_types[0] if arg_types else None
        many = len(arg_types) > 1 and arg_types[1] in (ty.INTEGER, ty.BIGINT)
        # Arrival order across restarts too: accumulators restored from a changelog carry the
        # numbers an earlier process gave them, which a count from zero would fall behind.
        sequence = count(time.time_ns())
        size = [1]

        # Each kept value as [sequence, value]: a list, which a changelog writes as it is (see
        # AggregateFunction.json_native); a restored tuple from an older changelog works alike.
        def keep(values: list[list[Any]], n: int) -> list[list[Any]]:
            ordered = sorted(values, key=itemgetter(0))
            return ordered[-n:] if latest else ordered[:n]

        def add(acc: list[list[Any]], v: Any, *rest: Any) -> list[list[Any]]:
            n = int(rest[0]) if many and rest else 1
            size[0] = n
            flags = rest[1:] if many else rest
            ignore_nulls = bool(flags[0]) if flags and flags[0] is not None else True
            if v is None and ignore_nulls:
                return acc
            if not latest and len(acc) >= n:
                return acc
            # A value added arrives after every value kept: no sorting needed.
            kept = [*acc, [next(sequence), v]]
            return kept[-n:] if latest else kept

        def merge(a: list[list[Any]], b: list[list[Any]]) -> list[list[Any]]:
            return keep([*a, *b], size[0])

        def result(acc: list[list[Any]]) -> Any:
            values = [v for _, v in acc]
            if many:
                return values
            return values[-1] if values else None

        if len(arg_types) == 1:
            # The usual call, one column and nothing else: one value kept, nulls ignored.
            def add_one(acc: list[list[Any]], v: Any) -> list[list[Any]]:
                if v is None or (acc and not latest):
                    return acc
                if len(acc) == 1 and type(pair := acc[0]) is list:
                    # The kept pair changed in place: a window's accumulator lives until its
                    # next update, and two new lists per update were most of what the young
                    # collections of a busy server walked (see app.collector).
                    pair[0] = next(sequence)
                    pair[1] = v
                    return acc
                return [[next(sequence), v]]

            def result_one(acc: list[list[Any]]) -> Any:
                return acc[-1][1] if acc else None

            add, result = add_one, result_one

        return AggregateFunction(
            name,
            ty.ArrayType(t) if many else t,
            list,
            add,
            result,
            merge=merge,
            intermediate=True,
            json_native=_native(t),
        )

    return make


def _count_distinct(arg_types: list[Any], star: bool) -> AggregateFunction:
    def add(acc: frozenset[Any], v: Any) -> frozenset[Any]:
        if v is None:
            return acc
        # A value seen before keeps the set it is in rather than a copy of it (see
        # _by_offset's add_one: fewer objects for the collector).
        text = repr(v)
        return acc if text in acc else acc | {text}

    return AggregateFunction(
        "COUNT_DISTINCT",
        ty.BIGINT,
        frozenset,
        add,
        len,
        merge=frozenset.union,
        intermediate=True,
        json_native=True,  # a set of strings
    )


def _attr(arg_types: list[Any], star: bool) -> AggregateFunction:
    """ATTR(col): the group's one value, or null once it has seen two different values (null
    counts as a value). The accumulator counts each distinct value, as ksqlDB's does."""
    if len(arg_types) != 1:
        raise FunctionArgumentError(
            f"Function 'attr' does not accept parameters ({', '.join(str(a) for a in arg_types)})."
        )

    def bump(acc: tuple[tuple[Any, int], ...], v: Any, n: int) -> tuple[tuple[Any, int], ...]:
        # Values may be arrays or structs (unhashable), so entries are matched by equality.
        out = [(value, max(0, c + n)) if value == v else (value, c) for value, c in acc]
        if n > 0 and not any(value == v for value, _ in acc):
            out.append((v, n))
        return tuple(out)

    def add(acc: tuple[tuple[Any, int], ...], v: Any) -> tuple[tuple[Any, int], ...]:
        return bump(acc, v, 1)

    def merge(
        a: tuple[tuple[Any, int], ...], b: tuple[tuple[Any, int], ...]
    ) -> tuple[tuple[Any, int], ...]:
        for value, c in b:
            a = bump(a, value, c)
        return a

    def result(acc: tuple[tuple[Any, int], ...]) -> Any:
        live = [value for value, c in acc if c > 0]
        return live[0] if len(live) == 1 else None

    return AggregateFunction(
        "ATTR", arg_types[0], tuple, add, result, merge=merge, intermediate=True
    )


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
    "SUM_LIST": _sum_list,
    "MIN": _pick("MIN", lambda a, b: a < b),
    "MAX": _pick("MAX", lambda a, b: a > b),
    "AVG": _avg,
    "COLLECT_LIST": _collect("COLLECT_LIST", unique=False),
    "COLLECT_SET": _collect("COLLECT_SET", unique=True),
    "EARLIEST_BY_OFFSET": _by_offset("EARLIEST_BY_OFFSET", latest=False),
    "LATEST_BY_OFFSET": _by_offset("LATEST_BY_OFFSET", latest=True),
    "COUNT_DISTINCT": _count_distinct,
    "ATTR": _attr,
    **STATS_AGGREGATES,
}


def resolve_aggregate(name: str, arg_types: list[Any], star: bool) -> AggregateFunction:
    return AGGREGATES[name.upper()](arg_types, star)
