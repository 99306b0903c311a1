"""Pull-query analysis looks into CASE branches, lambdas, structs and subscripts: NULL
comparisons are refused and window bounds read as datetimes wherever they are written."""

from __future__ import annotations

import pytest

from ksql_emulator.catalog import Source
from ksql_emulator.engine import Engine
from ksql_emulator.errors import KsqlStatementError
from ksql_emulator.parser import parse_expression
from ksql_emulator.parser import tree as t
from ksql_emulator.service.pull import check_null_comparisons, window_bounds_as_millis


@pytest.fixture
def source() -> Source:
    engine = Engine()
    engine.execute(
        "CREATE TABLE T (ID STRING PRIMARY KEY, V INT, ARR ARRAY<INT>) "
        "WITH (kafka_topic='t', value_format='JSON');"
    )
    return engine.catalog.sources["T"]


@pytest.mark.parametrize(
    "where",
    [
        "V = NULL",
        "ID = 'a' AND CASE WHEN V = NULL THEN TRUE ELSE FALSE END",
        "ID = 'a' AND ARRAY[V = NULL][1]",
        "ID = 'a' AND STRUCT(B := V = NULL)->B",
        "ID = 'a' AND ARRAY_LENGTH(FILTER(ARR, x => x = NULL)) > 0",
    ],
)
def test_a_null_comparison_is_refused_wherever_it_is(source: Source, where: str) -> None:
    with pytest.raises(KsqlStatementError, match="Comparison with NULL not supported"):
        check_null_comparisons(parse_expression(where), source)


@pytest.mark.parametrize(
    "where",
    [
        "WINDOWSTART > '1970-01-01T00:00:01'",
        "CASE WHEN WINDOWSTART > '1970-01-01T00:00:01' THEN TRUE END",
        "NOT (WINDOWSTART > '1970-01-01T00:00:01')",
        "STRUCT(B := WINDOWSTART > '1970-01-01T00:00:01')->B",
        "ARRAY[WINDOWSTART > '1970-01-01T00:00:01'][1]",
    ],
)
def test_window_bounds_are_read_as_datetimes_wherever_they_are_compared(where: str) -> None:
    rewritten = window_bounds_as_millis(parse_expression(where))
    assert rewritten is not None
    literals = [(n.kind, n.value) for n in rewritten.find_all(t.Literal)]
    assert ("BIGINT", 1000) in literals
    assert all(kind != "STRING" for kind, _ in literals)
