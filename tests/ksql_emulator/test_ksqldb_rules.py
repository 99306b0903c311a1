"""ksqlDB's general rules the emulator follows: what a statement is refused with, and results."""

from __future__ import annotations

import json

import pytest

from ksql_emulator.contracts.backend import PullQueryResult, PushQuery
from ksql_emulator.contracts.message import Message
from ksql_emulator.engine import Engine
from ksql_emulator.errors import KsqlError
from ksql_emulator.service import KsqlService

from .test_service import FakeGateway


def refusal(statements: str) -> str:
    """The message ksqlDB's rules give for the last of `statements`."""
    with pytest.raises(KsqlError) as caught:
        Engine().execute(statements)
    return str(caught.value)


WINDOWED_PAIR = (
    "CREATE STREAM S1 (K INT KEY, ID BIGINT) WITH (kafka_topic='l', value_format='JSON', "
    "WINDOW_TYPE='Tumbling', WINDOW_SIZE='2 SECONDS');"
    "CREATE STREAM S2 (K INT KEY, ID BIGINT) WITH (kafka_topic='r', value_format='JSON', "
    "WINDOW_TYPE='Hopping', WINDOW_SIZE='5 SECONDS');"
)


def test_a_join_of_windowed_streams_keeps_each_sides_window_bounds_and_is_windowed() -> None:
    service = KsqlService(FakeGateway(), {})
    service.execute_statements(
        WINDOWED_PAIR + "CREATE STREAM OUT AS SELECT * FROM S1 JOIN S2 WITHIN 1 MINUTE "
        "ON S1.K = S2.K;",
        {},
        {},
    )
    push = service.query("SELECT * FROM OUT EMIT CHANGES;", {}, {})
    assert isinstance(push, PushQuery)
    assert list(push.header.column_names) == [
        "S1_K",
        "WINDOWSTART",
        "WINDOWEND",
        "S1_WINDOWSTART",
        "S1_WINDOWEND",
        "S1_ID",
        "S2_K",
        "S2_WINDOWSTART",
        "S2_WINDOWEND",
        "S2_ID",
    ]


def sink_schema(statements: str, sink: str = "OUTPUT") -> list[tuple[str, str, str]]:
    engine = Engine()
    engine.execute(statements)
    return [(c.name, str(c.type), c.namespace) for c in engine.catalog.sources[sink].columns]


def test_a_join_with_header_columns_carries_them_as_values_in_declared_order() -> None:
    assert sink_schema(
        "CREATE STREAM L (A INT KEY, B INT, C BYTES HEADER('abc')) "
        "WITH (kafka_topic='l', value_format='JSON');"
        "CREATE STREAM R (A INT KEY, C ARRAY<STRUCT<`KEY` STRING, `VALUE` BYTES>> HEADERS, B INT) "
        "WITH (kafka_topic='r', value_format='JSON');"
        "CREATE STREAM OUTPUT AS SELECT * FROM L JOIN R WITHIN 10 SECONDS ON L.A = R.A;"
    ) == [
        ("L_A", "INTEGER", "KEY"),
        ("L_B", "INTEGER", "VALUE"),
        ("L_C", "BYTES", "VALUE"),
        ("R_A", "INTEGER", "VALUE"),
        ("R_C", "ARRAY<STRUCT<`KEY` STRING, `VALUE` BYTES>>", "VALUE"),
        ("R_B", "INTEGER", "VALUE"),
    ]


JOINED = (
    "CREATE STREAM L (K STRING KEY, A STRING, B STRING) WITH (kafka_topic='l', format='JSON');"
    "CREATE STREAM R (K STRING KEY, C STRING, D STRING) WITH (kafka_topic='r', format='JSON');"
)


def test_partition_by_on_a_join_keys_the_result_by_the_partitioning_expression() -> None:
    assert sink_schema(
        JOINED + "CREATE STREAM OUTPUT AS SELECT L.K AS LK, R.K FROM L JOIN R "
        "WITHIN 10 SECONDS ON L.B = R.D PARTITION BY L.K;"
    ) == [("LK", "STRING", "KEY"), ("R_K", "STRING", "VALUE")]
    assert sink_schema(
        JOINED + "CREATE STREAM OUTPUT AS SELECT L.A, L.K, R.K FROM L JOIN R "
        "WITHIN 10 SECONDS ON L.K = R.K PARTITION BY L.A;"
    ) == [("A", "STRING", "KEY"), ("L_K", "STRING", "VALUE"), ("R_K", "STRING", "VALUE")]


def test_a_headers_column_must_have_the_headers_type() -> None:
    assert refusal(
        "CREATE STREAM S (K INT KEY, H BIGINT HEADERS) WITH (kafka_topic='s', format='JSON');"
    ) == (
        "Invalid type for HEADERS column: expected ARRAY<STRUCT<`KEY` STRING, `VALUE` BYTES>>, "
        "got BIGINT"
    )


def test_a_refused_persistent_query_ends_with_the_statement_as_ksqldb_planned_it() -> None:
    engine = Engine()
    engine.execute(
        "CREATE STREAM TEST (ID INT KEY, F1 INT, F2 INT) WITH (kafka_topic='t', "
        "key_format='KAFKA', value_format='JSON');"
    )
    with pytest.raises(KsqlError) as caught:
        engine.execute(
            "CREATE TABLE OUTPUT AS SELECT f2, f1, f2 + f1, COUNT(*) FROM TEST GROUP BY f1, f2;"
        )
    assert caught.value.with_statement().endswith(
        "\nStatement: CREATE TABLE OUTPUT AS SELECT\n  TEST.F2 F2,\n  TEST.F1 F1,\n"
        "  (TEST.F2 + TEST.F1) KSQL_COL_0,\n  COUNT(*) KSQL_COL_1\nFROM TEST TEST\n"
        "GROUP BY TEST.F1, TEST.F2\nEMIT CHANGES"
    )


SOURCES = (
    "CREATE STREAM S (K STRING KEY, A INT, B STRING) WITH (kafka_topic='s', format='JSON');"
    "CREATE STREAM KS (K STRING KEY, A INT) WITH (kafka_topic='ks', format='KAFKA');"
    "CREATE STREAM H (K STRING KEY, A INT, HD BYTES HEADER('x')) "
    "WITH (kafka_topic='h', format='JSON');"
    "CREATE TABLE W AS SELECT K, COUNT(*) AS N FROM S WINDOW TUMBLING (SIZE 1 SECOND) GROUP BY K;"
)


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        (
            "CREATE STREAM O AS SELECT K, MAP(NULL := 1) AS M FROM S;",
            "Cannot construct a map with all NULL keys (see https://github.com/confluentinc/ksql/"
            "issues/4239). As a workaround, you may cast a NULL key to the desired type.",
        ),
        (
            "CREATE STREAM O AS SELECT K, MAP('a' := NULL, 'b' := NULL) AS M FROM S;",
            "Cannot construct a map with all NULL values (see https://github.com/confluentinc/ksql/"
            "issues/4239). As a workaround, you may cast a NULL value to the desired type.",
        ),
        (
            "CREATE STREAM O AS SELECT K, STRUCT(f := A, F := B) AS X FROM S;",
            "Duplicate field names found in STRUCT: '`F` INTEGER' and '`F` STRING'",
        ),
        (
            "CREATE TABLE O AS SELECT K, COUNT(*) AS N FROM S GROUP BY K EMIT FINAL;",
            "EMIT FINAL is only supported for windowed aggregations.",
        ),
        (
            "CREATE TABLE O AS SELECT A, COUNT(*) AS N FROM KS GROUP BY A;",
            "Source(s) KS are using the 'KAFKA' value format. This format does not yet support "
            "GROUP BY.\nThe KAFKA format is primarily intended for use as a key format.",
        ),
        (
            "CREATE STREAM O WITH (key_format='JSON') AS SELECT * FROM S PARTITION BY NULL;",
            "Key format specified for stream without key columns.",
        ),
        (
            "CREATE STREAM O AS SELECT K, A = NULL AS X FROM S;",
            "Comparison with NULL not supported: INTEGER = NULL\n"
            "Use 'IS NULL' or 'IS NOT NULL' instead.",
        ),
        (
            "CREATE STREAM O AS SELECT * FROM S WHERE NULL <> B;",
            "Comparison with NULL not supported: NULL <> STRING",
        ),
        (
            "CREATE TABLE O AS SELECT K, EXPLODE(ARRAY[1]) AS E, COUNT(*) AS N FROM S GROUP BY K;",
            "Table functions cannot be used with aggregations.",
        ),
        (
            "CREATE STREAM O AS SELECT K, EXPLODE(EXPLODE(ARRAY[ARRAY[1]])) AS E FROM S;",
            "Table functions cannot be nested: EXPLODE(EXPLODE())",
        ),
        (
            "CREATE STREAM O AS SELECT K, CASE WHEN A > 1 THEN EXPLODE(ARRAY[1]) END AS E FROM S;",
            "Table functions cannot be used in CASE: "
            "(CASE WHEN (A > 1) THEN EXPLODE(ARRAY[1]) END)",
        ),
        (
            "CREATE TABLE O AS SELECT K, COUNT(*) AS N FROM S GROUP BY K, K;",
            "Duplicate GROUP BY expression: K",
        ),
        (
            "CREATE STREAM O AS SELECT X.* FROM S;",
            "'X' is not a valid stream/table name or alias.",
        ),
        (
            "CREATE STREAM O AS SELECT K, LEN(A) AS L FROM S;",
            "Function 'len' does not accept parameters (INTEGER).\nValid alternatives are:\n"
            "LEN(STRING)\nLEN(BYTES)\n",
        ),
        (
            "CREATE TABLE T (K STRING PRIMARY KEY, A INT) WITH (kafka_topic='t', format='JSON');"
            "CREATE TABLE O AS SELECT K, LATEST_BY_OFFSET(A) AS L, MIN(A) AS X, MAX(A) AS Y, "
            "MIN(A) AS Z FROM T GROUP BY K;",
            "The aggregation functions LATEST_BY_OFFSET, MIN and MAX cannot be applied to a table "
            "source, only to a stream source.",
        ),
        (
            "CREATE STREAM X (K STRING KEY, A INT) WITH (kafka_topic='x', format='DELIMITED', "
            "value_schema_id=1);",
            "DELIMITED does not support the following configs: [schemaId]",
        ),
        (
            "CREATE STREAM X (K STRING KEY, A INT) WITH (kafka_topic='x', format='JSON', "
            "value_schema_full_name='a.b', value_delimiter='|');",
            "JSON does not support the following configs: [fullSchemaName, delimiter]",
        ),
        (
            "CREATE STREAM X (K STRING KEY, A INT) WITH (kafka_topic='x', format='JSON', "
            "value_protobuf_nullable_representation='WRAPPER');",
            "Property VALUE_PROTOBUF_NULLABLE_REPRESENTATION can only be enabled with protobuf "
            "format",
        ),
        ("INSERT INTO H VALUES ('a', 1, NULL);", "Cannot insert into HEADER columns: HD"),
        ("INSERT INTO H (K, HD) VALUES ('a', NULL);", "Cannot insert into HEADER columns: HD"),
        (
            "INSERT INTO W (K, N) VALUES ('a', 1);",
            "Cannot insert values into windowed stream/table!",
        ),
        (
            "INSERT INTO H SELECT K, A FROM S;",
            "Incompatible schema between results and sink.\nResult schema is `K` STRING KEY, "
            "`A` INTEGER\nSink schema is `K` STRING KEY, `A` INTEGER, `HD` BYTES HEADER('x')",
        ),
    ],
)
def test_statements_ksqldb_refuses_are_refused_with_its_message(
    statement: str, message: str
) -> None:
    assert message in refusal(SOURCES + statement)


def test_the_statements_those_rules_allow_still_run() -> None:
    Engine().execute(
        SOURCES + "CREATE STREAM O1 AS SELECT K, MAP('a' := 1, 'b' := NULL) AS M, "
        "STRUCT(`f` := A, F := B) AS X, A IS NULL AS Y FROM S;"
        "CREATE TABLE O2 AS SELECT K, COUNT(*) AS N FROM S WINDOW TUMBLING (SIZE 1 SECOND) "
        "GROUP BY K EMIT FINAL;"
        "CREATE STREAM O3 WITH (key_format='NONE') AS SELECT * FROM S PARTITION BY NULL;"
        "INSERT INTO H (K, A) VALUES ('a', 1);"
        "CREATE TABLE T (K STRING PRIMARY KEY, A INT, B STRING) "
        "WITH (kafka_topic='t', format='JSON');"
        "CREATE TABLE O4 AS SELECT B, COUNT(*) AS N, SUM(A) AS S, AVG(A) AS M, "
        "COLLECT_LIST(A) AS L FROM T GROUP BY B;"
    )


@pytest.mark.parametrize(
    ("pseudo", "key_type", "keys"),
    [("ROWTIME", "BIGINT", [b"10", b"11"]), ("ROWOFFSET", "BIGINT", [b"0", b"1"])],
)
def test_select_star_partitioned_by_a_pseudo_column_is_keyed_by_it(
    pseudo: str, key_type: str, keys: list[bytes]
) -> None:
    engine = Engine()
    engine.execute(
        "CREATE STREAM S (K STRING KEY, ID BIGINT) WITH (kafka_topic='s', format='JSON');"
        f"CREATE STREAM O AS SELECT * FROM S PARTITION BY {pseudo};"
    )
    for key, ident, ts in (("a", 1, 10), ("b", 2, 11)):
        engine.broker.produce(
            Message("s", f'"{key}"'.encode(), f'{{"ID": {ident}}}'.encode(), timestamp=ts)
        )
    columns = [(c.name, str(c.type), c.namespace) for c in engine.catalog.sources["O"].columns]
    assert columns == [
        (pseudo, key_type, "KEY"),
        ("ID", "BIGINT", "VALUE"),
        ("K", "STRING", "VALUE"),
    ]
    assert [m.key for m in engine.broker.topics["O"]] == keys
    assert json.loads(engine.broker.topics["O"][0].value or b"") == {"ID": 1, "K": "a"}


def test_greatest_and_least_widen_decimals_past_38_digits() -> None:
    assert sink_schema(
        "CREATE STREAM S (K STRING KEY, A DECIMAL(38, 0), B DECIMAL(38, 37)) "
        "WITH (kafka_topic='s', format='JSON');"
        "CREATE STREAM OUTPUT AS SELECT K, GREATEST(A, B) AS G, LEAST(A, B) AS L FROM S;"
    ) == [
        ("K", "STRING", "KEY"),
        ("G", "DECIMAL(75, 37)", "VALUE"),
        ("L", "DECIMAL(75, 37)", "VALUE"),
    ]


def test_a_decimal_type_with_a_scale_past_its_precision_is_refused() -> None:
    assert (
        refusal(
            "CREATE STREAM X (K STRING KEY, D DECIMAL(2, 4)) WITH (kafka_topic='x', format='JSON');"
        )
        == "DECIMAL precision must be >= scale: DECIMAL(2,4)"
    )


def test_a_source_named_in_the_wrong_case_is_refused_with_a_hint_at_the_right_name() -> None:
    defined = (
        "CREATE STREAM \"lower\" (K STRING KEY, A INT) WITH (kafka_topic='lw', format='JSON');"
        "CREATE STREAM UPPER (K STRING KEY, A INT) WITH (kafka_topic='up', format='JSON');"
    )
    assert refusal(defined + "CREATE STREAM O AS SELECT * FROM lower;").endswith(
        'LOWER does not exist.\nDid you mean "lower"? Hint: wrap a source name in double quotes '
        "to make it case-sensitive."
    )
    assert refusal(defined + 'CREATE STREAM O AS SELECT * FROM "upper";').endswith(
        "upper does not exist.\nDid you mean UPPER? Hint: try removing double quotes from the "
        "source name."
    )


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            "SELECT * FROM AG WHERE ROWOFFSET = 1;",
            "Pull queries don't support the following columns in WHERE clauses: `ROWOFFSET`\n"
            " See https://cnfl.io/queries for more info.",
        ),
        (
            "SELECT K, ROWPARTITION + 1 AS P FROM AG WHERE K = 'a';",
            "Pull queries don't support the following columns in SELECT clauses: `ROWPARTITION`",
        ),
        (
            "SELECT * FROM AG WHERE K = 'a' HAVING N > 1;",
            "Pull queries don't support HAVING clauses. See https://cnfl.io/queries",
        ),
    ],
)
def test_pull_queries_refuse_what_ksqldb_refuses(query: str, message: str) -> None:
    service = KsqlService(FakeGateway(), {})
    service.execute_statements(
        "CREATE STREAM S (K STRING KEY, A INT) WITH (kafka_topic='s', format='JSON');"
        "CREATE TABLE AG AS SELECT K, COUNT(*) AS N FROM S GROUP BY K;",
        {},
        {},
    )
    with pytest.raises(KsqlError) as caught:
        service.query(query, {}, {})
    assert message in str(caught.value)


def test_the_planned_statement_quotes_names_that_would_not_read_back_unquoted() -> None:
    engine = Engine()
    engine.execute(
        'CREATE STREAM "lower" (`k` STRING KEY, `a b` INT) '
        "WITH (kafka_topic='l', key_format='KAFKA', value_format='KAFKA');"
    )
    with pytest.raises(KsqlError) as caught:
        engine.execute('CREATE TABLE O AS SELECT `a b`, COUNT(*) FROM "lower" GROUP BY `a b`;')
    assert caught.value.with_statement().endswith(
        "Statement: CREATE TABLE O AS SELECT\n  `lower`.`a b` `a b`,\n  COUNT(*) KSQL_COL_0\n"
        "FROM `lower` `lower`\nGROUP BY `lower`.`a b`\nEMIT CHANGES"
    )


def test_a_tables_select_star_pull_query_shows_its_header_columns_after_the_keys() -> None:
    service = KsqlService(FakeGateway(), {})
    service.execute_statements(
        "CREATE SOURCE TABLE INPUT (K INT PRIMARY KEY, TEXT STRING, H BYTES HEADER('abc')) "
        "WITH (kafka_topic='t', value_format='DELIMITED');",
        {},
        {},
    )
    pull = service.query("SELECT * FROM INPUT;", {}, {})
    assert isinstance(pull, PullQueryResult)
    assert pull.header.schema == "`K` INTEGER KEY, `H` BYTES HEADER('abc'), `TEXT` STRING"
    assert list(pull.header.column_names) == ["K", "TEXT", "H"]
