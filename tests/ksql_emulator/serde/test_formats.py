"""JSON, KAFKA, DELIMITED and NONE: bytes <-> column values, and QTT's spelling of records."""

from __future__ import annotations

import datetime as dt
import json
import random
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from ksql_emulator import sql_types as ty
from ksql_emulator import text_forms
from ksql_emulator.errors import KsqlStatementError, SerializationError
from ksql_emulator.serde import check_schema, make_serde

S, INT, L, F, B = ty.STRING, ty.INTEGER, ty.BIGINT, ty.DOUBLE, ty.BOOLEAN
Schema = list[tuple[str, ty.SqlType]]


def serde(
    fmt: str, schema: Schema, *, key: bool = False, wrap: bool | None = None, **props: str
) -> Any:
    return make_serde(fmt, schema, wrap_single=wrap, is_key=key, props=props)


TXN: Schema = [
    ("ACCOUNT_ID", S),
    ("AMOUNT", ty.DecimalType(12, 2)),
    ("EVENT_TIME", ty.TIMESTAMP),
    ("APPROVED", B),
    ("TAGS", ty.ArrayType(S)),
    ("GEO", ty.StructType((("LAT", F), ("LON", F)))),
    ("DAY", ty.DATE),
    ("AT", ty.TIME),
    ("RAW", ty.BYTES),
]
TXN_VALUES = [
    "acc-1",
    Decimal("12.50"),
    dt.datetime(2018, 5, 11, 21, 58, 33),
    True,
    ["a", None],
    {"LAT": 1.5, "LON": -2.0},
    dt.date(1970, 1, 11),
    dt.time(0, 0, 1),
    b"hi",
]
TXN_JSON = (
    '{"ACCOUNT_ID":"acc-1","AMOUNT":12.50,"EVENT_TIME":1526075913000,"APPROVED":true,'
    '"TAGS":["a",null],"GEO":{"LAT":1.5,"LON":-2.0},"DAY":10,"AT":1000,"RAW":"aGk="}'
)


def test_json_writes_ksqldb_shapes() -> None:
    assert serde("JSON", TXN).serialize(TXN_VALUES) == TXN_JSON.encode()


def test_json_reads_back_what_it_writes() -> None:
    s = serde("JSON", TXN)
    assert s.deserialize(TXN_JSON.encode()) == TXN_VALUES


JSON_READS: list[tuple[Schema, str, list[Any] | None]] = [
    ([("FOO", S), ("BAR", INT)], '{"foo": "x", "Bar": 7}', ["x", 7]),
    ([("FOO", S), ("BAR", INT)], '{"FOO": "x"}', ["x", None]),
    ([("FOO", S)], '{"FOO": 12.5}', ["12.5"]),
    ([("FOO", S)], '{"FOO": {"n": [1, 2]}}', ['{"n":[1,2]}']),
    ([("N", INT)], '{"N": "42"}', [42]),
    ([("N", INT)], '{"N": 3.9}', [3]),
    ([("N", L)], '{"N": 9007199254740993}', [9007199254740993]),
    ([("D", F)], '{"D": 1}', [1.0]),
    ([("D", ty.DecimalType(6, 4))], '{"D": 10}', [Decimal("10.0000")]),
    ([("B", B)], '{"B": "TRUE"}', [True]),
    ([("M", ty.MapType(S, INT))], '{"M": {"a": 1}}', [{"a": 1}]),
    ([("FOO", S), ("BAR", INT)], "null", None),
]


@pytest.mark.parametrize(("schema", "text", "expected"), JSON_READS)
def test_json_reads_leniently_as_ksqldb_does(schema: Schema, text: str, expected: Any) -> None:
    assert serde("JSON", schema).deserialize(text.encode()) == expected


# A record of plain columns, as the rules read transactions: decoded on a faster path whose
# numbers are floats, which must not show in any value.
PLAIN: Schema = [("ID", S), ("AMOUNT", ty.DecimalType(12, 2)), ("LAT", F), ("N", L), ("OK", B)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '{"id":"a","amount":1.10,"lat":52.52,"n":1767225600000,"ok":true}',
            ["a", Decimal("1.10"), 52.52, 1767225600000, True],
        ),
        # The double nearest to this amount is 0.125, which would round up to 0.13.
        (
            '{"ID":"a","AMOUNT":0.12499999999999999999,"LAT":-0.0,"N":-1,"OK":false}',
            ["a", Decimal("0.12"), -0.0, -1, False],
        ),
        (
            '{"ID":"a","AMOUNT":1.5e2,"LAT":1E-3,"N":9007199254740993,"OK":null}',
            ["a", Decimal("150.00"), 0.001, 9007199254740993, None],
        ),
        # A card number in a string, and an integer a double cannot hold.
        (
            '{"ID":"4111111111111111","AMOUNT":-0.005,"LAT":1,"N":"12","OK":true}',
            ["4111111111111111", Decimal("-0.01"), 1.0, 12, True],
        ),
        # Past a long, Jackson's asLong wraps around.
        (
            '{"ID":"a","AMOUNT":1,"LAT":1.5,"N":9223372036854775808,"OK":true}',
            ["a", Decimal("1.00"), 1.5, -9223372036854775808, True],
        ),
    ],
)
def test_json_records_keep_every_digit(text: str, expected: list[Any]) -> None:
    assert serde("JSON", PLAIN).deserialize(text.encode()) == expected


def _amount_texts() -> list[str]:
    """Numbers as producers write them: cents, whole amounts, halves at every digit, more
    digits than a double holds, exponents, signs and zeros."""
    rng = random.Random(7)
    texts = ["0", "-0", "0.0", "-0.0", "-0.00", "1e-5", "5E-7", "1.5e2", "999999999.995"]
    for _ in range(400):
        whole = rng.choice([0, 1, 9, 12, 5000, 99999, 123456789, 999999999])
        texts.append(f"{rng.choice(['', '-'])}{whole}.{rng.randrange(10**4):04d}")
        texts.append(f"{rng.randrange(10**9)}.{rng.randrange(100):02d}")
        texts.append(f"{rng.randrange(10**6)}.{rng.randrange(10**20):020d}")
        texts.append(f"{rng.randrange(1000)}.{rng.randrange(100):02d}5")
        texts.append(f"{rng.randrange(1, 10)}.{rng.randrange(1000)}e{rng.randrange(-8, 8)}")
        texts.append(str(rng.randrange(-(10**9), 10**9)))
    return texts


@pytest.mark.parametrize("scale", [0, 2, 4, 6])
def test_json_decimals_read_as_their_text_rounds(scale: int) -> None:
    # The usual record's numbers come through floats (orjson), its DECIMAL from the double;
    # a number longer than a double holds sends a record the exact way (the json module's
    # Decimals). Both ways must give the text rounded half up to the scale, with the same
    # digits and scale for the sink, and a WHERE that reads the column alone the same or
    # a decode.
    schema: Schema = [("ID", S), ("AMOUNT", ty.DecimalType(15, scale)), ("LAT", F)]
    json_serde = serde("JSON", schema)
    peek = json_serde.peeker([1])
    step = Decimal(1).scaleb(-scale)
    for text in _amount_texts():
        usual = f'{{"ID":"a","AMOUNT":{text},"LAT":52.52}}'.encode()
        exact = f'{{"ID":"a","AMOUNT":{text},"LAT":52.52,"PAD":12345678901234567}}'.encode()
        (_, amount, _) = json_serde.deserialize(usual)
        (_, exact_amount, _) = json_serde.deserialize(exact)
        assert exact_amount == Decimal(text).quantize(step, ROUND_HALF_UP), text
        assert (str(amount), text) == (str(exact_amount), text)
        peeked = peek(usual)
        assert peeked is None or (str(peeked[0]), text) == (str(exact_amount), text)


@pytest.mark.parametrize(
    ("fmt", "written"), [("JSON", b'{"ID":"a","AMOUNT":0.00}'), ("DELIMITED", b"a,0.00")]
)
def test_a_decimal_rounded_to_zero_is_written_unsigned(fmt: str, written: bytes) -> None:
    # -0.001 in cents: Python keeps the sign (-0.00), Java's BigDecimal (ksqlDB) has none.
    schema: Schema = [("ID", S), ("AMOUNT", ty.DecimalType(12, 2))]
    row = serde("JSON", schema).deserialize(b'{"ID":"a","AMOUNT":-0.001}')
    assert serde(fmt, schema).serialize(row) == written


def _odd_records(count: int) -> list[bytes]:
    """Usual records (ID, N, AMOUNT, LAT, OK in any order) with a few things producers get
    wrong: a field in another case, repeated, missing, null or of another JSON type, a nested
    object of the same names, a long number beside it, not JSON at all."""
    rng = random.Random(11)
    odd: list[Any] = [
        None,
        True,
        0,
        -0.0,
        7,
        7.0,
        2**63,
        2**64 + 1,
        "7",
        "",
        [1],
        {"N": 1, "AMOUNT": 9.5},
        1e-7,
        0.125,
        1000.005,
        123456789012345678,
        1.23456789012345678,
        -3.5e300,
    ]
    out = []
    for _ in range(count):
        fields = [
            ["ID", f"acc-{rng.randint(1, 9)}"],
            ["N", rng.randint(-5, 10**12)],
            ["AMOUNT", round(rng.uniform(-10, 10_000), rng.choice([0, 1, 2, 2, 3]))],
            ["LAT", round(rng.uniform(-90, 90), rng.randint(1, 17))],
            ["OK", rng.random() < 0.5],
        ]
        rng.shuffle(fields)
        for _ in range(rng.randint(0, 2)):
            field = rng.choice(fields)
            change = rng.randrange(5)
            if change == 0:
                field[0] = field[0].lower()
            elif change == 1:
                fields.append([field[0], rng.choice(odd)])
            elif change == 2:
                fields.remove(field)
            elif change == 3:
                field[1] = rng.choice(odd)
            else:
                fields.append(["X", rng.choice(odd)])
        text = "{" + ",".join(f'"{name}":{_json_text(v)}' for name, v in fields) + "}"
        pick = rng.random()
        if pick < 0.02:
            text = text[:-1]
        elif pick < 0.04:
            text = "[" + text + "]"
        elif pick < 0.06:
            text += " x"
        out.append(text.encode())
    return out


def _json_text(value: Any) -> str:
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list | dict):
        return str(value).replace("'", '"')
    return repr(value)


def test_a_where_peek_gives_what_decoding_gives_or_nothing() -> None:
    # The WHERE of a query alone on its topic judges records by the columns it reads before
    # decoding them whole: whatever a record holds, the peek's values must be the ones the
    # whole decoding gives (or the record must fail to decode), or it has nothing to say.
    schema: Schema = [("ID", S), ("N", L), ("AMOUNT", ty.DecimalType(12, 2)), ("LAT", F), ("OK", B)]
    json_serde = serde("JSON", schema)
    said = 0
    for columns in ([1], [2], [3], [4], [0, 2], [1, 2, 3, 4]):
        peek = json_serde.peeker(columns)
        for data in _odd_records(3000):
            peeked = peek(data)
            if peeked is None:
                continue
            said += 1
            try:
                row = json_serde.deserialize(data)
            except SerializationError:
                continue
            assert row is not None, data
            assert list(peeked) == [row[c] for c in columns], data
    # Most usual records are peeked at, or the comparison proves little.
    assert said > 10_000, said


def test_a_pruned_record_is_what_decoding_gives_or_nothing() -> None:
    # A query that reads a few columns has the others left out: the values it reads must be
    # the whole decoding's, and a record the whole decoding refuses must never be read (the
    # columns left out could refuse it, but strings take anything).
    schema: Schema = [("ID", S), ("N", L), ("AMOUNT", ty.DecimalType(12, 2)), ("LAT", F), ("OK", B)]
    json_serde = serde("JSON", schema)
    assert json_serde.pruner([0, 1, 2, 3, 4]) is None  # nothing to leave out
    assert json_serde.pruner([0]) is None  # the others are all checked: ID is read
    said = 0
    for read in ([1], [2], [3], [4], [1, 2, 3, 4]):
        prune = json_serde.pruner(read)
        assert prune is not None
        for data in _odd_records(3000):
            pruned = prune(data)
            if pruned is None:
                continue
            said += 1
            row = json_serde.deserialize(data)  # never refuses a record the pruner read
            assert row is not None, data
            assert pruned == [row[c] if c in read else None for c in range(len(schema))], data
    assert said > 4_000, said


def test_json_decimal_digits_beyond_a_double_are_kept() -> None:
    schema: Schema = [("ID", S), ("D", ty.DecimalType(38, 20))]
    row = serde("JSON", schema).deserialize(b'{"ID":"x","D":1.23456789012345678901}')
    assert row == ["x", Decimal("1.23456789012345678901")]


def test_json_single_value_wrapping() -> None:
    schema: Schema = [("FOO", INT)]
    assert serde("JSON", schema).serialize([5]) == b'{"FOO":5}'
    assert serde("JSON", schema, wrap=False).serialize([5]) == b"5"
    assert serde("JSON", schema, wrap=False).deserialize(b"5") == [5]
    # Keys are bare by default; several key columns make an object.
    assert serde("JSON", [("K", S)], key=True).serialize(["k1"]) == b'"k1"'
    assert serde("JSON", [("A", S), ("B", INT)], key=True).serialize(["x", 1]) == b'{"A":"x","B":1}'


@pytest.mark.parametrize(
    ("schema", "data", "message"),
    [
        ([("A", S), ("B", INT)], b"[1, 2]", "Can't convert type. sourceType: ArrayNode"),
        ([("N", INT)], b'{"N": "x"}', 'For input string: "x"'),
        ([("N", INT)], b"{not json", "Failed to deserialize value from JSON"),
        ([("D", ty.DecimalType(3, 1))], b'{"D": 1000}', "Numeric field overflow"),
        (PLAIN, b'{"ID":"a","AMOUNT":1e12,"LAT":1.5,"N":1,"OK":true}', "Numeric field overflow"),
        (PLAIN, b'{"ID":"a","AMOUNT":1,"LAT":1.5,"N":1,"OK":true', "Failed to deserialize value"),
    ],
)
def test_json_errors_say_what_did_not_fit(schema: Schema, data: bytes, message: str) -> None:
    with pytest.raises(SerializationError, match=message.replace("(", r"\(").replace("[", r"\[")):
        serde("JSON", schema).deserialize(data)


KAFKA_CASES: list[tuple[ty.SqlType, Any, bytes]] = [
    (INT, 1, b"\x00\x00\x00\x01"),
    (INT, -2, b"\xff\xff\xff\xfe"),
    (L, 1, b"\x00" * 7 + b"\x01"),
    (F, 1.5, b"\x3f\xf8" + b"\x00" * 6),
    (S, "héllo", "héllo".encode()),
    (ty.BYTES, b"\x01\x02", b"\x01\x02"),
]


@pytest.mark.parametrize(("sql_type", "value", "data"), KAFKA_CASES)
def test_kafka_uses_kafkas_byte_layouts(sql_type: ty.SqlType, value: Any, data: bytes) -> None:
    s = serde("KAFKA", [("V", sql_type)])
    assert s.serialize([value]) == data
    assert s.deserialize(data) == [value]


def test_kafka_rejects_bytes_of_the_wrong_size() -> None:
    with pytest.raises(
        SerializationError, match="Size of data received by IntegerDeserializer is not 4"
    ):
        serde("KAFKA", [("V", INT)]).deserialize(b"\x00\x01")


@pytest.mark.parametrize("fmt", ["JSON", "KAFKA", "DELIMITED"])
def test_null_key_is_null_columns_and_null_value_a_tombstone(fmt: str) -> None:
    key = serde(fmt, [("K", S)], key=True)
    assert key.deserialize(None) == [None]
    assert key.serialize([None]) is None
    assert serde(fmt, [("V", S)]).deserialize(None) is None
    assert serde(fmt, [("V", S)]).serialize(None) is None


def test_null_columns_of_a_multi_column_json_key_are_still_written() -> None:
    key = serde("JSON", [("ID", INT), ("AGE", INT)], key=True)
    assert key.serialize([None, None]) == b'{"ID":null,"AGE":null}'
    # ...while a key that arrived as null bytes goes out as null bytes.
    arrived = key.deserialize(None)
    assert arrived == [None, None]
    assert key.serialize(arrived) is None


DELIMITED_WRITES: list[tuple[list[Any], str]] = [
    (["plain", 1, 2.5], "plain,1,2.5"),
    (["a,b", 1, None], '"a,b",1,'),
    ([" \tlead", None, 1e10], '" \tlead",,1.0E10'),
    (['say "hi"', 0, 0.0], '"say ""hi""",0,0.0'),
    (["trail ", 0, 0.0], '"trail ",0,0.0'),
    (["", 0, 0.0], '"",0,0.0'),
    (["-5", -5, -0.5], '"-5",-5,-0.5'),
    (["été", 0, 0.0], '"été",0,0.0'),
]


@pytest.mark.parametrize(("values", "line"), DELIMITED_WRITES)
def test_delimited_quotes_only_where_needed(values: list[Any], line: str) -> None:
    schema: Schema = [("S", S), ("I", INT), ("D", F)]
    assert serde("DELIMITED", schema).serialize(values) == line.encode()


def test_delimited_reads_typed_fields_and_empty_as_null() -> None:
    schema: Schema = [
        ("S", S),
        ("I", INT),
        ("B", B),
        ("D", ty.DecimalType(4, 2)),
        ("T", ty.TIMESTAMP),
        ("X", L),
    ]
    row = serde("DELIMITED", schema).deserialize(b'"x,y",-3,true,01.50,1000,')
    assert row == ["x,y", -3, True, Decimal("1.50"), dt.datetime(1970, 1, 1, 0, 0, 1), None]


@pytest.mark.parametrize(("prop", "line"), [("|", b"a|1"), ("TAB", b"a\t1"), ("SPACE", b"a 1")])
def test_delimited_honours_the_delimiter_property(prop: str, line: bytes) -> None:
    s = serde("DELIMITED", [("S", S), ("I", INT)], VALUE_DELIMITER=prop)
    assert s.serialize(["a", 1]) == line
    assert s.deserialize(line) == ["a", 1]


def test_delimited_key_and_value_delimiters_are_separate() -> None:
    key = serde("DELIMITED", [("A", S), ("B", S)], key=True, key_delimiter=";", value_delimiter="-")
    assert key.deserialize(b"foo,bar;baz") == ["foo,bar", "baz"]


def test_delimited_field_count_must_match() -> None:
    with pytest.raises(
        SerializationError, match="Unexpected field count, csvFields:1 schemaFields:2"
    ):
        serde("DELIMITED", [("S", S), ("I", INT)]).deserialize(b"only")


def test_none_format_ignores_whatever_arrives() -> None:
    s = serde("NONE", [], key=True)
    assert s.deserialize(b"data that should be ignored") == []
    assert s.serialize([]) is None


@pytest.mark.parametrize(
    ("fmt", "schema", "key", "message"),
    [
        ("KAFKA", [("K", B)], True, "The 'KAFKA' format does not support type 'BOOLEAN'"),
        (
            "KAFKA",
            [("V0", INT), ("V1", S)],
            False,
            "The 'KAFKA' format only supports a single field. Got: [`V0` INTEGER, `V1` STRING]",
        ),
        (
            "KAFKA",
            [("V", ty.ArrayType(INT))],
            False,
            "The 'KAFKA' format does not support type 'ARRAY'",
        ),
        (
            "DELIMITED",
            [("V", ty.MapType(S, INT))],
            False,
            "The 'DELIMITED' format does not support type 'MAP'",
        ),
        (
            "NONE",
            [("K", S)],
            True,
            "The 'NONE' format can only be used when no columns are defined. Got: [`K` STRING KEY]",
        ),
        ("FOO", [("V", S)], False, "Unknown format: FOO"),
    ],
)
def test_formats_refuse_schemas_they_cannot_carry(
    fmt: str, schema: Schema, key: bool, message: str
) -> None:
    with pytest.raises(KsqlStatementError) as info:
        serde(fmt, schema, key=key)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("delimiter", "message"),
    [
        ("", "Configuration VALUE_DELIMITER is invalid: Delimiter cannot be empty"),
        (" ", "Delimiter cannot be empty"),
        ("\t", "Delimiter cannot be empty"),
        ("<~>", "Invalid delimiter value: '<~>'"),
    ],
)
def test_bad_delimiters_are_rejected(delimiter: str, message: str) -> None:
    with pytest.raises(KsqlStatementError, match=message):
        serde("DELIMITED", [("S", S)], VALUE_DELIMITER=delimiter)


def test_wrap_single_value_from_the_with_clause_is_checked() -> None:
    with pytest.raises(
        KsqlStatementError,
        match=r"Format 'KAFKA' does not support 'WRAP_SINGLE_VALUE' set to 'true'\.",
    ):
        check_schema("KAFKA", [("V", S)], is_key=False, wrap_single=True)
    with pytest.raises(KsqlStatementError, match="only valid for single-field value schemas"):
        check_schema("JSON", [("A", S), ("B", S)], is_key=False, wrap_single=False)
    # A server-wide default is not the statement's choice: make_serde ignores it for many columns.
    assert (
        serde("JSON", [("A", S), ("B", S)], wrap=False).serialize(["x", "y"])
        == b'{"A":"x","B":"y"}'
    )


@pytest.mark.parametrize(
    ("fmt", "schema", "props", "message"),
    [
        (
            "JSON",
            [("V", S)],
            {"value_delimiter": "|"},
            "JSON does not support the following configs: [delimiter]",
        ),
        ("JSON", [("M", ty.MapType(INT, F))], {}, "JSON only supports MAP types with STRING keys"),
    ],
)
def test_value_schema_and_config_checks(
    fmt: str, schema: Schema, props: dict[str, str], message: str
) -> None:
    with pytest.raises(KsqlStatementError) as info:
        serde(fmt, schema, **props)
    assert str(info.value) == message


# (format, schema, is key, record as a QTT file spells it, column values, as written back)
TEST_VALUES: list[tuple[str, Schema, bool, Any, list[Any] | None, Any]] = [
    (
        "JSON",
        [("FOO", S), ("DEC", ty.DecimalType(6, 4))],
        False,
        {"foo": "x", "dec": Decimal("1.5")},
        ["x", Decimal("1.5000")],
        {"FOO": "x", "DEC": Decimal("1.5000")},
    ),
    ("JSON", [("K", S)], True, "k1", ["k1"], "k1"),
    ("KAFKA", [("K", L)], True, 7, [7], 7),
    ("KAFKA", [("V", F)], False, Decimal("2.2"), [2.2], 2.2),
    ("KAFKA", [("V", ty.BYTES)], False, "aGk=", [b"hi"], "aGk="),
    ("DELIMITED", [("A", INT), ("B", S)], False, "01,two", [1, "two"], "1,two"),
    ("JSON", [("FOO", S)], False, None, None, None),
]


@pytest.mark.parametrize(("fmt", "schema", "key", "test_value", "values", "written"), TEST_VALUES)
def test_qtt_record_spellings_convert_both_ways(
    fmt: str, schema: Schema, key: bool, test_value: Any, values: Any, written: Any
) -> None:
    s = serde(fmt, schema, key=key)
    assert s.deserialize(s.from_test_value(test_value)) == values
    assert s.to_test_value(values) == written


def _scalar_text(value: Any) -> str:
    """A scalar column's text as ksqlDB's JSON writer gives it."""
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, Decimal):
        return text_forms.decimal_string(value)
    return json.dumps(value, ensure_ascii=False)


@pytest.mark.parametrize("name", ["NÄME", 'we"ird\\ name'])
def test_json_rows_of_plain_values_are_written_as_ksqldb_writes_them(name: str) -> None:
    # Rows of strings, integers, booleans, nulls and DECIMALs (every window row and alert)
    # take a faster way than other rows: it must write the same text, or fail the same way.
    schema: Schema = [
        ("ID", S),
        (name, S),
        ("N", L),
        ("OK", B),
        ("AMOUNT", ty.DecimalType(12, 2)),
        ("WIDE", ty.DecimalType(30, 10)),
    ]
    strings = ["", "a", "é", "\u2028", "\x00\x1f\x7f", '"\\/', "\U0001f600", "日本", "\ud800"]
    decimals = [Decimal(text) for text in ("0.00", "-0.00", "-0.50", "1E+3", "1.2E-10", "-0")]
    decimals += [Decimal("12345678901234567890.1234567890"), None]  # type: ignore[list-item]
    ints = [0, -1, 2**63 - 1, -(2**63), 2**70, None]
    rng = random.Random(5)
    s = serde("JSON", schema)
    for _ in range(3000):
        row = [
            rng.choice(strings),
            rng.choice(strings),
            rng.choice(ints),
            rng.choice([True, False, None]),
            rng.choice(decimals),
            rng.choice(decimals),
        ]
        fields = (
            f"{json.dumps(name, ensure_ascii=False)}:{_scalar_text(v)}"
            for (name, _), v in zip(schema, row, strict=True)
        )
        text = "{" + ",".join(fields) + "}"
        try:
            expected = text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: no UTF-8 for it
            with pytest.raises(UnicodeEncodeError):
                s.serialize(row)
            continue
        assert s.serialize(row) == expected, row
