"""The bytes a state store's changelog entry holds: state format 1, tagged JSON.

A changelog topic outlives the process that wrote it, so its entries are data, never code: a
restore parses them and cannot run anything, and renaming a class cannot break it.

Format 1. Each entry's key and value is one UTF-8 JSON document::

    {"state_format": 1, "value": <value>}

where `<value>` is written as:

- null, true/false, integers, strings and finite floats as themselves (a float always keeps
  a fraction or exponent, so `1.0` reads back as a float and `1` as an integer);
- a list as a JSON array;
- every other value as an object of exactly one member naming its type:

  ==============  ===========================================================
  ``tuple``       array of values
  ``dict``        array of ``[key, value]`` pairs, in order (keys may be any value)
  ``set``         array of values
  ``frozenset``   array of values
  ``decimal``     the Decimal's string form, scale kept (``"12.50"``, ``"1E+3"``)
  ``float``       ``"NaN"``, ``"Infinity"`` or ``"-Infinity"``
  ``bytes``       base64 (RFC 4648, padded)
  ``date``        ISO 8601 date, ``"2024-02-29"``
  ``time``        ISO 8601 time, ``"13:05:00.250000"``
  ``timestamp``   ISO 8601 date-time (naive, as the engine's TIMESTAMP values are)
  ==============  ===========================================================

Stores hold accumulators (numbers, Decimals, lists, tuples, frozensets), group keys and rows
of column values (DATE, TIME, TIMESTAMP, BYTES, ARRAY as lists, MAP and STRUCT as dicts), so
these types are all a value can hold; writing any other type is an error, not a silent loss.

Emulator versions before format 1 pickled their state. Such an entry is refused with a
`StateFormatError` saying so, and is never unpickled: unpickling runs whatever the bytes say.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import orjson

from ksql_emulator.errors import KsqlError

__all__ = [
    "STATE_FORMAT",
    "StateFormatError",
    "decode",
    "encode",
    "encode_group_key",
    "encode_native_tuple",
]

STATE_FORMAT = 1

# Every pickle from protocol 2 on starts with the PROTO opcode; earlier versions wrote protocol 5.
_PICKLE_PROTO = 0x80

_BASES: tuple[type[Any], ...] = (bool, int, str, float, list, tuple, dict)
_NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


class StateFormatError(KsqlError):
    """A changelog entry that is not state format 1, or a value format 1 cannot hold."""


# The fallback for what orjson refuses: integers beyond 64 bits, and strings that are not
# valid UTF-8 (a lone surrogate), which only an ASCII document with escapes can carry.
_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)


# A document's text before and after its value (orjson writes the same compact form).
_HEAD = b'{"state_format":%d,"value":' % STATE_FORMAT
_TAIL = b"}"


def encode(value: Any) -> bytes:
    """`value` as one format-1 entry."""
    # Every window a batch changes is encoded, for every aggregate: the largest share of a
    # busy stream thread's time, so the fast C encoder. Its result is joined into a new bytes
    # object: orjson's own holds on to a 4 KiB buffer however short the text, and entries
    # are kept (the stores' key caches hold a hundred thousand).
    body = _to_json(value)
    try:
        return _HEAD + orjson.dumps(body) + _TAIL
    except orjson.JSONEncodeError:
        document = {"state_format": STATE_FORMAT, "value": body}
        return _ENCODER.encode(document).encode("ascii")


_TUPLE_HEAD = _HEAD + b'{"tuple":'
_TUPLE_TAIL = b"}" + _TAIL


def encode_native_tuple(value: tuple[Any, ...]) -> bytes:
    """`encode(value)` for a tuple whose items hold only what JSON writes as itself (lists,
    strings, integers, booleans, nulls) and values orjson cannot write (Decimals, sets), which
    are tagged as `encode` tags them: never a tuple, a dict or a float.

    An aggregate's window state is such a tuple when each of its functions says so
    (`AggregateFunction.json_native`): orjson writes it in one call, where `encode` walks it
    value by value (three times as long, and a busy aggregate writes an entry per record).
    The caller vouches for the shape: a tuple inside would be written as a list."""
    try:
        return _TUPLE_HEAD + orjson.dumps(value, default=_tagged) + _TUPLE_TAIL
    except orjson.JSONEncodeError:  # an integer beyond 64 bits, a lone surrogate
        return encode(value)


# What a group key's parts may be for `encode_group_key`: orjson writes these as `encode` does.
_KEY_PARTS = frozenset({str, int, type(None)})
_KEY_HEAD = _HEAD + b'{"tuple":[{"tuple":'


def encode_group_key(key: tuple[Any, ...]) -> bytes | None:
    """`encode(key)` for an aggregate's store key, (group, window start), whose group is a
    tuple of strings, integers and nulls and whose start is an integer or null; None for any
    other key. A window rule writes one such key per record, almost each a new one (a window
    opens for every account it sees), so they are written in one call rather than walked."""
    if len(key) != 2:
        return None
    group, start = key
    if (
        type(group) is not tuple
        or not (type(start) is int or start is None)
        or not _KEY_PARTS.issuperset(map(type, group))
    ):
        return None
    try:
        # One formatting step rather than four concatenations: half the time.
        if start is None:
            return b"%s%s},null]}}" % (_KEY_HEAD, orjson.dumps(group))
        return b"%s%s},%d]}}" % (_KEY_HEAD, orjson.dumps(group), start)
    except orjson.JSONEncodeError:  # an integer beyond 64 bits, a lone surrogate
        return None


def _tagged(value: Any) -> Any:
    if type(value) is Decimal:
        return {"decimal": str(value)}
    return _to_json(value)


def decode(data: bytes) -> Any:
    """The value a format-1 entry holds; `StateFormatError` for anything else."""
    if data[:1] == bytes([_PICKLE_PROTO]):
        raise StateFormatError(
            "this changelog entry was written by an emulator version that pickled its state; "
            "it is refused because unpickling data can run code. Terminate the query and "
            "create it again (or delete its changelog topics) to rebuild its state"
        )
    try:
        document = json.loads(data, parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise StateFormatError(f"this changelog entry is not state format JSON: {exc}") from exc
    if not isinstance(document, dict) or set(document) != {"state_format", "value"}:
        raise StateFormatError(
            "this changelog entry is not a state document (expected the members "
            "'state_format' and 'value')"
        )
    version = document["state_format"]
    if version != STATE_FORMAT:
        raise StateFormatError(
            f"this changelog entry is in state format {version!r}; this emulator reads "
            f"format {STATE_FORMAT} only"
        )
    return _from_json(document["value"])


def _to_json(value: Any) -> Any:
    # The types aggregates store first, tested by identity: every changed window of every
    # aggregate passes through here at each commit, and a dictionary lookup per value costs
    # more than these comparisons.
    kind = type(value)
    if kind is str or kind is int or value is None:
        return value
    if kind is list:
        return _items(value)
    if kind is tuple:
        return {"tuple": _items(value)}
    if kind is Decimal:
        return {"decimal": str(value)}
    if kind is bool:
        return value
    write = _WRITERS.get(kind)
    if write is not None:
        return write(value)
    # Subclasses (a key's NullKey is a list; bool is an int) are stored as their base type.
    for base in _BASES:
        if isinstance(value, base):
            return _to_json(base(value))
    raise StateFormatError(
        f"a state store cannot write a value of type {kind.__qualname__} to its changelog"
    )


def _items(values: Any) -> list[Any]:
    """A list's or tuple's values written: the kinds an accumulator nests (an older
    LATEST_BY_OFFSET's (sequence, value) tuples, a SUM's Decimal) without a call each."""
    out: list[Any] = []
    append = out.append
    for v in values:
        kind = type(v)
        if kind is str or kind is int or v is None:
            append(v)
        elif kind is tuple:
            append({"tuple": _items(v)})
        elif kind is list:
            append(_items(v))
        elif kind is Decimal:
            append({"decimal": str(v)})
        else:
            append(_to_json(v))
    return out


def _values(values: Any) -> list[Any]:
    return [_to_json(v) for v in values]


_WRITERS: dict[type, Callable[[Any], Any]] = {
    float: lambda v: v if math.isfinite(v) else {"float": _non_finite_name(v)},
    list: _values,
    tuple: lambda v: {"tuple": _values(v)},
    dict: lambda v: {"dict": [[_to_json(k), _to_json(x)] for k, x in v.items()]},
    Decimal: lambda v: {"decimal": str(v)},
    dt.datetime: lambda v: {"timestamp": v.isoformat()},
    dt.date: lambda v: {"date": v.isoformat()},
    dt.time: lambda v: {"time": v.isoformat()},
    bytes: lambda v: {"bytes": base64.b64encode(v).decode("ascii")},
    frozenset: lambda v: {"frozenset": _values(v)},
    set: lambda v: {"set": _values(v)},
}


def _from_json(value: Any) -> Any:
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) != 1:
        raise StateFormatError(f"a tagged value has one member, not {sorted(value)}")
    ((tag, body),) = value.items()
    read = _READERS.get(tag)
    if read is None:
        raise StateFormatError(f"unknown value type {tag!r} in a changelog entry")
    try:
        return read(body)
    except StateFormatError:
        raise
    except (TypeError, ValueError, KeyError, ArithmeticError) as exc:
        raise StateFormatError(f"a {tag!r} value in a changelog entry is malformed: {exc}") from exc


def _non_finite_name(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def _no_constant(name: str) -> Any:
    raise StateFormatError(f"a changelog entry holds the non-JSON constant {name}")


def _pairs(body: list[list[Any]]) -> dict[Any, Any]:
    return {_from_json(k): _from_json(v) for k, v in body}


_READERS: dict[str, Callable[[Any], Any]] = {
    "tuple": lambda body: tuple(_from_json(v) for v in body),
    "dict": _pairs,
    "set": lambda body: {_from_json(v) for v in body},
    "frozenset": lambda body: frozenset(_from_json(v) for v in body),
    "decimal": Decimal,
    "float": lambda body: _NON_FINITE[body],
    "bytes": lambda body: base64.b64decode(body, validate=True),
    "date": dt.date.fromisoformat,
    "time": dt.time.fromisoformat,
    "timestamp": dt.datetime.fromisoformat,
}
