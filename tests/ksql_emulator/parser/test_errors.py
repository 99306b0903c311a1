"""Malformed statements: each error names what is wrong, its line and its column."""

from __future__ import annotations

import pytest

from ksql_emulator.engine import Engine
from ksql_emulator.errors import (
    KsqlError,
    ParseError,
    StatementTooLargeError,
    TypeMismatchError,
    UnknownColumnError,
    UnknownFunctionError,
)
from ksql_emulator.parser import parse

SOURCE = (
    "CREATE STREAM TXNS (ACCOUNT STRING KEY, AMOUNT DOUBLE, CITY STRING) "
    "WITH (kafka_topic='txns', value_format='JSON');\n"
)


def run(sql: str) -> KsqlError:
    engine = Engine()
    with pytest.raises(KsqlError) as caught:
        engine.execute(SOURCE + sql)
    return caught.value


def test_unbalanced_quote_points_at_the_opening_quote() -> None:
    with pytest.raises(ParseError) as caught:
        parse("SELECT * FROM T\nWHERE CITY = 'Paris;")
    err = caught.value
    assert (err.line, err.col) == (2, 14)
    assert "Unterminated string" in str(err)
    assert str(err).startswith("line 2:14: Syntax Error")


def test_unbalanced_parenthesis_names_the_expected_token() -> None:
    with pytest.raises(ParseError) as caught:
        parse("SELECT (AMOUNT + 1 FROM T;")
    assert str(caught.value).startswith("line 1:20: Syntax Error")
    assert "expecting ')'" in str(caught.value)


def test_missing_semicolon_between_statements() -> None:
    with pytest.raises(ParseError) as caught:
        parse("SET 'a'='b'\nSET 'c'='d';")
    err = caught.value
    assert (err.line, err.col) == (2, 1)
    assert "'SET'" in str(err) and "expecting ';'" in str(err)


def test_unknown_column_names_column_line_and_column() -> None:
    err = run("CREATE STREAM OUT AS SELECT ACCOUNT,\n  BOB FROM TXNS;")
    assert isinstance(err, UnknownColumnError)
    assert str(err) == "Line: 3, Col: 3: SELECT column 'BOB' cannot be resolved."
    assert err.ksql_type == "KsqlStatementException"


def test_type_mismatch_names_both_types_and_the_position() -> None:
    err = run("CREATE STREAM OUT AS SELECT * FROM TXNS\nWHERE AMOUNT > 'lots';")
    assert "Cannot compare AMOUNT (DOUBLE) to 'lots' (STRING) with GREATER_THAN" in str(err)
    assert str(err).startswith("Line: 3, Col: 7:")
    assert isinstance(err.__cause__, TypeMismatchError)


def test_unknown_function_names_the_function_and_its_position() -> None:
    err = run("CREATE STREAM OUT AS SELECT ACCOUNT, FOO(CITY) FROM TXNS;")
    assert isinstance(err, UnknownFunctionError)
    assert "Can't find any functions with the name 'FOO'" in str(err)
    assert str(err).startswith("Line: 2, Col: 38:")


def test_unknown_statement_is_a_syntax_error() -> None:
    with pytest.raises(ParseError) as caught:
        parse("CREAT STREAM X (A INT) WITH (kafka_topic='x', value_format='JSON');")
    assert str(caught.value) == "line 1:1: Syntax Error\nUnknown statement 'CREAT'"
    assert caught.value.ksql_type == "ParseFailedException"


def test_render_underlines_the_offending_token() -> None:
    sql = "SELECT * FROM T WHERE A = = 1;"
    with pytest.raises(ParseError) as caught:
        parse(sql)
    rendered = caught.value.render(sql).splitlines()
    assert rendered[-2].strip() == sql
    assert rendered[-1].index("^") - 2 == sql.index("= 1")


def test_literal_overflow_is_reported_like_ksqldb() -> None:
    with pytest.raises(ParseError) as caught:
        parse("SELECT 9223372036854775808 FROM T;")
    assert str(caught.value) == (
        "Failed to prepare statement: line 1:9: Invalid numeric literal: 9223372036854775808"
    )


TOO_LARGE = (
    "Error processing statement: Statement is too large to parse. "
    "This may be caused by having too many nested expressions in the statement."
)


@pytest.mark.parametrize(
    "expression",
    ["(" * 5000 + "AMOUNT" + ")" * 5000, "NOT " * 5000 + "TRUE", "- " * 5000 + "AMOUNT"],
)
def test_a_statement_nested_thousands_deep_is_too_large_as_ksqldb_says(expression: str) -> None:
    sql = f"SELECT {expression} FROM TXNS EMIT CHANGES;"
    with pytest.raises(StatementTooLargeError) as info:
        parse(sql)
    assert info.value.message == TOO_LARGE
    assert info.value.statement == sql


@pytest.mark.parametrize(
    "sql",
    [
        # Parsed, then too deep for the steps that walk the statement after the parser.
        "CREATE STREAM SUMS AS SELECT " + " + ".join(["AMOUNT"] * 20_000) + " AS X FROM TXNS;",
        "CREATE STREAM DEEP AS SELECT * FROM TXNS WHERE "
        + "(" * 5000
        + "AMOUNT > 1"
        + ")" * 5000
        + ";",
    ],
)
def test_a_statement_too_large_is_a_bad_request_never_a_server_error(sql: str) -> None:
    from ksql_emulator.server._errors import statement_error_from

    engine = Engine()
    engine.execute(SOURCE)
    with pytest.raises((StatementTooLargeError, RecursionError)) as info:
        engine.execute(sql)
    status, body = statement_error_from(info.value, sql)
    assert (status, body) == (
        400,
        {"@type": "generic_error", "error_code": 40000, "message": TOO_LARGE},
    )
    # Nothing of the refused statement was created.
    assert [s.name for s in engine.execute("SHOW STREAMS;")[0].data] == ["TXNS"]


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        # A ',' where a parenthesised list item should close: the ')' is missing.
        ("SELECT * FROM T GROUP BY A, (B, C);", "line 1:31: Syntax Error\nmissing ')' at ','"),
        ("SELECT F(A, (B, C)) FROM T;", "line 1:15: Syntax Error\nmissing ')' at ','"),
        # One stray token before the ')': it is extraneous.
        ("SELECT (A B) FROM T;", "line 1:11: Syntax Error\nextraneous input 'B' expecting ')'"),
        ("SELECT ARRAY[(A, B)] FROM T;", "line 1:16: Syntax Error\nmissing ')' at ','"),
        ("SELECT A + (B, C) FROM T;", "line 1:14: Syntax Error\nmissing ')' at ','"),
        # Where no ',' may follow (a WHERE clause, inside CAST or CASE), the input just does not
        # match.
        ("SELECT * FROM T WHERE (A, B) > 1;", "mismatched input ',' expecting ')'"),
        ("SELECT CAST((A, B) AS INT) FROM T;", "mismatched input ',' expecting ')'"),
        ("SELECT CASE WHEN (A, B) THEN 1 END FROM T;", "mismatched input ',' expecting ')'"),
    ],
)
def test_a_parenthesis_left_open_is_reported_as_antlr_recovers(sql: str, message: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse(sql)
    assert message in str(caught.value)


def test_a_base_type_takes_parameters_that_do_not_change_it() -> None:
    engine = Engine()
    engine.execute(
        "CREATE STREAM X (K VARCHAR(STRING) KEY, D INT(10)) WITH (kafka_topic='x', format='JSON');"
        "CREATE STREAM Y AS SELECT K, CAST(D AS VARCHAR(STRING)) AS S FROM X;"
    )
    assert [(c.name, str(c.type)) for c in engine.catalog.sources["Y"].columns] == [
        ("K", "STRING"),
        ("S", "STRING"),
    ]


@pytest.mark.parametrize(
    ("sql", "command"),
    [
        ("SELECT * FROM T EMIT CHANGES LIMIT 1.5;", "LIMIT"),
        ("SELECT * FROM T EMIT CHANGES LIMIT 2E1;", "LIMIT"),
        (
            "CREATE STREAM X (D DECIMAL(.1, 1)) WITH (kafka_topic='x', format='JSON');",
            "DECIMAL(PRECISION)",
        ),
        (
            "CREATE STREAM X (D DECIMAL(1, 1.1)) WITH (kafka_topic='x', format='JSON');",
            "DECIMAL(SCALE)",
        ),
    ],
)
def test_a_number_where_an_integer_is_needed_is_refused_naming_the_command(
    sql: str, command: str
) -> None:
    with pytest.raises(KsqlError) as caught:
        parse(sql)
    assert str(caught.value) == f"Value must be integer for command: {command}"


def test_a_reserved_word_used_as_a_name_is_refused_with_how_to_quote_it() -> None:
    with pytest.raises(ParseError) as caught:
        parse("CREATE STREAM S (from INT) WITH (kafka_topic='x', format='JSON');")
    assert str(caught.value) == (
        'line 1:18: Syntax Error\n"from" is a reserved keyword and it can\'t be used as an '
        "identifier. You can use it as an identifier by escaping it as 'from' "
    )
    parse("CREATE STREAM S (`FROM` INT) WITH (kafka_topic='x', format='JSON');")
