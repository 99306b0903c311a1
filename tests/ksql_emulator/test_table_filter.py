"""A WHERE on a table: rows that leave the result leave it as deletes, as in ksqlDB."""

from __future__ import annotations

import json

from ksql_emulator.contracts.message import Message
from ksql_emulator.engine import Engine

USERS = (
    "CREATE TABLE USERS (ID STRING PRIMARY KEY, LEVEL INT) "
    "WITH (kafka_topic='users', value_format='JSON');"
    "CREATE TABLE VIPS AS SELECT ID, LEVEL FROM USERS WHERE LEVEL > 5;"
)


def put(engine: Engine, key: str, level: int | None) -> None:
    value = None if level is None else json.dumps({"LEVEL": level}).encode()
    engine.broker.produce(Message("users", key.encode(), value, timestamp=0))


def out(engine: Engine) -> list[tuple[str, object]]:
    return [
        (m.key.decode() if m.key else "", json.loads(m.value) if m.value else None)
        for m in engine.broker.topics.get("VIPS", [])
    ]


def test_deleting_a_row_that_passed_deletes_it_downstream() -> None:
    engine = Engine()
    engine.execute(USERS)
    put(engine, "a", 9)
    put(engine, "a", None)
    assert out(engine) == [("a", {"LEVEL": 9}), ("a", None)]


def test_rows_that_never_passed_leave_no_trace() -> None:
    engine = Engine()
    engine.execute(USERS)
    put(engine, "b", 1)
    put(engine, "b", None)
    assert out(engine) == []


def test_an_update_that_stops_passing_is_a_delete() -> None:
    engine = Engine()
    engine.execute(USERS)
    put(engine, "c", 7)
    put(engine, "c", 2)
    put(engine, "c", 3)
    assert out(engine) == [("c", {"LEVEL": 7}), ("c", None)]


def test_a_stream_filter_still_drops_null_values() -> None:
    engine = Engine()
    engine.execute(
        "CREATE STREAM S (ID STRING KEY, LEVEL INT) WITH (kafka_topic='s', value_format='JSON');"
        "CREATE STREAM T AS SELECT * FROM S WHERE LEVEL > 5;"
    )
    engine.broker.produce(Message("s", b"a", b'{"LEVEL": 9}', timestamp=0))
    engine.broker.produce(Message("s", b"a", None, timestamp=0))
    assert [m.value for m in engine.broker.topics["T"]] == [b'{"LEVEL":9}']
