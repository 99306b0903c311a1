"""Scalar built-ins through the registry: argument types in, result type and value out."""

from __future__ import annotations

import datetime as dt
import json
import math
from decimal import Decimal
from typing import Any

import pytest

from ksql_emulator import sql_types as ty
from ksql_emulator.contracts.message import Message
from ksql_emulator.engine import Engine
from ksql_emulator.functions import default_registry

S, INT, L, F, B = ty.STRING, ty.INTEGER, ty.BIGINT, ty.DOUBLE, ty.BOOLEAN
TS, DATE, TIME, UNIT = ty.TIMESTAMP, ty.DATE, ty.TIME, ty.INTERVALUNIT
D = ty.DecimalType

# (function, argument types, argument values, result type, result value)
CASES: list[tuple[str, list[ty.SqlType | None], list[Any], ty.SqlType, Any]] = [
    # strings
    ("LCASE", [S], ["MiXeD"], S, "mixed"),
    ("UCASE", [S], ["MiXeD"], S, "MIXED"),
    ("TRIM", [S], ["\t padded \n"], S, "padded"),
    ("MD5", [S], [""], S, "d41d8cd98f00b204e9800998ecf8427e"),
    (
        "MD5",
        [S],
        ["The quick brown fox jumps over the lazy dog"],
        S,
        "9e107d9d372bb6826bd81d3542a419d6",
    ),
    ("MD5", [S], [None], S, None),
    ("LEN", [S], ["four"], INT, 4),
    ("LEN", [ty.BYTES], [b"\x00\x01"], INT, 2),
    ("SUBSTRING", [S, INT], ["streamguard", 7], S, "guard"),
    ("SUBSTRING", [S, INT, INT], ["streamguard", 1, 6], S, "stream"),
    ("SUBSTRING", [S, INT, INT], ["streamguard", -5, 2], S, "gu"),
    ("SUBSTRING", [S, INT], ["abc", 10], S, ""),
    ("SUBSTRING", [S, INT], ["abc", None], S, None),
    ("SUBSTRING", [ty.BYTES, INT, INT], [b"abcdef", 2, 2], ty.BYTES, b"bc"),
    ("CONCAT", [S, None, S], ["card-", None, "42"], S, "card-42"),
    ("CONCAT_WS", [S, S, S, S], ["/", "a", None, "c"], S, "a/c"),
    ("CONCAT_WS", [S, S, S], [None, "a", "b"], S, None),
    ("REPLACE", [S, S, S], ["banana", "an", "AN"], S, "bANANa"),
    ("REGEXP_EXTRACT", [S, S, INT], ["(\\w+)@(\\w+)", "mail me@host now", 2], S, "host"),
    ("REGEXP_EXTRACT", [S, S], ["\\d+", "no digits"], S, None),
    ("REGEXP_EXTRACT_ALL", [S, S], ["a.", "abacad"], ty.ArrayType(S), ["ab", "ac", "ad"]),
    ("REGEXP_REPLACE", [S, S, S], ["a-b-c", "-", "+"], S, "a+b+c"),
    ("REGEXP_SPLIT_TO_ARRAY", [S, S], ["a1b22c", "\\d+"], ty.ArrayType(S), ["a", "b", "c"]),
    ("SPLIT", [S, S], ["x,,y,", ","], ty.ArrayType(S), ["x", "", "y", ""]),
    ("SPLIT", [S, S], ["ab", ""], ty.ArrayType(S), ["a", "b"]),
    ("SPLIT", [S, S], ["", ""], ty.ArrayType(S), [""]),
    ("SPLIT_TO_MAP", [S, S, S], ["a=1;b=2", ";", "="], ty.MapType(S, S), {"a": "1", "b": "2"}),
    ("INSTR", [S, S], ["hello world", "o"], INT, 5),
    ("INSTR", [S, S, INT], ["hello world", "o", 6], INT, 8),
    ("INSTR", [S, S, INT, INT], ["hello world", "o", 1, 2], INT, 8),
    ("INSTR", [S, S], ["hello", "z"], INT, 0),
    ("LPAD", [S, INT, S], ["7", 3, "0"], S, "007"),
    ("RPAD", [S, INT, S], ["ab", 5, "xy"], S, "abxyx"),
    ("LPAD", [S, INT, S], ["abcdef", 3, "0"], S, "abc"),
    ("LPAD", [S, INT, S], ["a", -1, "0"], S, None),
    ("INITCAP", [S], ["hELLO  wORLD"], S, "Hello  World"),
    ("MASK", [S], ["Ab1-"], S, "Xxn-"),
    ("MASK", [S, S, S, S, S], ["Ab1-", "U", "l", "#", "_"], S, "Ul#_"),
    ("MASK_LEFT", [S, INT], ["abcd", 2], S, "xxcd"),
    ("MASK_RIGHT", [S, INT], ["abcd", 2], S, "abxx"),
    ("MASK_KEEP_LEFT", [S, INT], ["abcd", 1], S, "axxx"),
    ("MASK_KEEP_RIGHT", [S, INT], ["abcd", 1], S, "xxxd"),
    ("ENCODE", [S, S, S], ["4869", "hex", "utf8"], S, "Hi"),
    ("ENCODE", [S, S, S], ["Hi", "utf8", "base64"], S, "SGk="),
    ("ENCODE", [S, S, S], ["0x486", "hex", "base64"], S, "BIY="),
    ("ENCODE", [S, S, S], ["X'4869'", "hex", "utf8"], S, "Hi"),
    ("ENCODE", [S, S, S], ["X'4869", "hex", "utf8"], S, None),
    ("ENCODE", [S, S, S], ["486", "hex", "utf8"], S, None),
    ("ENCODE", [S, S, S], ["Hi", "utf8", "ebcdic"], S, None),
    ("TO_BYTES", [S, S], ["SGk=", "base64"], ty.BYTES, b"Hi"),
    ("FROM_BYTES", [ty.BYTES, S], [b"Hi", "hex"], S, "4869"),
    ("CHR", [INT], [75], S, "K"),
    ("CHR", [S], ["\\u597d"], S, "\u597d"),
    ("ELT", [INT, S, S], [2, "a", "b"], S, "b"),
    ("ELT", [INT, S, S], [3, "a", "b"], S, None),
    ("FIELD", [S, S, S], ["b", "a", "b"], INT, 2),
    ("URL_EXTRACT_HOST", [S], ["https://x.io:8080/p?q=1#f"], S, "x.io"),
    ("URL_EXTRACT_PORT", [S], ["https://x.io:8080/p?q=1#f"], INT, 8080),
    ("URL_EXTRACT_PARAMETER", [S, S], ["https://x.io/p?q=1&r=2", "r"], S, "2"),
    # math
    ("ABS", [INT], [-3], INT, 3),
    ("ABS", [D(3, 1)], [Decimal("-3.2")], D(3, 1), Decimal("3.2")),
    ("ABS", [F], [-1.5], F, 1.5),
    ("CEIL", [F], [1.2], F, 2.0),
    ("FLOOR", [F], [-1.2], F, -2.0),
    ("FLOOR", [D(3, 1)], [Decimal("-1.2")], D(3, 1), Decimal("-2.0")),
    ("ROUND", [F], [2.5], L, 3),
    ("ROUND", [F], [-2.5], L, -2),
    ("ROUND", [F, INT], [1.255, 2], F, 1.26),
    ("ROUND", [F, INT], [1234.5, -2], F, 1200.0),
    ("ROUND", [D(5, 3)], [Decimal("12.500")], D(2, 0), Decimal("13")),
    ("ROUND", [D(5, 3), INT], [Decimal("12.345"), 1], D(5, 3), Decimal("12.300")),
    ("TRUNC", [D(5, 3)], [Decimal("12.999")], D(2, 0), Decimal("12")),
    ("TRUNC", [F, INT], [1.789, 1], F, 1.7),
    ("SQRT", [INT], [16], F, 4.0),
    ("EXP", [INT], [0], F, 1.0),
    ("LN", [INT], [1], F, 0.0),
    ("LOG", [INT], [1], F, 0.0),
    ("LOG", [INT, INT], [2, 8], F, 3.0),
    ("POWER", [INT, INT], [2, 10], F, 1024.0),
    ("CBRT", [INT], [-27], F, -3.0),
    ("SIGN", [F], [-0.5], INT, -1),
    ("SIGN", [L], [0], INT, 0),
    ("DEGREES", [F], [math.pi], F, 180.0),
    ("GREATEST", [INT, INT, None, INT], [3, 9, None, 5], INT, 9),
    ("LEAST", [S, S], ["pear", "apple"], S, "apple"),
    ("GREATEST", [INT, F], [3, 2.5], F, 3.0),
    (
        "LEAST",
        [D(9, 2), D(7, 6)],
        [Decimal("1.50"), Decimal("0.123456")],
        D(13, 6),
        Decimal("0.123456"),
    ),
    (
        "GREATEST",
        [DATE, None, S],
        [dt.date(2020, 1, 1), None, "2022-06-14"],
        DATE,
        dt.date(2022, 6, 14),
    ),
    ("PI", [], [], F, math.pi),
    # date and time
    ("TIMESTAMPTOSTRING", [L, S], [0, "yyyy-MM-dd'T'HH:mm:ss.SSS"], S, "1970-01-01T00:00:00.000"),
    (
        "TIMESTAMPTOSTRING",
        [L, S, S],
        [1600000000000, "dd MMM yyyy HH:mm z", "Asia/Tokyo"],
        S,
        "13 Sep 2020 21:26 JST",
    ),
    ("TIMESTAMPTOSTRING", [L, S, S], [1600000000000, "HH:mm XXX", "+05:30"], S, "17:56 +05:30"),
    ("STRINGTOTIMESTAMP", [S, S], ["2020-09-13 12:26:40", "yyyy-MM-dd HH:mm:ss"], L, 1600000000000),
    (
        "STRINGTOTIMESTAMP",
        [S, S, S],
        ["2020-09-13 21:26:40", "yyyy-MM-dd HH:mm:ss", "Asia/Tokyo"],
        L,
        1600000000000,
    ),
    (
        "STRINGTOTIMESTAMP",
        [S, S],
        ["13/09/2020 12:26:40.5 +0000", "dd/MM/yyyy HH:mm:ss.S Z"],
        L,
        1600000000500,
    ),
    ("STRINGTOTIMESTAMP", [S, S], ["not a date", "yyyy-MM-dd"], L, None),
    (
        "FORMAT_TIMESTAMP",
        [TS, S],
        [dt.datetime(2021, 3, 4, 5, 6, 7), "EEE, d MMM yyyy h:mm a"],
        S,
        "Thu, 4 Mar 2021 5:06 AM",
    ),
    (
        "PARSE_TIMESTAMP",
        [S, S, S],
        ["2021-07-01 00:00", "yyyy-MM-dd HH:mm", "America/New_York"],
        TS,
        dt.datetime(2021, 7, 1, 4, 0),
    ),
    ("FORMAT_DATE", [DATE, S], [dt.date(2021, 3, 4), "dd.MM.yy"], S, "04.03.21"),
    ("PARSE_DATE", [S, S], ["04.03.2021", "dd.MM.yyyy"], DATE, dt.date(2021, 3, 4)),
    ("FORMAT_TIME", [TIME, S], [dt.time(13, 5, 9), "hh:mm:ss a"], S, "01:05:09 PM"),
    ("PARSE_TIME", [S, S], ["13:05", "HH:mm"], TIME, dt.time(13, 5)),
    ("DATETOSTRING", [INT, S], [18000, "yyyy-MM-dd"], S, "2019-04-14"),
    ("STRINGTODATE", [S, S], ["2019-04-14", "yyyy-MM-dd"], INT, 18000),
    ("UNIX_TIMESTAMP", [TS], [dt.datetime(1970, 1, 1, 0, 0, 1)], L, 1000),
    ("UNIX_DATE", [DATE], [dt.date(1970, 1, 11)], INT, 10),
    ("FROM_UNIXTIME", [L], [1500], TS, dt.datetime(1970, 1, 1, 0, 0, 1, 500000)),
    ("FROM_DAYS", [INT], [1], DATE, dt.date(1970, 1, 2)),
    ("DATEADD", [UNIT, INT, DATE], ["DAYS", 10, dt.date(2020, 2, 25)], DATE, dt.date(2020, 3, 6)),
    ("DATEADD", [S, INT, DATE], ["DAYS", -1, dt.date(2020, 3, 1)], DATE, dt.date(2020, 2, 29)),
    ("DATESUB", [UNIT, INT, DATE], ["DAYS", 1, dt.date(2020, 3, 1)], DATE, dt.date(2020, 2, 29)),
    ("TIMEADD", [UNIT, INT, TIME], ["HOURS", 2, dt.time(23, 0)], TIME, dt.time(1, 0)),
    ("TIMESUB", [UNIT, INT, TIME], ["MINUTES", 30, dt.time(0, 10)], TIME, dt.time(23, 40)),
    (
        "TIMESTAMPADD",
        [UNIT, INT, TS],
        ["SECONDS", 90, dt.datetime(2020, 1, 1)],
        TS,
        dt.datetime(2020, 1, 1, 0, 1, 30),
    ),
    (
        "TIMESTAMPSUB",
        [UNIT, INT, TS],
        ["DAYS", 1, dt.datetime(2020, 1, 1)],
        TS,
        dt.datetime(2019, 12, 31),
    ),
    (
        "CONVERT_TZ",
        [TS, S, S],
        [dt.datetime(2020, 6, 1, 12), "UTC", "Europe/Berlin"],
        TS,
        dt.datetime(2020, 6, 1, 14),
    ),
    # JSON
    ("EXTRACTJSONFIELD", [S, S], ['{"a": {"b": [10, {"c": "deep"}]}}', "$.a.b[1].c"], S, "deep"),
    ("EXTRACTJSONFIELD", [S, S], ['{"a": {"b": 1}}', "$.a"], S, '{"b":1}'),
    ("EXTRACTJSONFIELD", [S, S], ['{"a": 2.50}', "$.a"], S, "2.50"),
    ("EXTRACTJSONFIELD", [S, S], ["not json", "$.a"], S, None),
    ("EXTRACTJSONFIELD", [S, S], ['{"a": 1}', "$.missing"], S, None),
    ("JSON_ARRAY_CONTAINS", [S, INT], ["[1, 2, 3]", 2], B, True),
    ("JSON_ARRAY_CONTAINS", [S, S], ['["1"]', "1"], B, True),
    ("JSON_ARRAY_CONTAINS", [S, INT], ['["1"]', 1], B, False),
    ("JSON_ARRAY_CONTAINS", [S, INT], ["{}", 1], B, False),
    ("IS_JSON_STRING", [S], ['{"a": 1}'], B, True),
    ("IS_JSON_STRING", [S], ["{a: 1}"], B, False),
    ("IS_JSON_STRING", [S], [None], B, False),
    ("JSON_ARRAY_LENGTH", [S], ["[1, [2, 3]]"], INT, 2),
    ("JSON_ARRAY_LENGTH", [S], ['{"a": 1}'], INT, None),
    ("JSON_KEYS", [S], ['{"x": 1, "y": 2}'], ty.ArrayType(S), ["x", "y"]),
    (
        "JSON_ITEMS",
        [S],
        ['[{"type": "A", "n": 1.50}, {"nested": {"b": [true]}}]'],
        ty.ArrayType(S),
        ['{"type":"A","n":1.50}', '{"nested":{"b":[true]}}'],
    ),
    ("JSON_ITEMS", [S], ["[]"], ty.ArrayType(S), []),
    ("JSON_ITEMS", [S], ['[{"a": 1}, 2]'], ty.ArrayType(S), None),
    ("JSON_ITEMS", [S], [None], ty.ArrayType(S), None),
    ("JSON_RECORDS", [S], ['{"x": {"y": true}}'], ty.MapType(S, S), {"x": '{"y":true}'}),
    ("JSON_RECORDS", [S], ['{"x": "text", "n": 1}'], ty.MapType(S, S), {"x": "text", "n": "1"}),
    ("JSON_CONCAT", [S, S], ['{"a": 1}', '{"a": 2, "b": 3}'], S, '{"a":2,"b":3}'),
    ("JSON_CONCAT", [S, S], ["[1]", "[2, 3]"], S, "[1,2,3]"),
    (
        "TO_JSON_STRING",
        [ty.StructType((("ID", INT), ("TAGS", ty.ArrayType(S))))],
        [{"ID": 1, "TAGS": ["a"]}],
        S,
        '{"ID":1,"TAGS":["a"]}',
    ),
    ("TO_JSON_STRING", [D(4, 2)], [Decimal("1.50")], S, "1.50"),
    ("TO_JSON_STRING", [DATE], [dt.date(1970, 1, 2)], S, '"1970-01-02"'),
    ("TO_JSON_STRING", [S], [None], S, "null"),
    # geo
    ("GEO_DISTANCE", [F, F, F, F], [0.0, 0.0, 0.0, 1.0], F, 111.19492664455873),
    ("GEO_DISTANCE", [F, F, F, F, S], [0.0, 0.0, 0.0, 1.0, "mi"], F, 69.09758508645551),
    # arrays and maps
    ("ARRAY_CONTAINS", [ty.ArrayType(INT), INT], [[1, 2], 2], B, True),
    ("ARRAY_CONTAINS", [ty.ArrayType(INT), INT], [None, 2], B, False),
    ("ARRAY_LENGTH", [ty.ArrayType(S)], [["a", "b"]], INT, 2),
    (
        "ARRAY_DISTINCT",
        [ty.ArrayType(INT)],
        [[1, 2, 1, None, None]],
        ty.ArrayType(INT),
        [1, 2, None],
    ),
    (
        "ARRAY_EXCEPT",
        [ty.ArrayType(INT), ty.ArrayType(INT)],
        [[1, 2, 3, 1], [2]],
        ty.ArrayType(INT),
        [1, 3],
    ),
    (
        "ARRAY_INTERSECT",
        [ty.ArrayType(INT), ty.ArrayType(INT)],
        [[1, 2, 3], [3, 1]],
        ty.ArrayType(INT),
        [1, 3],
    ),
    (
        "ARRAY_UNION",
        [ty.ArrayType(INT), ty.ArrayType(INT)],
        [[1, 2], [2, 3]],
        ty.ArrayType(INT),
        [1, 2, 3],
    ),
    ("ARRAY_CONCAT", [ty.ArrayType(INT), ty.ArrayType(INT)], [[1], None], ty.ArrayType(INT), [1]),
    ("ARRAY_JOIN", [ty.ArrayType(INT)], [[1, 2]], S, "1,2"),
    ("ARRAY_JOIN", [ty.ArrayType(B), S], [[True, None], "|"], S, "true|null"),
    ("ARRAY_MAX", [ty.ArrayType(INT)], [[3, None, 7]], INT, 7),
    ("ARRAY_MIN", [ty.ArrayType(S)], [["b", "a"]], S, "a"),
    ("ARRAY_SORT", [ty.ArrayType(INT)], [[3, None, 1]], ty.ArrayType(INT), [1, 3, None]),
    ("ARRAY_SORT", [ty.ArrayType(INT), S], [[3, 1, 2], "desc"], ty.ArrayType(INT), [3, 2, 1]),
    ("ARRAY_REMOVE", [ty.ArrayType(INT), INT], [[1, 2, 1], 1], ty.ArrayType(INT), [2]),
    ("SLICE", [ty.ArrayType(INT), INT, INT], [[1, 2, 3, 4], 2, 3], ty.ArrayType(INT), [2, 3]),
    ("GENERATE_SERIES", [INT, INT], [1, 3], ty.ArrayType(INT), [1, 2, 3]),
    ("GENERATE_SERIES", [INT, INT, INT], [10, 0, -5], ty.ArrayType(INT), [10, 5, 0]),
    (
        "AS_MAP",
        [ty.ArrayType(S), ty.ArrayType(INT)],
        [["a", "b"], [1, 2]],
        ty.MapType(S, INT),
        {"a": 1, "b": 2},
    ),
    ("MAP_KEYS", [ty.MapType(S, INT)], [{"a": 1}], ty.ArrayType(S), ["a"]),
    ("MAP_VALUES", [ty.MapType(S, INT)], [{"a": 1}], ty.ArrayType(INT), [1]),
    (
        "MAP_UNION",
        [ty.MapType(S, INT), ty.MapType(S, INT)],
        [{"a": 1}, {"a": 2, "b": 3}],
        ty.MapType(S, INT),
        {"a": 2, "b": 3},
    ),
    (
        "ENTRIES",
        [ty.MapType(S, INT), B],
        [{"b": 2, "a": 1}, True],
        ty.ArrayType(ty.StructType((("K", S), ("V", INT)))),
        [{"K": "a", "V": 1}, {"K": "b", "V": 2}],
    ),
    # conditional
    ("COALESCE", [None, INT, INT], [None, None, 4], INT, 4),
    ("COALESCE", [INT, L], [1, 2], L, 1),
    ("IFNULL", [S, S], [None, "fallback"], S, "fallback"),
    ("IFNULL", [S, S], ["value", "fallback"], S, "value"),
    ("NULLIF", [INT, INT], [3, 3], INT, None),
    ("NULLIF", [INT, INT], [3, 4], INT, 3),
    ("AS_VALUE", [S], ["key-1"], S, "key-1"),
    ("ARRAY_REMOVE", [ty.ArrayType(INT), INT], [[1, None, 2], None], ty.ArrayType(INT), [1, 2]),
    ("ARRAY_JOIN", [ty.ArrayType(INT), S], [[1, 2], None], S, "12"),
    ("URL_EXTRACT_PATH", [S], ["http://x.io?q"], S, ""),
    # bytes to numbers
    ("INT_FROM_BYTES", [ty.BYTES], [b"\x00\x00\x01\x00"], INT, 256),
    ("BIGINT_FROM_BYTES", [ty.BYTES, S], [b"\x01" + b"\x00" * 7, "LITTLE_ENDIAN"], L, 1),
]


@pytest.mark.parametrize(
    ("name", "arg_types", "args", "return_type", "expected"),
    CASES,
    ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)],
)
def test_builtin(
    name: str,
    arg_types: list[ty.SqlType | None],
    args: list[Any],
    return_type: ty.SqlType,
    expected: Any,
) -> None:
    resolved = default_registry().resolve(name, arg_types)
    assert resolved.return_type == return_type
    result = resolved.call(*args)
    if isinstance(expected, float):
        assert result == pytest.approx(expected, rel=1e-12)
    else:
        assert result == expected
    if isinstance(expected, Decimal):
        assert str(result) == str(expected)


@pytest.mark.parametrize(
    ("name", "arg_types", "args"),
    [("LN", [F], [-1.0]), ("ACOS", [F], [2.0]), ("SQRT", [INT], [-4])],
)
def test_math_outside_the_domain_gives_nan_as_java_does(
    name: str, arg_types: list[ty.SqlType | None], args: list[Any]
) -> None:
    assert math.isnan(default_registry().resolve(name, arg_types).call(*args))


def test_ln_and_log_of_zero_are_minus_infinity() -> None:
    reg = default_registry()
    assert reg.resolve("LN", [INT]).call(0) == -math.inf
    assert reg.resolve("LOG", [L]).call(0) == -math.inf


def test_uuid_and_random_are_fresh_each_call() -> None:
    reg = default_registry()
    uuid = reg.resolve("UUID", [])
    first, second = uuid.call(), uuid.call()
    assert len(first) == 36 and first != second
    value = reg.resolve("RANDOM", []).call()
    assert 0.0 <= value < 1.0


def test_unix_timestamp_without_arguments_is_now() -> None:
    now_ms = dt.datetime.now(dt.UTC).timestamp() * 1000
    assert abs(default_registry().resolve("UNIX_TIMESTAMP", []).call() - now_ms) < 5000


@pytest.mark.parametrize("text", ['{"a": 1}', "[{]", "not json"])
def test_json_items_of_anything_but_a_json_array_is_a_function_error(text: str) -> None:
    # The error ksqlDB raises surfaces, as every function error does, as a NULL result.
    assert default_registry().resolve("JSON_ITEMS", [S]).call(text) is None
    from ksql_emulator.functions.json_functions import _items

    with pytest.raises(ValueError, match="Invalid JSON format"):
        _items(text)


def test_split_to_map_keeps_the_text_between_the_first_two_key_value_delimiters() -> None:
    split = default_registry().resolve("SPLIT_TO_MAP", [ty.STRING] * 3).call
    assert split("a=1=2;;b=;=c;d;a=3", ";", "=") == {"a": "3", "b": "", "": "c"}
    assert split("x==y", ";", "=") == {"x": ""}


@pytest.mark.parametrize(("base", "value"), [(1.0, 5.0), (0.0, 5.0), (-2.0, 8.0), (1.0, 1.0)])
def test_log_with_a_base_of_one_or_not_positive_is_nan(base: float, value: float) -> None:
    log = default_registry().resolve("LOG", [ty.DOUBLE, ty.DOUBLE]).call
    assert math.isnan(log(base, value))


def test_log_with_a_valid_base_divides_the_natural_logarithms() -> None:
    log = default_registry().resolve("LOG", [ty.DOUBLE, ty.DOUBLE]).call
    assert log(2.0, 8.0) == 3.0
    assert log(2.0, 0.0) == -math.inf
    assert math.isnan(log(2.0, -1.0))


def test_from_bytes_writes_upper_case_hex_and_to_bytes_reads_only_that() -> None:
    reg = default_registry()
    to_bytes = reg.resolve("TO_BYTES", [ty.STRING, ty.STRING]).call
    from_bytes = reg.resolve("FROM_BYTES", [ty.BYTES, ty.STRING]).call
    assert from_bytes(b"\x0a\xff", "hex") == "0AFF"
    assert to_bytes("0AFF", "hex") == b"\x0a\xff"
    # Text that is not upper-case base 16 fails, so the call gives NULL.
    assert [to_bytes(text, "hex") for text in ("0aff", "0AF", "0x0A")] == [None, None, None]


def test_base64_from_bytes_breaks_lines_as_mime_and_to_bytes_skips_them() -> None:
    reg = default_registry()
    to_bytes = reg.resolve("TO_BYTES", [ty.STRING, ty.STRING]).call
    from_bytes = reg.resolve("FROM_BYTES", [ty.BYTES, ty.STRING]).call
    text = from_bytes(bytes(range(60)), "base64")
    assert text.split("\r\n")[0] == text[:76] and len(text.split("\r\n")) == 2
    assert to_bytes(text, "base64") == bytes(range(60))


def test_cube_explode_gives_each_combination_once_when_items_are_null() -> None:
    from ksql_emulator.functions import table_registry

    cube = table_registry().resolve("CUBE_EXPLODE", [ty.ArrayType(ty.INTEGER)]).call
    assert cube([1, None]) == [[None, None], [1, None]]
    assert cube([1, 2]) == [[None, None], [None, 2], [1, None], [1, 2]]


def test_reduce_without_an_initial_state_is_null_and_without_a_collection_is_the_state() -> None:
    engine = Engine()
    engine.execute(
        "CREATE STREAM S (K STRING KEY, M MAP<STRING, DOUBLE>, A ARRAY<INT>, I INT) "
        "WITH (kafka_topic='s', format='JSON');"
        "CREATE STREAM O AS SELECT K, REDUCE(M, CAST(I AS DOUBLE), (s, k, v) => s + v) AS RM, "
        "REDUCE(A, I, (s, x) => s + x) AS RA FROM S;"
    )
    for value in ('{"M": {"a": 1.5}, "A": [1, 2], "I": null}', '{"M": null, "A": null, "I": 3}'):
        engine.broker.produce(Message("s", b'"k"', value.encode(), timestamp=0))
    assert [json.loads(m.value or b"") for m in engine.broker.topics["O"]] == [
        {"RM": None, "RA": None},
        {"RM": 3.0, "RA": 3},
    ]
