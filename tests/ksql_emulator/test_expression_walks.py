"""Every place that looks through an expression sees into CASE branches, lambdas, struct
constructors and subscripts: magic timestamps, aggregates, table functions, qualification in
messages, join criteria and INSERT VALUES."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ksql_emulator.contracts.message import Message
from ksql_emulator.engine import Engine
from ksql_emulator.errors import KsqlError

SOURCE = (
    "CREATE STREAM S (ID STRING KEY, V INT, ARR ARRAY<INT>, ST STRUCT<A INT>) "
    "WITH (kafka_topic='s', value_format='JSON');"
)
TABLE = (
    "CREATE TABLE R (RID STRING PRIMARY KEY, W INT) WITH (kafka_topic='r', value_format='JSON');"
)
ROWS = [
    {"V": 1, "ARR": [1, 2], "ST": {"A": 1}},
    {"V": 2, "ARR": [3], "ST": {"A": 2}},
]


def run(sql: str) -> list[Any]:
    """The values the query writes to OUT after ROWS, at 1.0 s and 2.0 s, all keyed 'a'."""
    engine = Engine()
    engine.execute(SOURCE + sql)
    for n, row in enumerate(ROWS, start=1):
        engine.broker.produce(Message("s", b"a", json.dumps(row).encode(), timestamp=n * 1000))
    return [json.loads(m.value) for m in engine.broker.topics.get("OUT", []) if m.value]


def error(sql: str) -> str:
    with pytest.raises(KsqlError) as caught:
        Engine().execute(SOURCE + sql)
    return str(caught.value)


@pytest.mark.parametrize(
    "where",
    [
        "ROWTIME > '1970-01-01T00:00:01.500'",
        "CASE WHEN ROWTIME > '1970-01-01T00:00:01.500' THEN TRUE ELSE FALSE END",
        "ARRAY[ROWTIME > '1970-01-01T00:00:01.500'][1]",
        "STRUCT(B := ROWTIME BETWEEN '1970-01-01T00:00:01.500' AND '1970-01-02')->B",
        "ARRAY_LENGTH(FILTER(ARR, x => ROWTIME > '1970-01-01T00:00:01.500')) > 0",
    ],
)
def test_magic_timestamps_are_read_wherever_rowtime_is_compared(where: str) -> None:
    assert run(f"CREATE STREAM OUT AS SELECT ID, V FROM S WHERE {where};") == [{"V": 2}]


@pytest.mark.parametrize(
    ("select", "expected"),
    [
        ("CASE WHEN COUNT(*) > 1 THEN 'many' ELSE 'one' END AS C", [{"C": "one"}, {"C": "many"}]),
        ("STRUCT(N := COUNT(*)) AS C", [{"C": {"N": 1}}, {"C": {"N": 2}}]),
        ("COLLECT_LIST(V)[2] AS C", [{"C": None}, {"C": 2}]),
        ("TRANSFORM(COLLECT_LIST(V), x => x * 10) AS C", [{"C": [10]}, {"C": [10, 20]}]),
    ],
)
def test_aggregates_are_found_in_every_kind_of_expression(select: str, expected: list[Any]) -> None:
    assert run(f"CREATE TABLE OUT AS SELECT ID, {select} FROM S GROUP BY ID;") == expected


def test_an_unknown_function_in_a_case_branch_is_reported_before_grouping_problems() -> None:
    message = error(
        "CREATE TABLE OUT AS SELECT ID, CASE WHEN NOPE(V) > 1 THEN 'x' END AS C, COUNT(*) AS N "
        "FROM S GROUP BY ID;"
    )
    assert "Can't find any functions with the name 'NOPE'" in message


def test_an_ungrouped_column_in_a_case_branch_is_reported() -> None:
    message = error(
        "CREATE TABLE OUT AS SELECT ID, CASE WHEN V > 1 THEN 'x' END AS C, COUNT(*) AS N "
        "FROM S GROUP BY ID;"
    )
    assert "Non-aggregate SELECT expression(s) not part of GROUP BY" in message


def test_window_bounds_inside_an_aggregates_case_are_refused() -> None:
    message = error(
        "CREATE TABLE OUT AS SELECT ID, SUM(CASE WHEN WINDOWSTART > 0 THEN V END) AS T FROM S "
        "WINDOW TUMBLING (SIZE 1 SECOND) GROUP BY ID;"
    )
    assert "Window bounds column WINDOWSTART can only be used in the SELECT clause" in message


@pytest.mark.parametrize(
    ("select", "expected"),
    [
        ("EXPLODE(ARR) AS E", [{"E": 1}, {"E": 2}, {"E": 3}]),
        ("STRUCT(X := EXPLODE(ARR)) AS E", [{"E": {"X": 1}}, {"E": {"X": 2}}, {"E": {"X": 3}}]),
        ("ARR[EXPLODE(ARRAY[1])] AS E", [{"E": 1}, {"E": 3}]),
        ("EXPLODE(TRANSFORM(ARR, x => x + V)) AS E", [{"E": 2}, {"E": 3}, {"E": 5}]),
    ],
)
def test_table_functions_are_found_in_every_kind_of_expression(
    select: str, expected: list[Any]
) -> None:
    assert run(f"CREATE STREAM OUT AS SELECT ID, {select} FROM S;") == expected


def test_a_table_function_inside_a_case_is_refused_as_ksqldb_does() -> None:
    message = error(
        "CREATE STREAM OUT AS SELECT ID, CASE WHEN V > 0 THEN EXPLODE(ARR) END AS E FROM S;"
    )
    assert (
        "Table functions cannot be used in CASE: (CASE WHEN (V > 0) THEN EXPLODE(ARR) END)"
        in message
    )


@pytest.mark.parametrize(
    "partition",
    [
        "CASE WHEN V > 0 THEN ID END",
        "STRUCT(X := V)->X",
        "ARR[V]",
    ],
)
def test_qualified_columns_in_messages_reach_into_every_branch(partition: str) -> None:
    message = error(f"CREATE STREAM OUT AS SELECT V FROM S PARTITION BY {partition};")
    shown = message.split("partitioning expression ")[1].split(" in its projection")[0]
    assert " V" not in shown.replace("S.V", "") and "S.V" in shown


def test_a_lambdas_parameter_is_not_qualified_as_a_column() -> None:
    message = error(
        "CREATE STREAM OUT AS SELECT V FROM S "
        "PARTITION BY ARRAY_JOIN(TRANSFORM(ARR, x => CAST(x + V AS STRING)), ',');"
    )
    assert "TRANSFORM(S.ARR, X => CAST((X + S.V) AS STRING))" in message


def test_join_criteria_see_columns_in_case_branches_and_not_lambda_parameters() -> None:
    mixed = error(
        TABLE + "CREATE STREAM OUT AS SELECT S.ID, W FROM S JOIN R "
        "ON CASE WHEN W > 0 THEN S.ID END = R.RID;"
    )
    assert "Each side of the join comparision must contain references from exactly one" in mixed
    lambda_side = error(
        TABLE + "CREATE STREAM OUT AS SELECT S.ID, W FROM S JOIN R "
        "ON ARRAY_JOIN(TRANSFORM(ARR, x => CAST(x AS STRING)), '') = R.RID;"
    )
    assert "cannot be resolved" not in lambda_side  # X is the lambda's, no column of a side
    assert "must include the join expression R.RID" in lambda_side


@pytest.mark.parametrize(
    "value",
    ["OTHER.V", "CASE WHEN OTHER.V = 1 THEN 1 END", "ARRAY[OTHER.V][1]", "STRUCT(A := OTHER.V)->A"],
)
def test_insert_values_refuses_another_sources_column_anywhere(value: str) -> None:
    message = error(
        "CREATE STREAM T (K STRING KEY, X INT) WITH (kafka_topic='t', value_format='JSON');"
        f"INSERT INTO T (K, X) VALUES ('a', {value});"
    )
    assert "Failed to prepare statement: 'OTHER' is not a valid stream/table name" in message
