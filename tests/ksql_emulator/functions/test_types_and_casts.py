"""SQL type spellings, CAST, implicit widening, common types and arithmetic."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from typing import Any

import pytest

from ksql_emulator import arithmetic, casts, text_forms, widening
from ksql_emulator import sql_types as ty
from ksql_emulator.errors import RuntimeEvaluationError, TypeMismatchError

D = ty.DecimalType

SPELLINGS = [
    (ty.INTEGER, "INTEGER"),
    (D(12, 2), "DECIMAL(12, 2)"),
    (ty.ArrayType(ty.STRING), "ARRAY<STRING>"),
    (ty.MapType(ty.STRING, ty.ArrayType(ty.BIGINT)), "MAP<STRING, ARRAY<BIGINT>>"),
    (ty.StructType((("A", ty.INTEGER), ("b", D(4, 1)))), "STRUCT<`A` INTEGER, `b` DECIMAL(4, 1)>"),
    (ty.ArrayType(None), "ARRAY<NULL>"),
]


@pytest.mark.parametrize(("sql_type", "text"), SPELLINGS)
def test_types_print_as_ksqldb_prints_them(sql_type: ty.SqlType, text: str) -> None:
    assert str(sql_type) == text


def test_primitive_accepts_grammar_aliases() -> None:
    assert ty.primitive("int") is ty.INTEGER
    assert ty.primitive("VARCHAR") is ty.STRING
    with pytest.raises(ValueError, match="Unknown primitive type: FLOAT"):
        ty.primitive("FLOAT")


def test_decimal_bounds_are_checked() -> None:
    with pytest.raises(ValueError, match=r"DECIMAL precision must be >= 1: DECIMAL\(0,0\)"):
        D(0, 0)
    with pytest.raises(ValueError, match=r"DECIMAL scale must be >= 0: DECIMAL\(2,-1\)"):
        D(2, -1)
    with pytest.raises(ValueError, match=r"DECIMAL precision must be >= scale: DECIMAL\(2,3\)"):
        D(2, 3)
    # As ksqlDB's SqlDecimal, a type may be wider than 38 digits (GREATEST widens to one).
    assert D(75, 37).precision == 75


CASTS: list[tuple[ty.SqlType, ty.SqlType, Any, Any]] = [
    (ty.INTEGER, ty.STRING, -1, "-1"),
    (ty.DOUBLE, ty.STRING, 1e7, "1.0E7"),
    (ty.DOUBLE, ty.STRING, 0.5, "0.5"),
    (ty.DOUBLE, ty.INTEGER, 1.9, 1),
    (ty.DOUBLE, ty.INTEGER, -1.9, -1),
    (ty.BIGINT, ty.INTEGER, 2**31, -(2**31)),
    (D(4, 2), ty.STRING, Decimal("0.00"), "0.00"),
    (D(4, 2), ty.INTEGER, Decimal("10.99"), 10),
    (D(4, 2), D(5, 3), Decimal("10.12"), Decimal("10.120")),
    (ty.DOUBLE, D(2, 1), 0.99, Decimal("1.0")),
    (ty.STRING, D(2, 1), "0.05", Decimal("0.1")),
    (ty.STRING, ty.INTEGER, " 42 ", 42),
    (ty.STRING, ty.BOOLEAN, "Yes", True),
    (
        ty.STRING,
        ty.TIMESTAMP,
        "2020-01-02T03:04:05.6+01:00",
        dt.datetime(2020, 1, 2, 2, 4, 5, 600000),
    ),
    (ty.STRING, ty.DATE, "2020-01-02", dt.date(2020, 1, 2)),
    (ty.STRING, ty.TIME, "03:04", dt.time(3, 4)),
    (ty.TIMESTAMP, ty.STRING, dt.datetime(2020, 1, 2, 3, 4, 5, 6000), "2020-01-02T03:04:05.006"),
    (ty.TIMESTAMP, ty.DATE, dt.datetime(2020, 1, 2, 3, 4), dt.date(2020, 1, 2)),
    (ty.ArrayType(ty.INTEGER), ty.STRING, [1, None, 3], "[1, null, 3]"),
    (ty.MapType(ty.STRING, ty.INTEGER), ty.STRING, {"this": 1}, "{this=1}"),
    (
        ty.ArrayType(ty.StructType((("A", ty.INTEGER), ("B", ty.STRING)))),
        ty.STRING,
        [{"A": 1, "B": None}],
        "[Struct{A=1}]",
    ),
    (ty.ArrayType(ty.BIGINT), ty.ArrayType(ty.STRING), [1, 2], ["1", "2"]),
    (
        ty.StructType((("A", ty.INTEGER),)),
        ty.StructType((("A", ty.STRING), ("B", ty.INTEGER))),
        {"A": 1},
        {"A": "1", "B": None},
    ),
    (ty.INTEGER, ty.DOUBLE, None, None),
]


@pytest.mark.parametrize(("src", "dst", "value", "expected"), CASTS)
def test_cast_converts_like_ksqldb(
    src: ty.SqlType, dst: ty.SqlType, value: Any, expected: Any
) -> None:
    assert casts.cast_function(src, dst)(value) == expected


@pytest.mark.parametrize(
    ("src", "dst", "value"),
    [
        (ty.STRING, ty.INTEGER, "abc"),
        (ty.STRING, ty.INTEGER, "1.5"),
        (ty.INTEGER, D(2, 1), 10),
        (ty.STRING, ty.TIMESTAMP, "yesterday"),
    ],
)
def test_cast_of_a_value_that_does_not_fit_fails_for_that_value(
    src: ty.SqlType, dst: ty.SqlType, value: Any
) -> None:
    with pytest.raises(RuntimeEvaluationError):
        casts.cast_function(src, dst)(value)


def test_cast_overflow_names_the_limits() -> None:
    with pytest.raises(RuntimeEvaluationError, match=r"precision 2 and scale 1 .* 10\^1\. Got 10"):
        casts.cast_function(ty.INTEGER, D(2, 1))(10)


@pytest.mark.parametrize(
    ("src", "dst", "message"),
    [
        (
            ty.STRING,
            ty.MapType(ty.STRING, ty.INTEGER),
            "Cast of STRING to MAP<STRING, INTEGER> is not supported",
        ),
        (
            ty.STRING,
            ty.StructType((("F0", ty.STRING),)),
            "Cast of STRING to STRUCT<`F0` STRING> is not supported",
        ),
        (ty.BOOLEAN, ty.INTEGER, "Cast of BOOLEAN to INTEGER is not supported"),
    ],
)
def test_unsupported_casts_are_rejected_up_front(
    src: ty.SqlType, dst: ty.SqlType, message: str
) -> None:
    with pytest.raises(TypeMismatchError) as info:
        casts.cast_function(src, dst)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("src", "dst", "allowed"),
    [
        (ty.INTEGER, ty.BIGINT, True),
        (ty.BIGINT, ty.DOUBLE, True),
        (ty.INTEGER, D(10, 0), True),
        (ty.INTEGER, D(5, 0), False),
        (D(4, 2), ty.DOUBLE, True),
        (ty.DOUBLE, ty.BIGINT, False),
        (ty.STRING, ty.INTEGER, False),
        (None, ty.STRING, True),
        (ty.ArrayType(ty.INTEGER), ty.ArrayType(ty.BIGINT), True),
    ],
)
def test_implicit_widening(src: ty.SqlType | None, dst: ty.SqlType, allowed: bool) -> None:
    assert widening.can_implicitly_cast(src, dst) is allowed


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [
        ([ty.INTEGER, ty.BIGINT], ty.BIGINT),
        ([ty.INTEGER, None, ty.DOUBLE], ty.DOUBLE),
        ([D(4, 2), D(5, 1)], D(6, 2)),
        ([ty.INTEGER, D(3, 1)], D(11, 1)),
        ([ty.STRING, ty.INTEGER], None),
        ([ty.ArrayType(ty.INTEGER), ty.ArrayType(ty.BIGINT)], ty.ArrayType(ty.BIGINT)),
    ],
)
def test_common_type(inputs: list[ty.SqlType | None], expected: ty.SqlType | None) -> None:
    assert widening.common_type(inputs) == expected


ARITHMETIC_TYPES = [
    ("+", ty.INTEGER, ty.INTEGER, ty.INTEGER),
    ("*", ty.INTEGER, ty.BIGINT, ty.BIGINT),
    ("-", D(4, 2), ty.DOUBLE, ty.DOUBLE),
    ("+", D(4, 2), D(3, 1), D(5, 2)),
    ("*", D(4, 2), D(3, 1), D(8, 3)),
    ("/", D(4, 2), D(3, 1), D(9, 6)),
    ("%", D(4, 2), D(3, 1), D(4, 2)),
    ("+", D(4, 2), ty.INTEGER, D(13, 2)),
    ("+", ty.STRING, ty.STRING, ty.STRING),
]


@pytest.mark.parametrize(("op", "left", "right", "expected"), ARITHMETIC_TYPES)
def test_arithmetic_result_types(
    op: str, left: ty.SqlType | None, right: ty.SqlType | None, expected: ty.SqlType
) -> None:
    assert arithmetic.arithmetic_type(op, left, right) == expected


@pytest.mark.parametrize(
    ("left", "right", "message"),
    [
        (ty.BOOLEAN, D(2, 1), "Unsupported arithmetic types. BOOLEAN DECIMAL"),
        (ty.INTEGER, None, "Arithmetic on types INTEGER and null are not supported."),
        (None, None, "Arithmetic on types null and null are not supported."),
        (
            ty.MapType(ty.INTEGER, ty.STRING),
            None,
            "Arithmetic on types MAP<INTEGER, STRING> and null are not supported.",
        ),
    ],
)
def test_arithmetic_that_ksqldb_refuses(
    left: ty.SqlType | None, right: ty.SqlType | None, message: str
) -> None:
    with pytest.raises(TypeMismatchError) as info:
        arithmetic.arithmetic_type("+", left, right)
    assert str(info.value) == message


ARITHMETIC_VALUES: list[tuple[str, ty.SqlType, ty.SqlType, Any, Any, Any]] = [
    ("+", ty.INTEGER, ty.INTEGER, 2**31 - 1, 1, -(2**31)),
    ("/", ty.INTEGER, ty.INTEGER, -7, 2, -3),
    ("%", ty.INTEGER, ty.INTEGER, -7, 2, -1),
    ("/", ty.DOUBLE, ty.DOUBLE, 1.0, 0.0, math.inf),
    ("+", D(4, 2), D(3, 1), Decimal("10.01"), Decimal("5.1"), Decimal("15.11")),
    ("/", D(3, 1), D(2, 1), Decimal("10.1"), Decimal("2.0"), Decimal("5.050000")),
    ("%", D(3, 1), D(2, 1), Decimal("10.1"), Decimal("-2.0"), Decimal("0.1")),
    ("+", D(4, 2), ty.INTEGER, Decimal("10.01"), 5, Decimal("15.01")),
    ("-", ty.DOUBLE, ty.INTEGER, 1.5, 1, 0.5),
    ("+", ty.STRING, ty.STRING, "a", "b", "ab"),
    ("+", ty.INTEGER, ty.INTEGER, None, 1, None),
]


@pytest.mark.parametrize(("op", "lt", "rt", "left", "right", "expected"), ARITHMETIC_VALUES)
def test_arithmetic_values(
    op: str, lt: ty.SqlType, rt: ty.SqlType, left: Any, right: Any, expected: Any
) -> None:
    result = arithmetic.arithmetic_function(op, lt, rt)(left, right)
    assert result == expected
    if isinstance(expected, Decimal):
        assert str(result) == str(expected)


@pytest.mark.parametrize(
    ("lt", "rt", "right"),
    [(ty.INTEGER, ty.INTEGER, 0), (D(3, 1), D(2, 1), Decimal("0.0"))],
)
def test_division_by_zero_fails_for_that_record(lt: ty.SqlType, rt: ty.SqlType, right: Any) -> None:
    with pytest.raises(RuntimeEvaluationError):
        arithmetic.arithmetic_function("/", lt, rt)(
            1 if lt == ty.INTEGER else Decimal("1.0"), right
        )


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.0, "1.0"),
        (0.001, "0.001"),
        (1.5e-4, "1.5E-4"),
        (123456789.0, "1.23456789E8"),
        (-0.0, "-0.0"),
        (math.nan, "NaN"),
    ],
)
def test_doubles_print_as_java_does(value: float, text: str) -> None:
    assert text_forms.java_double_str(value) == text


@pytest.mark.parametrize(
    ("src", "value", "text"),
    [
        # Java's BigDecimal has no negative zero: what rounds or multiplies to zero is 0.
        (ty.DOUBLE, -0.001, "0.00"),
        (D(4, 3), Decimal("-0.001"), "0.00"),
        (ty.STRING, "-0.004", "0.00"),
        (D(4, 3), Decimal("-0.005"), "-0.01"),
    ],
)
def test_decimals_that_round_to_zero_print_unsigned(src: ty.SqlType, value: Any, text: str) -> None:
    cents = casts.cast_function(src, D(3, 2))(value)
    assert casts.cast_function(D(3, 2), ty.STRING)(cents) == text
