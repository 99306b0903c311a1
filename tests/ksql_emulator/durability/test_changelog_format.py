"""State format 1: every value a store holds survives its changelog exactly, and state an older
emulator pickled is refused with a clear message, never unpickled."""

from __future__ import annotations

import datetime as dt
import json
import math
import pickle
import tracemalloc
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer

from ksql_emulator.contracts.message import Message
from ksql_emulator.engine import Engine
from ksql_emulator.kafka.changelog import QueryState
from ksql_emulator.kafka.errors import KafkaLayerError
from ksql_emulator.kafka.gateway import ConfluentGateway
from ksql_emulator.runtime.operators.aggregate import AggregateOperator
from ksql_emulator.runtime.state.changelog_format import (
    StateFormatError,
    decode,
    encode,
    encode_group_key,
    encode_native_tuple,
)
from ksql_emulator.runtime.state.logged import LoggedKeyValueStore
from ksql_emulator.runtime.state.memory import MemoryKeyValueStore


def same(a: Any, b: Any) -> bool:
    """Equal and of the same types all the way down (1 == 1.0 == True would hide a loss)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (
            a == b and math.copysign(1, a) == math.copysign(1, b)
        )
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(
            same(ka, kb) and same(a[ka], b[kb]) for ka, kb in zip(a, b, strict=True)
        )
    if isinstance(a, set | frozenset):
        return a == b and sorted(map(repr, a)) == sorted(map(repr, b))
    if isinstance(a, Decimal):
        return str(a) == str(b)
    return bool(a == b)


VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -(2**70),
    1.0,
    -0.0,
    1e-300,
    math.nan,
    math.inf,
    -math.inf,
    Decimal("12.50"),
    Decimal("-0.001"),
    Decimal("1E+3"),
    "",
    "Zürich \u2603 \ud83d",  # a lone surrogate survives too
    b"\x00\xff raw",
    dt.date(2024, 2, 29),
    dt.time(13, 5, 0, 250_000),
    dt.datetime(1969, 12, 31, 23, 59, 59, 999_000),
    [1, [2.5, None], []],
    (1, ("nested",), ()),
    {"A": 1, "B": {"C": [Decimal("1.5")]}},
    {("k", 1): (("k", 1), (1, "row")), None: {}, 3: "int key"},
    frozenset({"'x'", "'y'"}),
    {1, 2},
    ([Decimal("3"), (Decimal("4.5"), 2), frozenset()], 61_000),
]


# Ids by position and type: a set's repr changes order from one process to the next, and
# pytest-xdist's workers must collect the same ids.
@pytest.mark.parametrize(
    "value", VALUES, ids=[f"{i}-{type(v).__name__}" for i, v in enumerate(VALUES)]
)
def test_every_value_type_round_trips_exactly(value: Any) -> None:
    assert same(decode(encode(value)), value)


def test_an_entry_is_a_versioned_json_document() -> None:
    entry = encode((("acct",), 60_000))
    assert json.loads(entry) == {
        "state_format": 1,
        "value": {"tuple": [{"tuple": ["acct"]}, 60_000]},
    }


def test_a_value_the_format_cannot_hold_is_an_error_at_write_time() -> None:
    with pytest.raises(StateFormatError, match="type object"):
        encode([object()])


class _Trap:
    """Unpickling this creates `marker`: proof that an entry was executed."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> Any:
        return (Path.touch, (self.marker,))


def test_state_an_older_emulator_pickled_is_refused_and_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    old_key = pickle.dumps(("acct", 0), protocol=5)
    old_value = pickle.dumps(([_Trap(marker)], 10), protocol=5)
    store = LoggedKeyValueStore()
    with pytest.raises(StateFormatError, match=r"pickled its state.*refused.*run code"):
        store.restore(old_key, old_value)
    with pytest.raises(StateFormatError, match="pickled"):
        decode(old_value)
    assert not marker.exists()
    assert list(store.items()) == []


def test_a_changelog_key_that_is_not_a_store_key_is_refused() -> None:
    with pytest.raises(StateFormatError, match="holds a tuple, not a list"):
        LoggedKeyValueStore().restore(encode([1]), encode(2))


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (b"not json", "not state format JSON"),
        (b"[1, 2]", "not a state document"),
        (b'{"state_format": 2, "value": 1}', "state format 2; this emulator reads format 1"),
        (b'{"state_format": 1, "value": {"class": "os.system"}}', "unknown value type 'class'"),
        (b'{"state_format": 1, "value": {"decimal": "x"}}', r"'decimal' value .* malformed"),
        (b'{"state_format": 1, "value": NaN}', "non-JSON constant NaN"),
    ],
)
def test_an_entry_that_is_not_format_1_is_refused_with_what_is_wrong(
    entry: bytes, message: str
) -> None:
    with pytest.raises(StateFormatError, match=message):
        decode(entry)


COLUMNS = (
    "ID STRING KEY, B BOOLEAN, I INT, L BIGINT, D DOUBLE, DEC DECIMAL(4, 2), S STRING, "
    "BT BYTES, DT DATE, TM TIME, TS TIMESTAMP, ARR ARRAY<INT>, M MAP<STRING, INT>, "
    "ST STRUCT<A INT, B STRING>"
)
AGGREGATES = (
    "COUNT(*) AS N, SUM(DEC) AS SD, AVG(D) AS AD, MIN(TS) AS MINTS, MAX(DT) AS MAXDT, "
    "COLLECT_LIST(ST) AS CL, COLLECT_SET(BT) AS CS, EARLIEST_BY_OFFSET(DT) AS E, "
    "LATEST_BY_OFFSET(TM, 2) AS LT, COUNT_DISTINCT(S) AS CD, ATTR(M) AS AT, TOPK(D, 2) AS TK, "
    "TOPK(I, S, 2) AS TKS, HISTOGRAM(S) AS H, STDDEV_SAMP(D) AS SDEV, CORRELATION(D, L) AS C, "
    "SUM_LIST(ARR) AS SL"
)

# A table's rows are replaced, so it feeds only the aggregates that can take a row back out.
TABLE_AGGREGATES = (
    "COUNT(*) AS N, SUM(DEC) AS SD, AVG(D) AS AD, COLLECT_LIST(ST) AS CL, ATTR(M) AS AT, "
    "HISTOGRAM(S) AS H, STDDEV_SAMP(D) AS SDEV, CORRELATION(D, L) AS C, SUM_LIST(ARR) AS SL"
)


def _row(n: int) -> dict[str, Any]:
    return {
        "B": n % 2 == 0,
        "I": n,
        "L": n * 10,
        "D": n / 3,
        "DEC": n + 0.25,
        "S": f"s{n % 3}",
        "BT": "AAE=" if n % 2 else "/w==",
        "DT": 19000 + n,
        "TM": 1000 * n,
        "TS": 1_700_000_000_000 + n,
        "ARR": [n, None, 2],
        "M": {"k": n % 2},
        "ST": {"A": n, "B": f"b{n}"},
    }


def test_the_state_real_aggregates_keep_round_trips_through_a_changelog() -> None:
    engine = Engine()
    engine.execute(
        f"CREATE STREAM EVENTS ({COLUMNS}) WITH (kafka_topic='events', value_format='JSON');"
        f"CREATE TABLE T_EVENTS ({COLUMNS.replace('KEY', 'PRIMARY KEY')}) "
        "WITH (kafka_topic='t_events', value_format='JSON');"
        f"CREATE TABLE PLAIN AS SELECT ID, {AGGREGATES} FROM EVENTS GROUP BY ID;"
        "CREATE TABLE BY_STRUCT WITH (key_format='JSON') AS "
        f"SELECT ST, {AGGREGATES} FROM EVENTS GROUP BY ST;"
        f"CREATE TABLE HOPPING AS SELECT ID, {AGGREGATES} FROM EVENTS "
        "WINDOW HOPPING (SIZE 20 MILLISECONDS, ADVANCE BY 10 MILLISECONDS) GROUP BY ID;"
        f"CREATE TABLE SESSIONS AS SELECT ID, {AGGREGATES} FROM EVENTS "
        "WINDOW SESSION (5 MILLISECONDS) GROUP BY ID;"
        f"CREATE TABLE REGROUPED AS SELECT S, {TABLE_AGGREGATES} FROM T_EVENTS GROUP BY S;"
    )
    stores: list[LoggedKeyValueStore] = []
    for query in engine.queries.values():
        for op in query.operators:
            if isinstance(op, AggregateOperator):
                op.store = LoggedKeyValueStore()
                stores.append(op.store)
    assert len(stores) == 5
    for n in range(12):
        for topic in ("events", "t_events"):
            value = json.dumps(_row(n)).encode()
            engine.broker.produce(Message(topic, f"k{n % 4}".encode(), value, timestamp=n * 3))
    for store in stores:
        assert list(store.items())
        restored = LoggedKeyValueStore()
        for key, value in store.drain():
            restored.restore(key, value)
        expected = dict(store.items())
        actual = dict(restored.items())
        assert set(actual) == set(expected)
        for key, value in expected.items():
            assert same(actual[key], value), key


# Every aggregate whose accumulator is JSON-native, over every column type it is native for.
NATIVE_AGGREGATES = (
    "COUNT(*) AS N, COUNT(S) AS NS, SUM(DEC) AS SD, SUM(I) AS SI, SUM(L) AS SL, MIN(S) AS MINS, "
    "MAX(DEC) AS MAXDEC, MIN(B) AS MINB, EARLIEST_BY_OFFSET(S) AS E, LATEST_BY_OFFSET(DEC) AS L1, "
    "LATEST_BY_OFFSET(I, 2) AS L2, LATEST_BY_OFFSET(S, 2, false) AS L3, COUNT_DISTINCT(S) AS CD"
)


@pytest.mark.parametrize(
    "window",
    [
        "",
        "WINDOW TUMBLING (SIZE 20 MILLISECONDS)",
        "WINDOW HOPPING (SIZE 20 MILLISECONDS, ADVANCE BY 10 MILLISECONDS)",
    ],
)
def test_native_aggregate_state_is_written_in_one_call_as_the_format_writes_it(
    window: str,
) -> None:
    """An aggregate of JSON-native functions logs its windows through the one-call writer
    (bound as the Kafka layer binds stores), byte for byte what `encode` writes, and its
    state comes back from those bytes exactly."""
    engine = Engine()
    engine.execute(
        f"CREATE STREAM EVENTS ({COLUMNS}) WITH (kafka_topic='events', value_format='JSON');"
        f"CREATE TABLE NATIVE AS SELECT ID, {NATIVE_AGGREGATES} FROM EVENTS {window} GROUP BY ID;"
    )
    (query,) = engine.queries.values()
    stores: dict[str, LoggedKeyValueStore] = {}
    query.bind_stores(lambda name, _store: stores.setdefault(name, LoggedKeyValueStore()))
    (store,) = stores.values()
    assert store.encode_value is encode_native_tuple
    for n in range(12):
        row = _row(n)
        row["S"] = None if n % 5 == 4 else row["S"]
        engine.broker.produce(
            Message("events", f"k{n % 4}".encode(), json.dumps(row).encode(), timestamp=n * 3)
        )
    expected = dict(store.items())
    assert expected
    generic = {encode(key): encode(value) for key, value in expected.items()}
    restored = LoggedKeyValueStore()
    for key, value in store.drain():
        assert value == generic[key]
        restored.restore(key, value)
    for key, value in expected.items():
        actual = restored.get(key)
        # LATEST/EARLIEST keep [sequence, value] lists; older changelogs hold tuples (below).
        assert same(actual, value), key


def test_the_one_call_writer_falls_back_where_orjson_cannot_write() -> None:
    for value in [([2**70, "x"], 1), (["Zürich \ud83d"], 2), ([Decimal("NaN"), frozenset()], 3)]:
        assert encode_native_tuple(value) == encode(value)
        assert same(decode(encode_native_tuple(value)), value)


def test_by_offset_state_an_older_changelog_wrote_as_tuples_goes_on_counting() -> None:
    """Before lists, a LATEST_BY_OFFSET accumulator kept (sequence, value) tuples: restored
    from such a changelog it still gives and keeps the latest values."""
    engine = Engine()
    engine.execute(
        "CREATE STREAM E (ID STRING KEY, V STRING) WITH (kafka_topic='e', value_format='JSON');"
        "CREATE TABLE T AS SELECT ID, LATEST_BY_OFFSET(V, 2) AS L, "
        "EARLIEST_BY_OFFSET(V) AS F FROM E GROUP BY ID;"
    )
    (query,) = engine.queries.values()
    (op,) = [o for o in query.operators if isinstance(o, AggregateOperator)]
    op.store = LoggedKeyValueStore()
    op.store.restore(encode((("k",), None)), encode(([[(1, "a"), (2, "b")], [(1, "a")]], 5)))
    engine.broker.produce(Message("e", b"k", b'{"V": "c"}', timestamp=9))
    engine.broker.produce(Message("e", b"k", b'{"V": "d"}', timestamp=10))
    rows = [json.loads(m.value or b"") for m in engine.broker.topics["T"]]
    assert rows == [{"L": ["b", "c"], "F": "a"}, {"L": ["c", "d"], "F": "a"}]


@pytest.mark.slow
def test_a_query_refuses_a_changelog_an_older_emulator_pickled(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    gateway = ConfluentGateway(kafka_bootstrap)
    state = QueryState(
        gateway, kafka_bootstrap, {}, f"test_{uuid.uuid4().hex[:8]}_", "CTAS_COUNTS_1"
    )
    logged = state.wrap("Aggregate-Aggregate-Materialize", MemoryKeyValueStore())
    topic = state.topics["Aggregate-Aggregate-Materialize"]
    marker = tmp_path / "ran"
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    try:
        producer.produce(topic, key=encode((("acct",), 0)), value=encode(([3], 10)), partition=0)
        producer.produce(
            topic,
            pickle.dumps((("old",), 0), protocol=5),
            pickle.dumps(([_Trap(marker)], 10), protocol=5),
            partition=0,
        )
        assert producer.flush(30) == 0
        with pytest.raises(KafkaLayerError) as caught:
            state.restore()
        message = str(caught.value)
        assert f"cannot restore state from changelog {topic} at offset 1" in message
        assert "pickled its state" in message
        assert not marker.exists()
        assert same(logged.get((("acct",), 0)), ([3], 10))
    finally:
        state.delete()


def test_keys_that_are_equal_but_written_differently_keep_their_own_changelog_keys() -> None:
    # 1, 1.0 and True are one dict key in Python; a changelog must still tell them apart.
    store = LoggedKeyValueStore()
    for group in ((1,), (1.0,), (True,), (Decimal("1.0"),), (Decimal("1.00"),)):
        store.put(group, "v")
        ((key, _value),) = store.drain()
        assert decode(key) == group and type(decode(key)[0]) is type(group[0])
        assert str(decode(key)[0]) == str(group[0])


def test_an_encoded_entry_holds_about_its_own_size_in_memory() -> None:
    # Stores keep encoded keys for reuse, by the hundred thousand: an entry that held on to
    # its encoder's 4 KiB working buffer made a server's memory grow by gigabytes.
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = [encode(((f"ACC{n:06d}",), 1_767_225_600_000 + n)) for n in range(2000)]
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held / len(kept) < 4 * max(len(entry) for entry in kept)


@pytest.mark.parametrize(
    "key",
    [
        (("ACC-000123",), 1_767_225_600_000),
        (("a", 1, None), None),
        (("Zürich\u2028",), -5),
        ((), 0),
        (("x",), 2**70),
        (("\ud83d",), 1),
        ((2**64,), 1),
        ((True,), 1),
        ((1.0,), 1),
        ((Decimal("1.0"),), None),
        ((("nested",),), 1),
        (("a",), "sessions"),
        ("a", 1),
        (("a",), 1, 2),
    ],
)
def test_a_store_key_is_written_as_the_format_writes_it(key: tuple[Any, ...]) -> None:
    """Window keys take a one-call writer (`encode_group_key`); every key a store logs is
    still `encode(key)`, byte for byte, and reads back as itself."""
    store = LoggedKeyValueStore()
    store.put(key, "v")
    ((written, _value),) = store.drain()
    assert written == encode(key)
    assert same(decode(written), key)
    fast = encode_group_key(key)
    assert fast is None or fast == encode(key)
