"""ksqlDB's array built-ins and the lambda functions over arrays (array*.json, transform-*.json)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from ksql_emulator import sql_types as ty
from ksql_emulator import text_forms
from ksql_emulator.functions.registry import FunctionRegistry
from ksql_emulator.functions.signatures import Generic, LambdaParam, T, U

__all__ = ["register"]

S_ = ty.STRING
ARRAY_T = ty.ArrayType(T)
STATE = Generic("S")


def _distinct(items: list[Any]) -> list[Any]:
    out: list[Any] = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


def _except(a: list[Any], b: list[Any]) -> list[Any]:
    return _distinct([x for x in a if x not in b])


def _intersect(a: list[Any], b: list[Any]) -> list[Any]:
    return _distinct([x for x in a if x in b])


def _union(a: list[Any], b: list[Any]) -> list[Any]:
    return _distinct(a + b)


def _concat(a: list[Any] | None, b: list[Any] | None) -> list[Any] | None:
    if a is None and b is None:
        return None
    return (a or []) + (b or [])


def _join(items: list[Any] | None, sep: str | None = ",") -> str | None:
    if items is None:
        return None
    return (sep or "").join("null" if x is None else text_forms.java_string(x) for x in items)


def _max(items: list[Any]) -> Any:
    present = [x for x in items if x is not None]
    return max(present) if present else None


def _min(items: list[Any]) -> Any:
    present = [x for x in items if x is not None]
    return min(present) if present else None


def _sort(items: list[Any], direction: str = "ASC") -> list[Any] | None:
    order = direction.upper()
    if order not in ("ASC", "DESC"):
        return None
    present = sorted((x for x in items if x is not None), reverse=order == "DESC")
    return present + [None] * (len(items) - len(present))


def _remove(items: list[Any] | None, victim: Any) -> list[Any] | None:
    if items is None:
        return None
    return [x for x in items if x != victim]


def _slice(items: list[Any], start: int | None, end: int | None) -> list[Any] | None:
    if items is None:
        return None
    first = 1 if start is None else start
    last = len(items) if end is None else end
    if first < 1 or last > len(items) or first > last:
        return [] if first > last else items[max(first, 1) - 1 : min(last, len(items))]
    return items[first - 1 : last]


def _contains(items: list[Any] | None, value: Any) -> bool:
    return items is not None and value in items


def _series(start: int, end: int, step: int | None = None) -> list[int]:
    if step is None:
        step = 1 if end >= start else -1
    if step == 0:
        raise ValueError("GENERATE_SERIES step cannot be zero")
    if (end - start) * step < 0:
        raise ValueError("GENERATE_SERIES step has wrong sign")
    return list(range(start, end + (1 if step > 0 else -1), step))


def _date_series(start: dt.date, end: dt.date, step: int = 1) -> list[dt.date]:
    days = _series(0, (end - start).days, step)
    return [start + dt.timedelta(days=d) for d in days]


def _transform(items: list[Any], fn: Callable[[Any], Any]) -> list[Any]:
    return [fn(x) for x in items]


def _filter(items: list[Any], fn: Callable[[Any], Any]) -> list[Any]:
    return [x for x in items if fn(x) is True]


def _reduce(items: list[Any] | None, state: Any, fn: Callable[[Any, Any], Any]) -> Any:
    if state is None:
        # ksqlDB's Reduce: no initial state, no result, whatever the collection holds.
        return None
    if items is None:
        return state
    for x in items:
        state = fn(state, x)
    return state


def _array_return(index: int) -> Callable[[list[ty.SqlType | None]], ty.SqlType]:
    def returns(types: list[ty.SqlType | None]) -> ty.SqlType:
        t = types[index]
        return t if t is not None else ty.ArrayType(None)

    return returns


def register(reg: FunctionRegistry) -> None:
    """Add the array functions to `reg`."""
    add = reg.register
    cat = "ARRAY"
    add(
        "ARRAY_CONTAINS",
        [ARRAY_T, T],
        ty.BOOLEAN,
        _contains,
        null_in_null_out=False,
        category=cat,
        description="Whether an array contains a value.",
    )
    add(
        "ARRAY_LENGTH",
        [ARRAY_T],
        ty.INTEGER,
        len,
        category=cat,
        description="The number of elements of an array.",
    )
    add(
        "ARRAY_DISTINCT",
        [ARRAY_T],
        ARRAY_T,
        _distinct,
        category=cat,
        description="The array without duplicates, in first-seen order.",
    )
    add(
        "ARRAY_EXCEPT",
        [ARRAY_T, ARRAY_T],
        ARRAY_T,
        _except,
        category=cat,
        description="Distinct elements of the first array not in the second.",
    )
    add(
        "ARRAY_INTERSECT",
        [ARRAY_T, ARRAY_T],
        ARRAY_T,
        _intersect,
        category=cat,
        description="Distinct elements in both arrays.",
    )
    add(
        "ARRAY_UNION",
        [ARRAY_T, ARRAY_T],
        ARRAY_T,
        _union,
        category=cat,
        description="Distinct elements in either array.",
    )
    add(
        "ARRAY_CONCAT",
        [ARRAY_T, ARRAY_T],
        ARRAY_T,
        _concat,
        null_in_null_out=False,
        category=cat,
        description="Both arrays, one after the other.",
    )
    add(
        "ARRAY_JOIN",
        [ARRAY_T],
        S_,
        _join,
        category=cat,
        description="Array elements joined into text with a delimiter (default comma).",
    )
    add("ARRAY_JOIN", [ARRAY_T, S_], S_, _join, null_in_null_out=False, category=cat)
    add("ARRAY_MAX", [ARRAY_T], T, _max, category=cat, description="The largest non-null element.")
    add("ARRAY_MIN", [ARRAY_T], T, _min, category=cat, description="The smallest non-null element.")
    add(
        "ARRAY_SORT",
        [ARRAY_T],
        ARRAY_T,
        _sort,
        category=cat,
        description="The array sorted ASC (default) or DESC, nulls last.",
    )
    add("ARRAY_SORT", [ARRAY_T, S_], ARRAY_T, _sort, category=cat)
    add(
        "ARRAY_REMOVE",
        [ARRAY_T, T],
        ARRAY_T,
        _remove,
        null_in_null_out=False,
        category=cat,
        description="The array without every element equal to a value.",
    )
    add(
        "SLICE",
        [ARRAY_T, ty.INTEGER, ty.INTEGER],
        ARRAY_T,
        _slice,
        null_in_null_out=False,
        category=cat,
        description="Elements from a 1-based start to an end, inclusive.",
    )
    for t in (ty.INTEGER, ty.BIGINT):
        add(
            "GENERATE_SERIES",
            [t, t],
            ty.ArrayType(t),
            _series,
            category=cat,
            description="Numbers from start to end inclusive, by a step.",
        )
        add("GENERATE_SERIES", [t, t, t], ty.ArrayType(t), _series, category=cat)
    add("GENERATE_SERIES", [ty.DATE, ty.DATE], ty.ArrayType(ty.DATE), _date_series, category=cat)
    add(
        "TRANSFORM",
        [ARRAY_T, LambdaParam((T,), U)],
        ty.ArrayType(U),
        _transform,
        category="LAMBDA",
        description="Applies a lambda to each element or entry.",
    )
    add(
        "FILTER",
        [ARRAY_T, LambdaParam((T,), ty.BOOLEAN)],
        ARRAY_T,
        _filter,
        category="LAMBDA",
        description="Keeps the elements or entries a lambda accepts.",
    )
    add(
        "REDUCE",
        [ARRAY_T, STATE, LambdaParam((STATE, T), STATE)],
        STATE,
        _reduce,
        null_in_null_out=False,
        category="LAMBDA",
        description="Folds an array or map into a state with a lambda.",
    )
