"""Stateful semantics a user notices: when EMIT FINAL emits, session merges, late records,
collection limits, table functions and the statistical aggregates."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from ksql_emulator.contracts.message import Message
from ksql_emulator.engine import Engine
from ksql_emulator.errors import KsqlError
from ksql_emulator.runtime.operators.aggregate import AggregateOperator
from ksql_emulator.runtime.state.changelog_format import decode
from ksql_emulator.runtime.state.logged import LoggedKeyValueStore

EVENTS = (
    "CREATE STREAM EVENTS (ID STRING KEY, V INT, ARR ARRAY<INT>, ARR2 ARRAY<INT>) "
    "WITH (kafka_topic='events', value_format='JSON');"
)


def send(engine: Engine, key: str, ts: int, **value: Any) -> None:
    engine.broker.produce(Message("events", key.encode(), json.dumps(value).encode(), timestamp=ts))


def rows(engine: Engine, topic: str) -> list[tuple[str, Any, Any]]:
    return [
        (
            m.key.decode() if m.key else "",
            json.loads(m.value) if m.value is not None else None,
            m.window,
        )
        for m in engine.broker.topics.get(topic, [])
    ]


def test_emit_final_emits_each_window_once_when_its_close_time_passes() -> None:
    engine = Engine()
    engine.execute(
        EVENTS + "CREATE TABLE OUT AS SELECT ID, COUNT(*) AS N FROM EVENTS "
        "WINDOW TUMBLING (SIZE 10 MILLISECONDS, GRACE PERIOD 5 MILLISECONDS) "
        "GROUP BY ID EMIT FINAL;"
    )
    for ts in (1, 4, 12, 14):
        send(engine, "a", ts, V=1)
    assert rows(engine, "OUT") == []  # [0, 10) closes at 15
    send(engine, "a", 15, V=1)
    send(engine, "a", 16, V=1)
    assert rows(engine, "OUT") == [("a", {"N": 2}, (0, 10))]


def test_emit_final_skips_windows_the_store_no_longer_retains() -> None:
    # Stream time jumps far ahead: by the time [0, 10) closes, the window store (retention =
    # size + grace) has dropped it, so Kafka Streams has nothing to emit for it.
    engine = Engine()
    engine.execute(
        EVENTS + "CREATE TABLE OUT AS SELECT ID, COUNT(*) AS N FROM EVENTS "
        "WINDOW TUMBLING (SIZE 10 MILLISECONDS, GRACE PERIOD 5 MILLISECONDS) "
        "GROUP BY ID EMIT FINAL;"
    )
    send(engine, "a", 1, V=1)
    send(engine, "a", 100, V=1)
    assert rows(engine, "OUT") == []


def test_emit_changes_drops_records_after_the_default_24_hour_grace() -> None:
    engine = Engine()
    engine.execute(
        EVENTS + "CREATE TABLE OUT AS SELECT ID, COUNT(*) AS N FROM EVENTS "
        "WINDOW TUMBLING (SIZE 1 HOUR) GROUP BY ID;"
    )
    day = 24 * 3600 * 1000
    send(engine, "a", 2 * day, V=1)
    send(engine, "a", 10, V=1)  # its window ended a day before stream time
    send(engine, "a", 2 * day - 1000, V=1)  # late, but within its window's grace
    assert [r[1] for r in rows(engine, "OUT")] == [{"N": 1}, {"N": 1}]


# Windows kept for 15 ms of stream time: 10 ms of size, 5 ms of grace.
WINDOWED_COUNT = (
    EVENTS + "CREATE TABLE OUT AS SELECT ID, COUNT(*) AS N FROM EVENTS "
    "WINDOW TUMBLING (SIZE 10 MILLISECONDS, GRACE PERIOD 5 MILLISECONDS) GROUP BY ID;"
)


def windowed_count() -> tuple[Engine, AggregateOperator]:
    engine = Engine()
    engine.execute(WINDOWED_COUNT)
    (query,) = engine.queries.values()
    (aggregate,) = [op for op in query.operators if isinstance(op, AggregateOperator)]
    return engine, aggregate


def test_windows_older_than_the_retention_leave_the_store_and_its_changelog() -> None:
    # A long-running server opens windows without end; each is kept until it is older than
    # the store's retention (size + grace), then deleted, with a changelog tombstone that lets
    # compaction drop it too. A record that arrives for it later is still dropped as late.
    engine, aggregate = windowed_count()
    store = aggregate.store = LoggedKeyValueStore()
    send(engine, "a", 1, V=1)
    send(engine, "b", 12, V=1)
    store.drain()
    send(engine, "a", 24, V=1)  # stream time 24: [0, 10) is past its retention of 15 ms
    assert sorted(key for key, _ in store.items()) == [(("a",), 20), (("b",), 10)]
    tombstones = [key for key, value in store.drain() if value is None]
    assert [decode(key) for key in tombstones] == [(("a",), 0)]
    send(engine, "a", 2, V=1)  # late for the deleted window: dropped, not counted afresh
    assert [r[1] for r in rows(engine, "OUT")] == [{"N": 1}, {"N": 1}, {"N": 1}]


def test_a_jump_in_stream_time_expires_old_windows_over_the_next_records() -> None:
    # Old windows by the thousand (a replayed backlog) then live traffic: no one record pays
    # for deleting them all.
    engine, aggregate = windowed_count()
    for n in range(1000):
        send(engine, f"k{n}", 1, V=1)
    held = [len(list(aggregate.store.items()))]
    for ts in range(100, 300):
        send(engine, "live", ts, V=1)
        held.append(len(list(aggregate.store.items())))
    assert held[:3] == [1000, 991, 981]  # ten a record; "live" opened one window
    assert held[-1] == 1  # the live key's current window: its older ones expired too


def test_windows_a_restart_restores_expire_as_the_others_do() -> None:
    before = Engine()
    before.execute(WINDOWED_COUNT)
    logged = LoggedKeyValueStore()
    before.queries["CTAS_OUT_0"].bind_stores(lambda _name, _store: logged)
    send(before, "a", 1, V=1)
    send(before, "b", 12, V=1)
    changelog = logged.drain()

    after = Engine()  # a restarted server: its store comes back from the changelog
    after.execute(WINDOWED_COUNT)
    restored = LoggedKeyValueStore()
    for key, value in changelog:
        restored.restore(key, value)
    after.queries["CTAS_OUT_0"].bind_stores(lambda _name, _store: restored)
    send(after, "b", 24, V=1)
    assert sorted(key for key, _ in restored.items()) == [(("b",), 10), (("b",), 20)]


def test_session_merge_keeps_every_value_in_arrival_order() -> None:
    engine = Engine()
    engine.execute(
        EVENTS + "CREATE TABLE OUT AS SELECT ID, COLLECT_LIST(V) AS VS, "
        "LATEST_BY_OFFSET(V, 2) AS LAST2 FROM EVENTS "
        "WINDOW SESSION (10 MILLISECONDS) GROUP BY ID;"
    )
    send(engine, "a", 0, V=1)
    send(engine, "a", 16, V=2)
    send(engine, "a", 8, V=3)  # within the gap of both sessions: they merge
    merged = rows(engine, "OUT")[-1]
    assert merged == ("a", {"VS": [1, 2, 3], "LAST2": [2, 3]}, (0, 16))


def test_session_record_for_a_closed_session_is_dropped() -> None:
    engine = Engine()
    engine.execute(
        EVENTS + "CREATE TABLE OUT AS SELECT ID, COUNT(*) AS N FROM EVENTS "
        "WINDOW SESSION (5 MILLISECONDS, GRACE PERIOD 2 MILLISECONDS) GROUP BY ID;"
    )
    send(engine, "a", 0, V=1)
    send(engine, "a", 20, V=1)
    send(engine, "a", 3, V=1)  # would extend [0, 0], which closed at stream time 2
    assert [r[1] for r in rows(engine, "OUT")] == [{"N": 1}, {"N": 1}]


def test_collect_list_stops_at_its_configured_limit() -> None:
    engine = Engine(properties={"ksql.functions.collect_list.limit": "2"})
    engine.execute(
        EVENTS + "CREATE TABLE OUT AS SELECT ID, COLLECT_LIST(V) AS VS FROM EVENTS GROUP BY ID;"
    )
    for v in (1, 2, 3):
        send(engine, "a", v, V=v)
    assert [r[1] for r in rows(engine, "OUT")] == [{"VS": [1]}, {"VS": [1, 2]}, {"VS": [1, 2]}]


def test_explode_pads_the_shorter_array_with_nulls() -> None:
    engine = Engine()
    engine.execute(
        EVENTS + "CREATE STREAM OUT AS SELECT ID, EXPLODE(ARR) AS A, EXPLODE(ARR2) AS B "
        "FROM EVENTS;"
    )
    send(engine, "a", 0, ARR=[1, 2, 3], ARR2=[9])
    send(engine, "b", 0, ARR=None, ARR2=[])
    assert [r[1] for r in rows(engine, "OUT")] == [
        {"A": 1, "B": 9},
        {"A": 2, "B": None},
        {"A": 3, "B": None},
    ]


def test_table_functions_are_rejected_over_tables() -> None:
    engine = Engine()
    engine.execute(
        "CREATE TABLE T (ID STRING PRIMARY KEY, ARR ARRAY<INT>) "
        "WITH (kafka_topic='t', value_format='JSON');"
    )
    with pytest.raises(KsqlError, match="Table source is not supported with table functions"):
        engine.execute("CREATE TABLE OUT AS SELECT ID, EXPLODE(ARR) AS A FROM T;")


def test_topk_with_extra_columns_returns_ranked_structs() -> None:
    engine = Engine()
    engine.execute(
        "CREATE STREAM S (ID STRING KEY, V INT, NAME STRING) "
        "WITH (kafka_topic='events', value_format='JSON');"
        "CREATE TABLE OUT AS SELECT ID, TOPK(V, NAME, 2) AS TOP FROM S GROUP BY ID;"
    )
    for v, name in ((5, "five"), (9, "nine"), (7, "seven")):
        send(engine, "a", 0, V=v, NAME=name)
    assert rows(engine, "OUT")[-1][1] == {
        "TOP": [{"sort_col": 9, "col0": "nine"}, {"sort_col": 7, "col0": "seven"}]
    }


def test_stddev_samp_is_the_sample_variance_and_stddev_sample_its_root() -> None:
    engine = Engine()
    engine.execute(
        EVENTS + "CREATE TABLE OUT AS SELECT ID, STDDEV_SAMP(V) AS VAR, "
        "STDDEV_SAMPLE(V) AS SD FROM EVENTS GROUP BY ID;"
    )
    for v in (2, 4, 9):
        send(engine, "a", 0, V=v)
    last = rows(engine, "OUT")[-1][1]
    assert last["VAR"] == pytest.approx(13.0)
    assert last["SD"] == pytest.approx(math.sqrt(13.0))


def test_aggregates_with_structured_state_are_refused_over_delimited() -> None:
    engine = Engine()
    engine.execute(
        "CREATE STREAM D (ID STRING KEY, V INT) WITH (kafka_topic='d', value_format='DELIMITED');"
    )
    with pytest.raises(KsqlError, match="intermediate type that the value format can not"):
        engine.execute("CREATE TABLE OUT AS SELECT ID, AVG(V) AS A FROM D GROUP BY ID;")
