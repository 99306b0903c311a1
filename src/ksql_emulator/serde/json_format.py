"""The JSON format: ksqlDB's coercions, case-insensitive field names, wrapped or bare values."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Callable, Collection, Sequence
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation
from json.encoder import encode_basestring
from operator import attrgetter, call, itemgetter
from typing import Any

import msgspec
import orjson

from ksql_emulator import casts, text_forms
from ksql_emulator import sql_types as ty
from ksql_emulator.errors import KsqlError, SerializationError
from ksql_emulator.serde.base import (
    Column,
    NullKey,
    Serde,
    b64,
    date_to_days,
    days_to_date,
    json_text,
    ms_of_day,
    ms_to_time,
    ms_to_timestamp,
    timestamp_to_ms,
)

__all__ = ["JsonSerde", "dump", "from_json", "load", "to_json"]

_DECODER = json.JSONDecoder(parse_float=Decimal)
# The scanner `_DECODER.decode` runs (typeshed does not declare the attribute).
_SCAN: Callable[[str, int], tuple[Any, int]] = _DECODER.scan_once  # type: ignore[attr-defined]


def load(text: str) -> Any:
    """JSON text -> Python, fractional numbers as Decimal (keeping their digits)."""
    # The scanner alone when it reads the whole text (the usual record); anything else
    # (whitespace around the value, trailing data, a syntax error) through `decode`, whose
    # answer or error message this must not change.
    try:
        node, end = _SCAN(text, 0)
    except (StopIteration, ValueError):
        return _DECODER.decode(text)
    return node if end == len(text) else _DECODER.decode(text)


# orjson reads a record about three times as fast as the json module, but into floats: only a
# text whose numbers all have at most 15 significant digits (DBL_DIG) reads into exactly the
# values the json module gives, a DECIMAL's digits then recovered from the float's repr (the
# shortest text of that double, so one of 15 digits or fewer is given back as written). Any
# run of 16 digits and dots in the bytes, in a number or not, sends the record the exact way;
# so does an integer past 64 bits, which orjson reads as a float.
_NUMBER_CHARS = bytes(0x30 if 0x30 <= b <= 0x39 or b == 0x2E else 0x20 for b in range(256))
_LONG_NUMBER = b"0" * 16


def _short_numbers(data: bytes) -> bool:
    """Whether no number in `data` can have more than 15 significant digits."""
    return _LONG_NUMBER not in data.translate(_NUMBER_CHARS)


def _node_kind(v: Any) -> str:
    # Jackson's node class names, which ksqlDB's conversion errors quote.
    if isinstance(v, bool):
        return "BooleanNode"
    if isinstance(v, int):
        return "IntNode" if -(2**31) <= v < 2**31 else "LongNode"
    if isinstance(v, Decimal | float):
        return "DecimalNode"
    if isinstance(v, str):
        return "TextNode"
    if isinstance(v, list):
        return "ArrayNode"
    if isinstance(v, dict):
        return "ObjectNode"
    return "NullNode"


def _mismatch(v: Any, t: ty.SqlType) -> SerializationError:
    return SerializationError(f"Can't convert type. sourceType: {_node_kind(v)}, requiredType: {t}")


def _whole(v: Any, t: ty.SqlType) -> int:
    if isinstance(v, bool):
        raise _mismatch(v, t)
    if isinstance(v, int):
        return v
    if isinstance(v, Decimal | float):
        return int(v)
    if isinstance(v, str):
        try:
            return int(v.strip())
        except ValueError as err:
            raise SerializationError(f'For input string: "{v}"') from err
    raise _mismatch(v, t)


def from_json(v: Any, t: ty.SqlType) -> Any:
    """A parsed JSON node -> the SQL value of type `t`, with ksqlDB's lenient coercions."""
    if v is None:
        return None
    if t == ty.STRING:
        if isinstance(v, str):
            return v
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, dict | list):
            return dump(v)
        return str(v)
    if t == ty.BOOLEAN:
        if isinstance(v, bool):
            return v
        if isinstance(v, str):
            return v.strip().lower() == "true"
        raise _mismatch(v, t)
    if t == ty.INTEGER:
        return casts.wrap_int(_whole(v, t))
    if t == ty.BIGINT:
        return casts.wrap_long(_whole(v, t))
    if t == ty.DOUBLE:
        if isinstance(v, bool | list | dict):
            raise _mismatch(v, t)
        try:
            return float(v)
        except ValueError as err:
            raise SerializationError(f'For input string: "{v}"') from err
    if isinstance(t, ty.DecimalType):
        if isinstance(v, bool | list | dict):
            raise _mismatch(v, t)
        try:
            value = Decimal(v.strip()) if isinstance(v, str) else Decimal(v)
        except InvalidOperation as err:
            raise SerializationError(f"Cannot convert '{v}' to {t}") from err
        try:
            return casts.fit_decimal(value, t)
        except KsqlError as err:
            raise SerializationError(err.message) from err
    if t == ty.BYTES:
        if not isinstance(v, str):
            raise _mismatch(v, t)
        try:
            return base64.b64decode(v, validate=True)
        except (binascii.Error, ValueError) as err:
            raise SerializationError(f"Cannot decode base64 BYTES: {v}") from err
    if t == ty.TIMESTAMP:
        return ms_to_timestamp(_whole(v, t))
    if t == ty.DATE:
        return days_to_date(_whole(v, t))
    if t == ty.TIME:
        return ms_to_time(_whole(v, t))
    if isinstance(t, ty.ArrayType):
        if not isinstance(v, list):
            raise _mismatch(v, t)
        item = t.item or ty.STRING
        return [from_json(x, item) for x in v]
    if isinstance(t, ty.MapType):
        if not isinstance(v, dict):
            raise _mismatch(v, t)
        key_type, value_type = t.key or ty.STRING, t.value or ty.STRING
        return {from_json(k, key_type): from_json(x, value_type) for k, x in v.items()}
    if isinstance(t, ty.StructType):
        if not isinstance(v, dict):
            raise _mismatch(v, t)
        return {name: from_json(field_lookup(v, name), ft) for name, ft in t.fields}
    raise SerializationError(f"Unsupported type for JSON: {t}")


def _column_decoder(t: ty.SqlType) -> Any:
    """`from_json` for one column, with the common JSON-to-SQL cases answered without its
    type dispatch (the hot path of every source record); anything else goes to `from_json`."""
    if t == ty.STRING:
        return lambda v: v if type(v) is str else from_json(v, t)
    if t == ty.BIGINT:
        return lambda v: v if type(v) is int and -(2**63) <= v < 2**63 else from_json(v, t)
    if t == ty.INTEGER:
        return lambda v: v if type(v) is int and -(2**31) <= v < 2**31 else from_json(v, t)
    if t == ty.DOUBLE:
        # Fractional JSON numbers are parsed as Decimal (see `load`).
        return lambda v: float(v) if type(v) is Decimal or type(v) is float else from_json(v, t)
    if isinstance(t, ty.DecimalType):
        return lambda v: _fit(v, t) if type(v) is Decimal else from_json(v, t)
    return lambda v: from_json(v, t)


# Per SQL type: the Python type a JSON value of the usual shape has, and the conversion it
# needs (None: taken as is). A record whose values all have these types is decoded without
# `_column_decoder`'s call per column; a conversion still falls back to `from_json` for what it
# does not cover, so results and errors are the same.
def _fast_column(t: ty.SqlType) -> tuple[type, Callable[[Any], Any] | None] | None:
    if t == ty.STRING:
        return str, None
    if t == ty.BOOLEAN:
        return bool, None
    if t == ty.BIGINT:
        return int, lambda v: v if -(2**63) <= v < 2**63 else from_json(v, t)
    if t == ty.INTEGER:
        return int, lambda v: v if -(2**31) <= v < 2**31 else from_json(v, t)
    if t == ty.DOUBLE:
        return Decimal, float
    if isinstance(t, ty.DecimalType):
        return Decimal, _decimal_fitter(t)
    return None


_CTX = Context(prec=200)


def _decimal_fitter(t: ty.DecimalType) -> Callable[[Decimal], Decimal]:
    """casts.fit_decimal with its quantum and bound computed once: a rounded value below
    10^(precision - scale) fits; anything else goes to `_fit` for its error."""
    quantum = Decimal(1).scaleb(-t.scale)
    bound = Decimal(10) ** (t.precision - t.scale)
    low = -bound

    def fit(v: Decimal) -> Decimal:
        # Positional arguments: quantize's keyword parsing cost more than the rounding.
        try:
            q = v.quantize(quantum, ROUND_HALF_UP, _CTX)
        except InvalidOperation:
            return _fit(v, t)
        return q if low < q < bound else _fit(v, t)

    return fit


def _fit(v: Decimal, t: ty.DecimalType) -> Decimal:
    try:
        return casts.fit_decimal(v, t)
    except KsqlError as err:
        raise SerializationError(err.message) from err


def field_lookup(obj: dict[str, Any], name: str) -> Any:
    """ksqlDB's JSON field matching: the exact name, else the first case-insensitive match."""
    if name in obj:
        return obj[name]
    upper = name.upper()
    for key, value in obj.items():
        if key.upper() == upper:
            return value
    return None


def to_json(value: Any, t: ty.SqlType | None) -> Any:
    """A SQL value -> a JSON-ready Python value (Decimal kept, times as epoch numbers)."""
    if value is None:
        return None
    if isinstance(value, bytes):
        return b64(value)
    if isinstance(value, dt.datetime):
        return timestamp_to_ms(value)
    if isinstance(value, dt.date):
        return date_to_days(value)
    if isinstance(value, dt.time):
        return ms_of_day(value)
    if isinstance(value, list):
        item = t.item if isinstance(t, ty.ArrayType) else None
        return [to_json(x, item) for x in value]
    if isinstance(value, dict):
        if isinstance(t, ty.StructType):
            return {name: to_json(value.get(name), ft) for name, ft in t.fields}
        inner = t.value if isinstance(t, ty.MapType) else None
        return {_key_text(k): to_json(x, inner) for k, x in value.items()}
    return value


def _key_text(k: Any) -> str:
    return k if isinstance(k, str) else text_forms.java_string(k)


def dump(value: Any) -> str:
    """Compact JSON text as Jackson writes it (Decimal digits kept, doubles as Java prints)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return text_forms.decimal_string(value) if value.is_finite() else json.dumps(str(value))
    if isinstance(value, float):
        text = text_forms.java_double_str(value)
        return text if value == value and abs(value) != float("inf") else json.dumps(text)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ",".join(dump(x) for x in value) + "]"
    if isinstance(value, dict):
        return (
            "{"
            + ",".join(
                f"{json.dumps(str(k), ensure_ascii=False)}:{dump(x)}" for k, x in value.items()
            )
            + "}"
        )
    return json.dumps(str(value))


# How `dump(to_json(v, t))` writes a scalar of these exact Python types: neither function
# looks at the column type `t` for them, so a row of only such values needs neither.
_SCALAR_TEXT: dict[type, Callable[[Any], str]] = {
    str: encode_basestring,  # json.dumps(v, ensure_ascii=False) is exactly this call
    int: str,
    bool: dump,
    Decimal: dump,
    float: dump,
    type(None): dump,
}


# Values msgspec writes exactly as `dump(to_json(v, t))` does: strings, integers, booleans and
# nulls, and a Decimal's digits as `str` gives them (but for a negative zero, which a BigDecimal
# does not have). Not floats: Java writes 1.0E10 where msgspec writes 1e10.
_PLAIN_TYPES = frozenset({str, int, bool, type(None), Decimal})


_ROW_WRITER = msgspec.json.Encoder(decimal_format="number")


def _quick_column(t: ty.SqlType) -> tuple[type, Callable[[Any], Any] | None] | None:
    """`_fast_column` for a record orjson read: fractional numbers are floats, and integers
    are below 10^16 (`_short_numbers` sends longer ones the exact way), so a BIGINT needs no
    range check."""
    if t == ty.DOUBLE:
        return float, None
    if t == ty.BIGINT:
        return int, None
    if isinstance(t, ty.DecimalType):
        fit = _decimal_fitter(t)
        grid = _grid_decimal(t)

        def convert(v: float) -> Decimal:
            value = grid(v)
            return fit(Decimal(repr(v))) if value is None else value

        return float, convert
    return _fast_column(t)


def _grid_decimal(t: ty.DecimalType) -> Callable[[float], Decimal | None]:
    """The DECIMAL of column type `t` that a double read from JSON stands for, or None when the
    double cannot tell.

    orjson and msgspec read a number into the double nearest its text. Below 10^(15 - scale)
    a double is closer than a third of the scale's step to at most one value of the column's
    grid; when that value's own nearest double is this one, the number's text, however many
    digits it had, lies within a double's precision of the grid value and so rounds to it:
    the exact path's DECIMAL. A value past the column's precision is an error the exact path
    words.
    """
    scale = t.scale
    # Both bounds exact as doubles (10^22 is), and a grid value below one has a double below
    # it: comparing the double decides for the number.
    edge = min(10.0 ** (15 - scale), 10.0 ** (t.precision - t.scale))
    zeros = ["0" * n for n in range(scale + 1)]

    def by_text(v: float) -> Decimal | None:
        # The double's shortest text (repr) with no more fraction digits than the scale is
        # the grid value's.
        if not -edge < v < edge:
            return None
        text = repr(v)
        if "e" in text:
            return None
        short = scale - (len(text) - text.index(".") - 1)
        return None if short < 0 else Decimal(text + zeros[short])

    if scale > 15:
        return by_text
    step = 10.0**scale  # exact, as is every integer below 10^15 that v * step may round to

    def by_step(v: float) -> Decimal | None:
        # Half the time of the text's way: n / step is the grid value's nearest double
        # (a correctly rounded division of exact numbers), so comparing it with v is the
        # test; v * step is within a tenth of n, so rounding finds it.
        if not -edge < v < edge:
            return None
        n = round(v * step)
        if n / step != v:
            return None
        if n == 0:
            return by_text(v)  # -0.0 keeps its sign, as the text's way writes it
        return Decimal(n).scaleb(-scale, _CTX)

    return by_step


_Convert = tuple[int, Callable[[Any], Any]]


def _row_plan(
    columns: list[tuple[type, Callable[[Any], Any] | None] | None],
) -> tuple[tuple[type, ...], list[_Convert]]:
    """The Python types a record's values must have, and the conversions by column position."""
    types = tuple(c[0] for c in columns if c is not None)
    converts = [(i, c[1]) for i, c in enumerate(columns) if c is not None and c[1] is not None]
    return types, converts


def _orjson_object(data: bytes) -> dict[str, Any] | None:
    """The JSON object `data` holds as orjson reads it, or None (not an object, or not JSON
    orjson reads: the json module's way then decides)."""
    try:
        node = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    return node if type(node) is dict else None


class _Unsure(Exception):
    """A column `_column_reader` cannot be sure of.

    Raised rather than returned as a marker: finding a marker among the values by `in`
    compares it with each, and a Decimal's comparison with an unknown object asks whether it
    is a `numbers.Rational`, an ABC check that cost a tenth of a filter's time a record."""


_Reader = Callable[[Any], Any]


def _column_reader(typ: type, convert: Callable[[Any], Any] | None) -> _Reader:
    """A peeked column's value (`JsonSerde.peeker`): null, or a value of the Python type `typ`
    (converted); `_Unsure` when it is missing under this exact name (`msgspec.UNSET`), of
    another type, or fails its conversion."""

    def read(v: Any) -> Any:
        if v is None:
            return v
        if type(v) is not typ:  # missing too
            raise _Unsure
        if convert is None:
            return v
        try:
            return convert(v)
        except (KsqlError, ArithmeticError, ValueError):
            raise _Unsure from None

    return read


def _decimal_reader(t: ty.DecimalType) -> Callable[[Any], Decimal | None]:
    """`_column_reader` for a DECIMAL column, sure of a value whatever else the record holds
    (`_grid_decimal`): anything it is not sure of is `_Unsure`."""
    grid = _grid_decimal(t)

    def read(v: Any) -> Decimal | None:
        if v is None:
            return None
        if type(v) is not float:  # missing too
            raise _Unsure
        value = grid(v)
        if value is None:
            raise _Unsure
        return value

    return read


def _no_fast_path(_node: dict[str, Any]) -> tuple[Any, ...]:
    return ()


class JsonSerde(Serde):
    """JSON keys or values; one column may be written bare (unwrapped)."""

    format_name = "JSON"

    def __init__(self, schema: list[Column], *, is_key: bool, wrap_single: bool) -> None:
        super().__init__(schema, is_key=is_key)
        self.unwrapped = len(schema) == 1 and not wrap_single
        self._decoders = [(name, _column_decoder(t)) for name, t in schema]
        # The usual record in one C call per step: all fields by their exact names, their
        # Python types compared at once, only the columns that need it converted.
        fast = [_fast_column(t) for _, t in schema]
        self._fields: Callable[[dict[str, Any]], tuple[Any, ...]] | None = None
        self._spelled: dict[tuple[str, ...], Callable[[dict[str, Any]], Any]] = {}
        # The last input and its row: queries that read one topic with equal schemas share
        # this serde (see runtime.formats), so a message is decoded once for all of them.
        self._memo: tuple[bytes | None, list[Any] | None] = (None, None)
        if len(schema) > 1 and all(f is not None for f in fast):
            self._fields = itemgetter(*(name for name, _ in schema))
            self._types, self._converts = _row_plan(fast)
            self._quick_types, self._quick_converts = _row_plan(
                [_quick_column(t) for _, t in schema]
            )
        # An object's text around its values' texts, as `dump` writes it.
        fields = (
            json.dumps(str(name), ensure_ascii=False).replace("%", "%%") for name, _ in schema
        )
        self._template = "{" + ",".join(f"{field}:%s" for field in fields) + "}"
        self._names = [str(name) for name, _ in schema]
        # A row of `_PLAIN_TYPES` as an object of the columns' names, written by msgspec in
        # one call: a Decimal's digits as `str` writes them, with no call back into Python
        # for it as orjson needed (0.5 against 1.2 µs a window row). But for a negative zero
        # (a BigDecimal zero is unsigned), looked for at the DECIMAL columns' places. None
        # for names msgspec will not write: their rows take the text template.
        places = [f"c{n}" for n in range(len(self._names))]
        self._row_shape: Callable[..., Any] | None
        try:
            self._row_shape = msgspec.defstruct(
                "Row",
                [(place, Any) for place in places],
                rename=dict(zip(places, self._names, strict=True)),
            )
        except ValueError:  # a quote, a backslash or a control character in a name
            self._row_shape = None
        self._decimal_places = [
            n for n, (_, t) in enumerate(schema) if isinstance(t, ty.DecimalType)
        ]

    def serialize(self, values: list[Any] | None) -> bytes | None:
        if values is None or isinstance(values, NullKey):
            return None
        self._check_width(values)
        # A bare null key is a Kafka null key; several key columns still make an object
        # (partition-by.json: {"ID": null, "AGE": null}).
        if self.is_key and self.unwrapped and values[0] is None:
            return None
        if self.unwrapped:
            node = to_json(values[0], self.schema[0][1])
            return dump(node).encode("utf-8")
        shape = self._row_shape
        if shape is not None and _PLAIN_TYPES.issuperset(map(type, values)):
            # Every window a busy aggregate updates is a row here, and every alert. The rare
            # row msgspec cannot write as ksqlDB does (a negative zero DECIMAL, a NaN, a lone
            # surrogate) takes the way below, which also decides the error.
            for n in self._decimal_places:
                v = values[n]
                if type(v) is Decimal and not v and v.is_signed():
                    break
            else:
                try:
                    return _ROW_WRITER.encode(shape(*values))
                except (ValueError, UnicodeEncodeError):
                    pass
        try:
            texts = tuple(map(call, map(_SCALAR_TEXT.__getitem__, map(type, values)), values))
        except KeyError:  # a list, map, struct, time or bytes value: the general path
            node = {name: to_json(v, t) for (name, t), v in zip(self.schema, values, strict=True)}
            return dump(node).encode("utf-8")
        return (self._template % texts).encode("utf-8")

    def deserialize(self, data: bytes | None) -> list[Any] | None:
        if data is None:
            return NullKey.of(len(self.schema)) if self.is_key else None
        memo = self._memo
        if memo[0] is data:
            return memo[1]
        row = self._deserialize(data)
        if not self.is_key:
            self._memo = (data, row)
        return row

    def _deserialize(self, data: bytes) -> list[Any] | None:
        if self._fields is not None and _short_numbers(data):
            row = self._quick(data)
            if row is not None:
                return row
        try:
            node = load(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as err:
            raise SerializationError(
                f"Failed to deserialize {self._side} from JSON: {err}"
            ) from err
        if node is None:
            return NullKey.of(len(self.schema)) if self.is_key else None
        if self.unwrapped or (len(self.schema) == 1 and not isinstance(node, dict)):
            return [from_json(node, self.schema[0][1])]
        if not isinstance(node, dict):
            struct = ty.StructType(tuple(self.schema))
            raise _mismatch(node, struct)
        if self._fields is not None:
            row = self._typed_row(node, self._types, self._converts)
            if row is not None:
                return row
        return [
            decode(node[name] if name in node else field_lookup(node, name))
            for name, decode in self._decoders
        ]

    def _quick(self, data: bytes) -> list[Any] | None:
        """The usual record read by orjson, or None: then the json module's way decides, and
        gives every error its message."""
        node = _orjson_object(data)
        if node is None:
            return None
        try:
            return self._typed_row(node, self._quick_types, self._quick_converts)
        except (KsqlError, ArithmeticError, ValueError):
            return None

    def _typed_row(
        self, node: dict[str, Any], types: tuple[type, ...], converts: list[_Convert]
    ) -> list[Any] | None:
        """The row of a record whose fields all have the Python `types` (else None), with the
        columns that need it converted."""
        assert self._fields is not None
        try:
            values = self._fields(node)
        except KeyError:
            values = self._fields_as_spelled(node)
        if tuple(map(type, values)) != types:
            return None
        row = list(values)
        for i, convert in converts:
            row[i] = convert(row[i])
        return row

    def peeker(
        self, indices: Sequence[int], *, checked: Collection[int] = ()
    ) -> Callable[[bytes], tuple[Any, ...] | None] | None:
        # The quick path's reading of just these columns, each under its exact name with the
        # Python type that path expects (or null). Column by column that path and the exact
        # one agree, so whatever else the record holds, these are the values `deserialize`
        # gives, or the record fails to decode. Strings, booleans, integers (range-checked)
        # and DECIMALs of the usual digits (`_decimal_reader`) read exactly whatever else the
        # record holds; a DOUBLE only when no number in it is long.
        # The record is read by a msgspec decoder of just these fields, which checks the rest
        # as JSON and skips it without making its values: a third of orjson's time for a
        # transaction, and a rule's WHERE peeks at every one (msgspec, as orjson, reads a
        # number into the double nearest its text, and a repeated name's last value).
        # `checked`: columns among `indices` whose values only need to decode (the pruner's):
        # a DOUBLE's then needs no look at the record's long numbers.
        plan = self._peek_plan(indices, checked)
        if plan is None:
            return None
        decode, readers, short_only = plan

        if len(readers) == 1:
            # The usual WHERE reads one column: this runs for every record of a rule's topic.
            (only,) = readers
            first = attrgetter("c0")

            def peek_one(data: bytes) -> tuple[Any, ...] | None:
                if short_only and not _short_numbers(data):
                    return None
                try:
                    return (only(first(decode(data))),)
                except (_Unsure, msgspec.DecodeError):  # not JSON, not an object
                    return None

            return peek_one

        def peek(data: bytes) -> tuple[Any, ...] | None:
            if short_only and not _short_numbers(data):
                return None
            try:
                values = msgspec.structs.astuple(decode(data))
                return tuple([read(v) for read, v in zip(readers, values, strict=True)])
            except (_Unsure, msgspec.DecodeError):
                return None

        return peek

    def _peek_plan(
        self, indices: Sequence[int], checked: Collection[int]
    ) -> tuple[Callable[[bytes], Any], list[_Reader], bool] | None:
        """`peeker`'s reading of `indices`: a msgspec decoder of their fields (`c0`, `c1`, ...
        in the order of `indices`), each column's reader, and whether only records without
        long numbers can be read this way."""
        if self.unwrapped or len(self.schema) < 2:
            return None
        names = [self._names[i] for i in indices]
        readers: list[_Reader] = []
        short_only = False
        for i in indices:
            t = self.schema[i][1]
            if isinstance(t, ty.DecimalType):
                readers.append(_decimal_reader(t))
                continue
            short_only = short_only or (t == ty.DOUBLE and i not in checked)
            column = _quick_column(t) if t == ty.DOUBLE else _fast_column(t)
            if column is None:
                return None
            readers.append(_column_reader(*column))
        fields = [f"c{n}" for n in range(len(names))]
        shape = msgspec.defstruct(
            "Peeked",
            [(field, Any, msgspec.UNSET) for field in fields],
            rename=dict(zip(fields, names, strict=True)),
        )
        return msgspec.json.Decoder(shape).decode, readers, short_only

    def pruner(self, read: Collection[int]) -> Callable[[bytes], list[Any] | None] | None:
        # A query that reads a few of a record's columns needs only those made into values,
        # and the others only checked where they could make the record fail to decode: every
        # type but a string, which takes any JSON value (`from_json`). So the peek's reading
        # of the columns read and the others that are not strings, exact or silent as it is:
        # for a transaction and the 1-minute count, 5 of its 13 fields.
        checked = {i for i, (_, t) in enumerate(self.schema) if t != ty.STRING and i not in read}
        indices = sorted({*read, *checked})
        if len(indices) == len(self.schema):
            return None  # nothing to leave out
        plan = self._peek_plan(indices, checked)
        if plan is None:
            return None
        decode, readers, short_only = plan
        # Written as one function for these columns, as the peek's steps would take them:
        # each value read by its reader in a line of its own, the row made in one display. Every
        # record of a pruned source passes here. Only names made here go into the source.
        names: dict[str, Any] = {
            "decode": decode,
            "short": _short_numbers if short_only else None,
            "DecodeError": msgspec.DecodeError,
            "Unsure": _Unsure,
        }
        lines = []
        cells = ["None"] * len(self.schema)
        for n, (i, read_column) in enumerate(zip(indices, readers, strict=True)):
            names[f"f{n}"] = read_column
            lines.append(f"v{n} = f{n}(s.c{n})")
            if i not in checked:
                cells[i] = f"v{n}"
        body = "\n        ".join(lines)
        source = (
            "def prune(data):\n"
            + ("    if not short(data): return None\n" if short_only else "")
            + "    try:\n"
            + "        s = decode(data)\n"
            + "    except DecodeError:\n"
            + "        return None\n"
            + "    try:\n"
            + f"        {body}\n"
            + "    except Unsure:\n"
            + "        return None\n"
            + f"    return [{', '.join(cells)}]\n"
        )
        exec(source, names)
        prune: Callable[[bytes], list[Any] | None] = names["prune"]
        return prune

    def _fields_as_spelled(self, node: dict[str, Any]) -> tuple[Any, ...]:
        """The fast path's values of a record whose fields are spelled in another case than
        the schema's (`account_id` for ACCOUNT_ID, as most producers write them).

        field_lookup picks the exact name, else the first case-insensitive match, so which key
        answers depends only on the record's keys in order: one getter per such key order.
        """
        keys = tuple(node)
        getter = self._spelled.get(keys)
        if getter is None:
            if len(self._spelled) >= 16:
                return ()  # records of many shapes: the general path
            names = []
            for name, _ in self.schema:
                upper = name.upper()
                spelled = (
                    name if name in node else next((k for k in keys if k.upper() == upper), None)
                )
                if spelled is None:
                    self._spelled[keys] = _no_fast_path
                    return ()
                names.append(spelled)
            getter = self._spelled[keys] = itemgetter(*names)
        return getter(node)  # type: ignore[no-any-return]

    def from_test_value(self, value: Any) -> bytes | None:
        if value is None:
            return None
        return json_text(value).encode("utf-8")

    def bytes_to_test_value(self, data: bytes | None) -> Any:
        if data is None:
            return None
        return load(data.decode("utf-8"))
