"""The engine end to end over its in-memory broker: filters, windows, joins, INSERT VALUES."""

from __future__ import annotations

import json

import pytest

from ksql_emulator.contracts.message import Message
from ksql_emulator.engine import Engine
from ksql_emulator.errors import KsqlStatementError

TXNS = (
    "CREATE STREAM TXNS (ACCOUNT STRING KEY, AMOUNT DECIMAL(12, 2), COUNTRY STRING, "
    "EVENT_TIME BIGINT) WITH (kafka_topic='txns', value_format='JSON', timestamp='event_time');"
)


def send(engine: Engine, account: str, amount: float, country: str, ts: int) -> None:
    value = {"AMOUNT": amount, "COUNTRY": country, "EVENT_TIME": ts}
    engine.broker.produce(
        Message("txns", account.encode(), json.dumps(value).encode(), timestamp=0)
    )


def values(engine: Engine, topic: str) -> list[tuple[str | None, object, int]]:
    return [
        (
            m.key.decode() if m.key else None,
            json.loads(m.value) if m.value is not None else None,
            m.timestamp,
        )
        for m in engine.broker.topics.get(topic, [])
    ]


def test_filter_and_projection_use_the_timestamp_column() -> None:
    engine = Engine()
    engine.execute(
        TXNS + "CREATE STREAM BIG AS SELECT ACCOUNT, AMOUNT * 2 AS DOUBLED FROM TXNS "
        "WHERE AMOUNT > 100 AND COUNTRY IN ('FR', 'DE');"
    )
    send(engine, "a", 50, "FR", 1000)
    send(engine, "b", 150, "FR", 2000)
    send(engine, "c", 150, "US", 3000)
    assert values(engine, "BIG") == [("b", {"DOUBLED": 300.0}, 2000)]


def test_tumbling_window_count_with_having() -> None:
    engine = Engine()
    engine.execute(
        TXNS + "CREATE TABLE BURSTS AS SELECT ACCOUNT, COUNT(*) AS N FROM TXNS "
        "WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY ACCOUNT HAVING COUNT(*) >= 2;"
    )
    for ts in (1_000, 2_000, 61_000):
        send(engine, "a", 10, "FR", ts)
    out = [
        (m.key, json.loads(m.value or b"null"), m.window) for m in engine.broker.topics["BURSTS"]
    ]
    assert out == [(b"a", {"N": 2}, (0, 60_000))]


def test_stream_table_join_enriches_each_transaction() -> None:
    engine = Engine()
    engine.execute(
        TXNS + "CREATE TABLE ACCOUNTS (ID STRING PRIMARY KEY, OWNER STRING) "
        "WITH (kafka_topic='accounts', value_format='JSON');"
        "CREATE STREAM ENRICHED AS SELECT T.ACCOUNT, A.OWNER, T.AMOUNT FROM TXNS T "
        "LEFT JOIN ACCOUNTS A ON T.ACCOUNT = A.ID;"
    )
    engine.broker.produce(Message("accounts", b"a", b'{"OWNER": "Ann"}', 0))
    send(engine, "a", 5, "FR", 10)
    send(engine, "z", 6, "FR", 20)
    assert values(engine, "ENRICHED") == [
        ("a", {"OWNER": "Ann", "AMOUNT": 5.0}, 10),
        ("z", {"OWNER": None, "AMOUNT": 6.0}, 20),
    ]


def test_insert_values_flows_into_running_queries() -> None:
    engine = Engine()
    engine.execute(TXNS + "CREATE STREAM FR AS SELECT * FROM TXNS WHERE COUNTRY = 'FR';")
    engine.execute(
        "INSERT INTO TXNS (ACCOUNT, AMOUNT, COUNTRY, EVENT_TIME) VALUES ('q', 1.5, 'FR', 99);"
    )
    assert values(engine, "FR") == [("q", {"AMOUNT": 1.5, "COUNTRY": "FR", "EVENT_TIME": 99}, 99)]


def test_projection_must_keep_the_key() -> None:
    engine = Engine()
    with pytest.raises(KsqlStatementError, match="must include the key column ACCOUNT"):
        engine.execute(TXNS + "CREATE STREAM X AS SELECT AMOUNT FROM TXNS;")


def test_define_substitutes_later_statements() -> None:
    engine = Engine()
    engine.execute("DEFINE topic = 'txns';" + TXNS.replace("'txns'", "'${topic}'"))
    source = engine.catalog.source("TXNS")
    assert source is not None and source.topic == "txns"


def test_queries_over_one_topic_read_each_message_through_their_own_stream() -> None:
    # Queries reading a stream the same way share its decoding; streams that read the same
    # topic differently (another type, another timestamp column) must each keep their own.
    engine = Engine()
    engine.execute(
        TXNS + "CREATE STREAM TXNS_TEXT (ACCOUNT STRING KEY, AMOUNT STRING, COUNTRY STRING, "
        "EVENT_TIME BIGINT) WITH (kafka_topic='txns', value_format='JSON');"
        "CREATE STREAM BY_NUMBER AS SELECT ACCOUNT, AMOUNT, ROWTIME AS T FROM TXNS;"
        "CREATE STREAM BY_NUMBER_AGAIN AS SELECT ACCOUNT, AMOUNT, ROWTIME AS T FROM TXNS;"
        "CREATE STREAM BY_TEXT AS SELECT ACCOUNT, AMOUNT, ROWTIME AS T FROM TXNS_TEXT;"
    )
    engine.broker.produce(
        Message("txns", b"a", b'{"AMOUNT": 12.5, "COUNTRY": "FR", "EVENT_TIME": 5000}', 7)
    )
    number = [("a", {"AMOUNT": 12.5, "T": 5000}, 5000)]
    assert values(engine, "BY_NUMBER") == number
    assert values(engine, "BY_NUMBER_AGAIN") == number
    assert values(engine, "BY_TEXT") == [("a", {"AMOUNT": "12.5", "T": 7}, 7)]
