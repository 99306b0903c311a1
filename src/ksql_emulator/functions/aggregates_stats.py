"""Ranking and statistical aggregates: TOPK, TOPKDISTINCT, HISTOGRAM, STDDEV_SAMP(LE),
CORRELATION. Accumulators are immutable values so a table's re-fold and a session merge can
reuse them."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ksql_emulator import sql_types as ty
from ksql_emulator.errors import FunctionArgumentError
from ksql_emulator.functions.udaf import AggregateFunction

__all__ = ["STATS_AGGREGATES"]


def _bad_args(name: str, arg_types: list[Any]) -> FunctionArgumentError:
    return FunctionArgumentError(
        f"Function '{name.lower()}' does not accept parameters "
        f"({', '.join(str(a) for a in arg_types)})."
    )


def _topk(distinct: bool) -> Callable[[list[Any], bool], Any]:
    """TOPK(col, k) keeps the k greatest values, greatest first; TOPK(col, other..., k) keeps
    rows as STRUCT<sort_col, col0, ...> ordered by `col`. Nulls in `col` are skipped; among
    equal values the earlier one stays first."""
    name = "TOPKDISTINCT" if distinct else "TOPK"

    def make(arg_types: list[Any], star: bool) -> Any:
        if len(arg_types) < 2 or arg_types[-1] not in (ty.INTEGER, ty.BIGINT):
            raise _bad_args(name, arg_types)
        sort_type = arg_types[0]
        others = arg_types[1:-1]
        if others and distinct:
            raise _bad_args(name, arg_types)
        if others:
            fields = [("sort_col", sort_type)] + [(f"col{i}", t) for i, t in enumerate(others)]
            item_type: Any = ty.StructType(tuple(fields))
        else:
            item_type = sort_type
        size = [0]

        def keep(entries: list[tuple[Any, tuple[Any, ...]]]) -> tuple[Any, ...]:
            if distinct:
                seen: dict[Any, tuple[Any, tuple[Any, ...]]] = {}
                for e in entries:
                    seen.setdefault(e[0], e)
                entries = list(seen.values())
            ranked = sorted(entries, key=lambda e: e[0], reverse=True)
            return tuple(ranked[: size[0]])

        def add(acc: tuple[Any, ...], v: Any, *rest: Any) -> tuple[Any, ...]:
            size[0] = int(rest[-1])
            if v is None:
                return acc
            return keep([*acc, (v, tuple(rest[:-1]))])

        def merge(a: tuple[Any, ...], b: tuple[Any, ...]) -> tuple[Any, ...]:
            return keep([*a, *b])

        def result(acc: tuple[Any, ...]) -> list[Any]:
            if not others:
                return [v for v, _ in acc]
            return [
                {"sort_col": v, **{f"col{i}": o for i, o in enumerate(rest)}} for v, rest in acc
            ]

        return AggregateFunction(
            name, ty.ArrayType(item_type), tuple, add, result, merge=merge, intermediate=True
        )

    return make


def _histogram(arg_types: list[Any], star: bool) -> Any:
    """Counts per distinct value, at most 1000 distinct values (ksqlDB's limit)."""
    if len(arg_types) != 1:
        raise _bad_args("HISTOGRAM", arg_types)

    def add(acc: tuple[tuple[Any, int], ...], v: Any) -> tuple[tuple[Any, int], ...]:
        if v is None:
            return acc
        counts = dict(acc)
        if v not in counts and len(counts) >= 1000:
            return acc
        counts[v] = counts.get(v, 0) + 1
        return tuple(counts.items())

    def merge(
        a: tuple[tuple[Any, int], ...], b: tuple[tuple[Any, int], ...]
    ) -> tuple[tuple[Any, int], ...]:
        counts = dict(a)
        for v, n in b:
            counts[v] = counts.get(v, 0) + n
        return tuple(counts.items())

    return AggregateFunction(
        "HISTOGRAM",
        ty.MapType(ty.STRING, ty.BIGINT),
        tuple,
        add,
        dict,
        merge=merge,
        intermediate=True,
    )


def _number(v: Any) -> float:
    return float(v)


def _stddev(name: str, root: bool) -> Callable[[list[Any], bool], Any]:
    """Sample variance by Welford's running sums (count, sum, m2). ksqlDB's STDDEV_SAMP
    returns the variance itself; STDDEV_SAMPLE its square root. Fewer than 2 values: 0.0."""

    def make(arg_types: list[Any], star: bool) -> Any:
        if len(arg_types) != 1 or not ty.is_numeric(arg_types[0]):
            raise _bad_args(name, arg_types)

        def add(acc: tuple[int, float, float], v: Any) -> tuple[int, float, float]:
            if v is None:
                return acc
            n, total, m2 = acc
            x = _number(v)
            new_n, new_total = n + 1, total + x
            if n > 0:
                delta = x * new_n - new_total
                m2 += delta * delta / (new_n * n)
            return new_n, new_total, m2

        def merge(
            a: tuple[int, float, float], b: tuple[int, float, float]
        ) -> tuple[int, float, float]:
            if a[0] == 0:
                return b
            if b[0] == 0:
                return a
            n = a[0] + b[0]
            delta = a[1] / a[0] - b[1] / b[0]
            return n, a[1] + b[1], a[2] + b[2] + delta * delta * a[0] * b[0] / n

        def result(acc: tuple[int, float, float]) -> float:
            n, _, m2 = acc
            if n < 2:
                return 0.0
            variance = m2 / (n - 1)
            return math.sqrt(variance) if root else variance

        return AggregateFunction(
            name, ty.DOUBLE, lambda: (0, 0.0, 0.0), add, result, merge=merge, intermediate=True
        )

    return make


_Sums = tuple[float, float, float, float, float, int]


def _correlation(arg_types: list[Any], star: bool) -> Any:
    """Pearson's correlation of (x, y) pairs, pairs with a null skipped; NaN until defined."""
    if len(arg_types) != 2 or not all(ty.is_numeric(t) for t in arg_types):
        raise _bad_args("CORRELATION", arg_types)

    def add(acc: _Sums, x: Any, y: Any) -> _Sums:
        if x is None or y is None:
            return acc
        fx, fy = _number(x), _number(y)
        sx, sy, sxx, syy, sxy, n = acc
        return sx + fx, sy + fy, sxx + fx * fx, syy + fy * fy, sxy + fx * fy, n + 1

    def merge(a: _Sums, b: _Sums) -> _Sums:
        return (a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3], a[4] + b[4], a[5] + b[5])

    def result(acc: _Sums) -> float:
        sx, sy, sxx, syy, sxy, n = acc
        numerator = n * sxy - sx * sy
        denominator = math.sqrt(n * sxx - sx * sx) * math.sqrt(n * syy - sy * sy)
        if denominator == 0:
            return math.nan
        return numerator / denominator

    return AggregateFunction(
        "CORRELATION",
        ty.DOUBLE,
        lambda: (0.0, 0.0, 0.0, 0.0, 0.0, 0),
        add,
        result,
        merge=merge,
        intermediate=True,
    )


STATS_AGGREGATES: dict[str, Callable[[list[Any], bool], Any]] = {
    "TOPK": _topk(distinct=False),
    "TOPKDISTINCT": _topk(distinct=True),
    "HISTOGRAM": _histogram,
    "STDDEV_SAMP": _stddev("STDDEV_SAMP", root=False),
    "STDDEV_SAMPLE": _stddev("STDDEV_SAMPLE", root=True),
    "CORRELATION": _correlation,
}
