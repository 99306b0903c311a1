"""The Serde interface every format implements, and helpers they share."""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Sequence
from decimal import Decimal
from typing import Any

from ksql_emulator import sql_types as ty
from ksql_emulator.errors import SerializationError

__all__ = [
    "Column",
    "NullKey",
    "Serde",
    "date_to_days",
    "days_to_date",
    "ms_of_day",
    "ms_to_time",
    "ms_to_timestamp",
    "timestamp_to_ms",
]

Column = tuple[str, ty.SqlType]
EPOCH = dt.datetime(1970, 1, 1)
EPOCH_DATE = dt.date(1970, 1, 1)


def timestamp_to_ms(v: dt.datetime) -> int:
    """A naive-UTC TIMESTAMP value as epoch milliseconds."""
    delta = v - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def ms_to_timestamp(ms: int) -> dt.datetime:
    """Epoch milliseconds as a naive-UTC TIMESTAMP value."""
    return EPOCH + dt.timedelta(milliseconds=ms)


def date_to_days(v: dt.date) -> int:
    """A DATE as days since the epoch, as ksqlDB's formats carry it."""
    return (v - EPOCH_DATE).days


def days_to_date(days: int) -> dt.date:
    """Days since the epoch as a DATE."""
    return EPOCH_DATE + dt.timedelta(days=days)


def ms_of_day(v: dt.time) -> int:
    """A TIME as milliseconds since midnight, as ksqlDB's formats carry it."""
    return ((v.hour * 60 + v.minute) * 60 + v.second) * 1000 + v.microsecond // 1000


def ms_to_time(ms: int) -> dt.time:
    """Milliseconds since midnight as a TIME."""
    if not 0 <= ms < 86_400_000:
        raise SerializationError(f"Time value out of range: {ms}")
    seconds, millis = divmod(ms, 1000)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    return dt.time(hour, minute, second, millis * 1000)


class NullKey(list[Any]):
    """The key columns of a record whose key bytes were null: all None.

    Serializing it writes a null key again, while a key whose columns merely happen to be null
    is written as an object (multi-col-keys.json vs partition-by.json).
    """

    @classmethod
    def of(cls, width: int) -> NullKey:
        """A null key of `width` columns."""
        return cls([None] * width)


class Serde(ABC):
    """Turns one side (key or value) of a record between bytes and column values.

    `serialize`/`deserialize` carry values in schema column order; None is a null record
    (a tombstone for values). QTT test files spell records as JSON values: `from_test_value`
    turns one into the bytes this format would carry, `bytes_to_test_value` turns bytes back,
    and `to_test_value(values)` is `bytes_to_test_value(serialize(values))`. Fractional JSON
    numbers come back as decimal.Decimal so a harness can compare them numerically.
    """

    format_name = ""

    def __init__(self, schema: list[Column], *, is_key: bool) -> None:
        self.schema = list(schema)
        self.is_key = is_key

    @property
    def _side(self) -> str:
        return "key" if self.is_key else "value"

    @abstractmethod
    def serialize(self, values: list[Any] | None) -> bytes | None:
        """Column values -> bytes (None -> None)."""

    @abstractmethod
    def deserialize(self, data: bytes | None) -> list[Any] | None:
        """Bytes -> column values (None -> None); SerializationError when they do not decode."""

    @abstractmethod
    def from_test_value(self, value: Any) -> bytes | None:
        """A QTT record's `key`/`value` JSON -> the bytes this format carries."""

    @abstractmethod
    def bytes_to_test_value(self, data: bytes | None) -> Any:
        """Bytes -> the JSON a QTT file would spell them as."""

    def peeker(
        self, indices: Sequence[int], *, checked: Collection[int] = ()
    ) -> Callable[[bytes], tuple[Any, ...] | None] | None:
        """A reader of the columns at `indices` alone: given a message's bytes it answers
        their values exactly as `deserialize` would, or None when it cannot tell without the
        whole record (then `deserialize` decides). None when this format has no such reader.
        The values of the `checked` columns only decode as `deserialize` would decode them."""
        return None

    def pruner(self, read: Collection[int]) -> Callable[[bytes], list[Any] | None] | None:
        """A reader for a query that reads only the columns at `read`: given a message's bytes
        it answers `deserialize`'s row with None in every other column, or None when it cannot
        tell without decoding the record whole; never a row for a record `deserialize` refuses.
        None when this format has no such reader, or it would leave nothing out."""
        return None

    def to_test_value(self, values: list[Any] | None) -> Any:
        """Column values -> the JSON a QTT file would spell them as."""
        return self.bytes_to_test_value(self.serialize(values))

    def _check_width(self, values: list[Any]) -> None:
        if len(values) != len(self.schema):
            raise SerializationError(
                f"Expected {len(self.schema)} {self._side} values but got {len(values)}"
            )


_FLAT = frozenset({str, int, float, bool, type(None)})


def json_text(value: Any) -> str:
    """A test value (as json.loads gave it) back to JSON text, keeping Decimal digits."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dict):
        # A flat object of strings, integers and finite floats (the usual input record):
        # json.dumps writes it as the general path below would, in one C call.
        if (
            all(type(v) in _FLAT for v in value.values())
            and all(k.isascii() for k in value)
            and not any(type(v) is float and not math.isfinite(v) for v in value.values())
        ):
            return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        return "{" + ",".join(f"{json.dumps(k)}:{json_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(json_text(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def b64(data: bytes) -> str:
    """Bytes as base64 text, the way ksqlDB's text formats carry BYTES."""
    return base64.b64encode(data).decode("ascii")
