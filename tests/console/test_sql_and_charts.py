"""The SQL page's sorting of what it is given, and the server-drawn chart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from streamguard.console.charts import stacked_bars
from streamguard.console.sql import SqlInputError, kind_of


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("SELECT * FROM t WHERE k = 'a';", "pull"),
        ("  -- the latest\nselect * from fraud_alerts emit changes limit 3;", "push"),
        ("SELECT * FROM t /* EMIT CHANGES */;", "pull"),
        ("SHOW STREAMS;", "statement"),
        ("CREATE STREAM s (a INT) WITH (KAFKA_TOPIC='s', VALUE_FORMAT='JSON');", "statement"),
        ("DROP STREAM s; DROP STREAM t;", "statement"),
        ("INSERT INTO s (a) VALUES ('x; SELECT 1 FROM t');", "statement"),
        ("CREATE STREAM x AS SELECT * FROM t EMIT CHANGES; SHOW QUERIES;", "statement"),
    ],
)
def test_a_text_is_a_pull_query_a_push_query_or_statements(text: str, kind: str) -> None:
    assert kind_of(text) == kind


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "there is no statement to run"),
        ("/* only a comment */", "there is no statement to run"),
        ("SELECT 1 FROM a; SELECT 2 FROM b;", "run one query at a time"),
        # ksqlDB takes statements and queries at different endpoints.
        ("SELECT 1 FROM a; SHOW STREAMS;", "run a query on its own: the text holds statements"),
        ("SHOW STREAMS; SELECT * FROM t;", "run a query on its own: the text holds statements"),
    ],
)
def test_what_cannot_be_run_says_why(text: str, message: str) -> None:
    with pytest.raises(SqlInputError, match=message):
        kind_of(text)


def test_bars_stack_per_slot_and_the_axis_rounds_up() -> None:
    start = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
    slots = [start + timedelta(minutes=i) for i in range(3)]
    svg = str(
        stacked_bars(
            {
                "velocity": list(zip(slots, [0, 3, 1], strict=True)),
                "high_amount": list(zip(slots, [0, 4, 0], strict=True)),
            },
            title="a <title>",
        )
    )
    assert svg.count("<rect") == 3 + 2  # three non-empty bars, two legend swatches
    assert ">10</text>" in svg  # 7 at most in a slot: the axis tops at 10
    assert "velocity 10:01: 3" in svg and "high_amount 10:01: 4" in svg
    assert "a &lt;title&gt;" in svg  # text is escaped


def test_no_series_says_so() -> None:
    assert "no alerts in this time" in str(stacked_bars({}))
