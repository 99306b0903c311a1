"""Overload resolution, ksqlDB's error wordings, lambdas and SHOW/DESCRIBE FUNCTIONS data."""

from __future__ import annotations

from typing import Any

import pytest

from ksql_emulator import sql_types as ty
from ksql_emulator.errors import FunctionArgumentError, UnknownFunctionError
from ksql_emulator.functions import (
    FunctionRegistry,
    LambdaType,
    default_registry,
    qtt_registry,
    table_registry,
)

S, INT, L, F = ty.STRING, ty.INTEGER, ty.BIGINT, ty.DOUBLE


def test_unknown_function_is_named_as_ksqldb_names_it() -> None:
    with pytest.raises(UnknownFunctionError) as info:
        default_registry().resolve("wont_find_me", [])
    assert str(info.value) == "Can't find any functions with the name 'WONT_FIND_ME'"
    assert info.value.ksql_type == "KsqlStatementException"


@pytest.mark.parametrize(
    ("name", "arg_types", "message"),
    [
        ("SUBSTRING", [S, S], "Function 'substring' does not accept parameters (STRING, STRING)."),
        ("GREATEST", [], "Function 'greatest' does not accept parameters ()."),
        ("GREATEST", [S, INT], "Function 'greatest' does not accept parameters (STRING, INTEGER)."),
        (
            "GREATEST",
            [INT, L],
            "Function 'greatest' cannot be resolved due to ambiguous method parameters "
            "(INTEGER, BIGINT).",
        ),
        (
            "LEAST",
            [None, None],
            "Function 'least' cannot be resolved due to ambiguous method parameters (null, null).",
        ),
        ("COALESCE", [], "Function 'COALESCE' does not accept parameters ()."),
        (
            "DATEADD",
            [ty.DATE, INT, ty.DATE],
            "Function 'dateadd' does not accept parameters (DATE, INTEGER, DATE).",
        ),
    ],
)
def test_bad_arguments_are_rejected_with_ksqldb_wording(
    name: str, arg_types: list[ty.SqlType | None], message: str
) -> None:
    with pytest.raises(FunctionArgumentError) as info:
        default_registry().resolve(name, arg_types)
    assert str(info.value).split("\n")[0] == message


def test_a_call_no_overload_takes_lists_the_valid_alternatives() -> None:
    with pytest.raises(FunctionArgumentError) as info:
        default_registry().resolve("LEN", [INT])
    assert str(info.value) == (
        "Function 'len' does not accept parameters (INTEGER).\n"
        "Valid alternatives are:\nLEN(STRING)\nLEN(BYTES)\n"
        "For detailed information on a function run: DESCRIBE FUNCTION <Function-Name>;"
    )


def test_names_are_case_insensitive() -> None:
    assert default_registry().resolve("ucase", [S]).call("x") == "X"
    assert "lcase" in default_registry()


def test_exact_overload_wins_over_widening() -> None:
    reg = default_registry()
    assert reg.resolve("ABS", [INT]).return_type == INT
    assert reg.resolve("ABS", [L]).return_type == L
    assert reg.resolve("ABS", [F]).return_type == F


def test_widened_arguments_are_converted_before_the_call() -> None:
    resolved = default_registry().resolve("POWER", [INT, L])
    result = resolved.call(2, 3)
    assert isinstance(result, float) and result == 8.0


def test_null_argument_gives_null_unless_the_function_handles_nulls() -> None:
    reg = default_registry()
    assert reg.resolve("UCASE", [S]).call(None) is None
    assert reg.resolve("CONCAT", [S, S]).call(None, "x") == "x"


def test_a_failing_call_yields_null_rather_than_an_error() -> None:
    parse = default_registry().resolve("PARSE_DATE", [S, S])
    assert parse.call("abcd", "yyyy-MM-dd") is None


def test_lambda_parameter_types_come_from_the_other_arguments() -> None:
    reg = default_registry()
    assert reg.lambda_inputs("TRANSFORM", [ty.ArrayType(L), None]) == {1: [L]}
    assert reg.lambda_inputs("TRANSFORM", [ty.MapType(S, INT), None, None]) == {
        1: [S, INT],
        2: [S, INT],
    }
    assert reg.lambda_inputs("REDUCE", [ty.ArrayType(INT), L, None]) == {2: [L, INT]}


LAMBDA_CASES: list[tuple[str, list[ty.SqlType | None], list[Any], ty.SqlType, Any]] = [
    (
        "TRANSFORM",
        [ty.ArrayType(INT), LambdaType((INT,), S)],
        [[1, 2], lambda x: f"#{x}"],
        ty.ArrayType(S),
        ["#1", "#2"],
    ),
    (
        "FILTER",
        [ty.ArrayType(INT), LambdaType((INT,), ty.BOOLEAN)],
        [[1, 2, 3, None], lambda x: x is not None and x > 1],
        ty.ArrayType(INT),
        [2, 3],
    ),
    (
        "REDUCE",
        [ty.ArrayType(INT), L, LambdaType((L, INT), L)],
        [[1, 2, 3], 10, lambda s, x: s + x],
        L,
        16,
    ),
    (
        "TRANSFORM",
        [ty.MapType(S, INT), LambdaType((S, INT), S), LambdaType((S, INT), INT)],
        [{"a": 1}, lambda k, v: k.upper(), lambda k, v: v * 10],
        ty.MapType(S, INT),
        {"A": 10},
    ),
    (
        "FILTER",
        [ty.MapType(S, INT), LambdaType((S, INT), ty.BOOLEAN)],
        [{"a": 1, "b": 2}, lambda k, v: v > 1],
        ty.MapType(S, INT),
        {"b": 2},
    ),
    (
        "REDUCE",
        [ty.MapType(S, INT), INT, LambdaType((INT, S, INT), INT)],
        [{"a": 1, "b": 2}, 0, lambda s, k, v: s + v],
        INT,
        3,
    ),
]


@pytest.mark.parametrize(("name", "arg_types", "args", "return_type", "expected"), LAMBDA_CASES)
def test_lambda_functions(
    name: str,
    arg_types: list[ty.SqlType | None],
    args: list[Any],
    return_type: ty.SqlType,
    expected: Any,
) -> None:
    resolved = default_registry().resolve(name, arg_types)
    assert resolved.return_type == return_type
    assert resolved.call(*args) == expected


def test_show_functions_lists_every_builtin_as_scalar() -> None:
    rows = default_registry().describe()
    names = [r["name"] for r in rows]
    assert names == sorted(names)
    assert {"SUBSTRING", "ROUND", "GEO_DISTANCE", "TRANSFORM"} <= set(names)
    assert all(r["type"] == "SCALAR" and r["description"] for r in rows)


def test_describe_function_lists_each_overload() -> None:
    described = default_registry().describe_function("len")
    assert described["name"] == "LEN"
    assert {"arguments": ["STRING"], "returnType": "INTEGER"} in described["variations"]
    assert {"arguments": ["BYTES"], "returnType": "INTEGER"} in described["variations"]


def test_a_registry_can_be_extended() -> None:
    reg = FunctionRegistry()
    reg.register("TWICE", [L], L, lambda v: v * 2, description="Doubles.")
    assert reg.resolve("twice", [INT]).call(21) == 42
    assert reg.names() == ["TWICE"]


def test_test_jar_udfs_exist_only_in_the_qtt_registry() -> None:
    assert "BAD_UDF" not in default_registry()
    reg = qtt_registry()
    assert reg.resolve("BAD_UDF", [INT]).call(1) is None
    assert reg.resolve("BAD_UDF", [ty.BOOLEAN]).call(False) == 0
    assert reg.resolve("WHENCONDITION", [ty.BOOLEAN, ty.BOOLEAN]).call(True, True) is True
    assert reg.resolve("WHENRESULT", [INT, ty.BOOLEAN]).call(100, False) is None


def test_stateful_test_udf_keeps_state_per_call_site() -> None:
    reg = qtt_registry()
    first, second = reg.resolve("BAD_UDF", [S]), reg.resolve("BAD_UDF", [S])
    assert [first.call("d1"), first.call("d2"), first.call("d3")] == [None, "d2", None]
    assert second.call("x") is None


@pytest.mark.parametrize(
    ("name", "arg_types", "args", "row_type", "rows"),
    [
        ("EXPLODE", [ty.ArrayType(L)], [[1, 2]], L, [1, 2]),
        ("EXPLODE", [ty.ArrayType(L)], [None], L, []),
        (
            "CUBE_EXPLODE",
            [ty.ArrayType(S)],
            [["a", "b"]],
            ty.ArrayType(S),
            [[None, None], [None, "b"], ["a", None], ["a", "b"]],
        ),
    ],
)
def test_table_functions_return_their_rows(
    name: str,
    arg_types: list[ty.SqlType | None],
    args: list[Any],
    row_type: ty.SqlType,
    rows: list[Any],
) -> None:
    resolved = table_registry().resolve(name, arg_types)
    assert resolved.return_type == row_type
    assert resolved.call(*args) == rows


@pytest.mark.parametrize("name", ["LTRIM", "RTRIM"])
def test_functions_ksqldb_does_not_have_cannot_be_called(name: str) -> None:
    with pytest.raises(UnknownFunctionError) as info:
        default_registry().resolve(name, [ty.STRING])
    assert str(info.value) == f"Can't find any functions with the name '{name}'"
