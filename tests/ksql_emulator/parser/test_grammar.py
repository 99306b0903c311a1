"""The grammar: statement shapes, identifier case rules, variables."""

from __future__ import annotations

import pytest

from ksql_emulator.errors import ParseError
from ksql_emulator.parser import parse, parse_expression
from ksql_emulator.parser import tree as t


def one(sql: str, variables: dict[str, str] | None = None) -> t.Statement:
    stmts = parse(sql, variables)
    assert len(stmts) == 1
    return stmts[0].statement


def test_create_stream_columns_keys_headers_and_properties() -> None:
    stmt = one(
        "CREATE STREAM s (id INT KEY, `Name` VARCHAR, h ARRAY<STRUCT<key STRING, value BYTES>> "
        "HEADERS, amount DECIMAL(12, 2)) WITH (KAFKA_TOPIC='t', value_format='json', "
        "partitions=3);"
    )
    assert isinstance(stmt, t.CreateSource)
    assert [c.name for c in stmt.columns] == ["ID", "Name", "H", "AMOUNT"]
    assert [c.constraint for c in stmt.columns] == ["KEY", None, "HEADERS", None]
    assert stmt.columns[1].type == t.TypeSpec("STRING")
    assert stmt.columns[3].type == t.TypeSpec("DECIMAL", (12, 2))
    assert dict(stmt.props) == {"KAFKA_TOPIC": "t", "VALUE_FORMAT": "json", "PARTITIONS": 3}


def test_create_table_as_select_with_window_group_having_emit() -> None:
    stmt = one(
        "CREATE OR REPLACE TABLE c AS SELECT account, COUNT(*) AS n FROM txns "
        "WINDOW HOPPING (SIZE 1 HOUR, ADVANCE BY 10 MINUTES, GRACE PERIOD 0 SECONDS) "
        "WHERE amount > 10 GROUP BY account HAVING COUNT(*) > 3 EMIT FINAL;"
    )
    assert isinstance(stmt, t.CreateAsSelect) and stmt.or_replace
    q = stmt.query
    assert q.window is not None and q.window.kind == "HOPPING"
    assert q.window.size is not None and q.window.size.ms == 3_600_000
    assert q.window.advance is not None and q.window.advance.ms == 600_000
    assert q.group_by == (t.ColumnRef("ACCOUNT"),)
    assert q.emit == "FINAL"


def test_join_within_and_partition_by() -> None:
    stmt = one(
        "INSERT INTO out SELECT * FROM a LEFT JOIN b WITHIN (1 SECOND, 2 SECONDS) "
        "ON a.id = b.id PARTITION BY a.id;"
    )
    assert isinstance(stmt, t.InsertInto)
    join = stmt.query.from_
    assert isinstance(join, t.Join) and join.kind == "LEFT"
    assert join.within is not None and (join.within.before.ms, join.within.after.ms) == (1000, 2000)
    assert stmt.query.partition_by == (t.ColumnRef("ID", "A"),)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "a BETWEEN 1 AND 3",
            t.Between(t.ColumnRef("A"), t.Literal("INTEGER", 1), t.Literal("INTEGER", 3)),
        ),
        ("a NOT IN (1)", t.InList(t.ColumnRef("A"), (t.Literal("INTEGER", 1),), True)),
        ("a LIKE 'x!%' ESCAPE '!'", t.Like(t.ColumnRef("A"), t.Literal("STRING", "x!%"), "!")),
        ("a IS NOT DISTINCT FROM b", t.IsDistinct(t.ColumnRef("A"), t.ColumnRef("B"), True)),
        ("s->f[1]", t.Subscript(t.Dereference(t.ColumnRef("S"), "F"), t.Literal("INTEGER", 1))),
        (
            "1 + 2 * 3",
            t.Arithmetic(
                "+",
                t.Literal("INTEGER", 1),
                t.Arithmetic("*", t.Literal("INTEGER", 2), t.Literal("INTEGER", 3)),
            ),
        ),
        (
            "TRANSFORM(xs, x => x + 1)",
            t.FunctionCall(
                "TRANSFORM",
                (
                    t.ColumnRef("XS"),
                    t.Lambda(("X",), t.Arithmetic("+", t.ColumnRef("X"), t.Literal("INTEGER", 1))),
                ),
            ),
        ),
    ],
)
def test_expressions(text: str, expected: t.Expr) -> None:
    assert parse_expression(text) == expected


def test_number_literal_types() -> None:
    assert parse_expression("2147483648") == t.Literal("BIGINT", 2147483648)
    lit = parse_expression("1.50")
    assert isinstance(lit, t.Literal) and lit.kind == "DECIMAL"
    assert parse_expression("1.5E2") == t.Literal("DOUBLE", 150.0)


def test_reserved_word_must_be_quoted() -> None:
    with pytest.raises(ParseError):
        parse("SELECT END FROM T;")
    stmt = one("SELECT `END` FROM T;")
    assert isinstance(stmt, t.SelectStatement)


def test_variables_are_substituted_in_identifiers_and_strings() -> None:
    stmt = one(
        "CREATE STREAM ${name} (A INT) WITH (kafka_topic='${topic}', value_format='JSON');",
        {"name": "orders", "topic": "orders_topic"},
    )
    assert isinstance(stmt, t.CreateSource)
    assert stmt.name == "ORDERS"
    assert dict(stmt.props)["KAFKA_TOPIC"] == "orders_topic"


def test_undefined_variable_is_an_error_with_position() -> None:
    with pytest.raises(ParseError) as caught:
        parse("DROP STREAM ${missing};")
    assert (caught.value.line, caught.value.col) == (1, 13)


def test_comments_and_multiple_statements() -> None:
    stmts = parse("-- first\nSHOW STREAMS;\n/* block\n */ LIST TOPICS;\nDESCRIBE s EXTENDED;")
    kinds = [type(s.statement).__name__ for s in stmts]
    assert kinds == ["Show", "Show", "Describe"]
    assert [s.line for s in stmts] == [2, 4, 5]


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        (
            "CREATE SOURCE CONNECTOR `jdbc-source` WITH ('connector.class'='JdbcSource', "
            "'tasks.max'=1);",
            t.CreateConnector("SOURCE", "jdbc-source", (("CONNECTOR.CLASS", "JdbcSource"),
                                                        ("TASKS.MAX", 1))),
        ),
        (
            "CREATE SINK CONNECTOR IF NOT EXISTS pg WITH ('connector.class'='JdbcSink');",
            t.CreateConnector("SINK", "PG", (("CONNECTOR.CLASS", "JdbcSink"),), True),
        ),
        ("DROP CONNECTOR IF EXISTS `pg`;", t.DropConnector("pg", True)),
        ("DESCRIBE CONNECTOR pg;", t.DescribeConnector("PG")),
        ("SHOW CONNECTORS;", t.ListConnectors("ALL")),
        ("LIST SOURCE CONNECTORS;", t.ListConnectors("SOURCE")),
        ("SHOW SINK CONNECTORS;", t.ListConnectors("SINK")),
        ("SHOW CONNECTOR PLUGINS;", t.ListConnectorPlugins()),
        ("PAUSE ctas_counts_3;", t.PauseQuery("CTAS_COUNTS_3")),
        ("PAUSE ALL;", t.PauseQuery(None)),
        ("RESUME CSAS_S_1;", t.ResumeQuery("CSAS_S_1")),
        ("RESUME ALL;", t.ResumeQuery(None)),
        ("ALTER SYSTEM 'ksql.streams.num.stream.threads'='4';",
         t.AlterSystem("ksql.streams.num.stream.threads", "4")),
        ("ASSERT TOPIC 'orders' TIMEOUT 5 SECONDS;",
         t.AssertTopic("orders", (), True, t.Duration(5, "SECONDS"))),
        ("ASSERT NOT EXISTS TOPIC orders WITH (PARTITIONS=3, REPLICAS=1);",
         t.AssertTopic("ORDERS", (("PARTITIONS", 3), ("REPLICAS", 1)), False)),
        ("ASSERT SCHEMA SUBJECT 'orders-value' ID 12 TIMEOUT 1 MINUTE;",
         t.AssertSchema("orders-value", 12, True, t.Duration(1, "MINUTES"))),
        ("ASSERT NOT EXISTS SCHEMA ID 7;", t.AssertSchema(None, 7, False)),
    ],
)  # fmt: skip
def test_statements_of_ksqldbs_grammar_beyond_queries(sql: str, expected: t.Statement) -> None:
    assert one(sql) == expected


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE SOURCE CONNECTOR c;",  # a connector needs its WITH
        "CREATE OR REPLACE SINK CONNECTOR c WITH ('a'='b');",
        "ASSERT SCHEMA TIMEOUT 1 SECOND;",  # a subject or an id
        "ALTER SYSTEM auto.offset.reset = 'earliest';",  # the name is a string
        "PAUSE;",
    ],
)
def test_malformed_statements_of_that_grammar_are_syntax_errors(sql: str) -> None:
    with pytest.raises(ParseError):
        parse(sql)


def test_connector_and_pause_words_stay_usable_as_names() -> None:
    stmt = one("CREATE STREAM connector (pause INT, resume INT) WITH (kafka_topic='c', "
               "value_format='json');")  # fmt: skip
    assert isinstance(stmt, t.CreateSource) and stmt.name == "CONNECTOR"
    assert one("DESCRIBE connector;") == t.Describe("CONNECTOR")
