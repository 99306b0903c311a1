"""A query that reads a few of a source's columns decodes only those (and checks the others
that could make a record fail to decode): it must write exactly what it writes when every
record is decoded whole, whatever the records hold."""

from __future__ import annotations

import json
import random
from decimal import Decimal

import pytest

from ksql_emulator.contracts.message import Message
from ksql_emulator.engine import Engine
from ksql_emulator.runtime import topology
from ksql_emulator.runtime.shared import SharedByShape
from ksql_emulator.serde.json_format import JsonSerde
from tests.ksql_emulator.test_batches import _outputs, _runs

STATEMENTS = """
CREATE STREAM TX (ACCOUNT VARCHAR KEY, CARD VARCHAR, AMOUNT DECIMAL(12, 2), COUNTRY VARCHAR,
                  NOTE VARCHAR, MEMO VARCHAR, LAT DOUBLE, EXTRA DOUBLE, N BIGINT, OK BOOLEAN,
                  T BIGINT)
  WITH (kafka_topic='tx', value_format='JSON', timestamp='T');
CREATE STREAM BIG AS SELECT ACCOUNT, CARD, AMOUNT FROM TX WHERE AMOUNT > 500 EMIT CHANGES;
CREATE STREAM NOTED AS SELECT ACCOUNT, LAT * 2 AS LAT2 FROM TX
  WHERE OK AND NOTE LIKE 'u%' EMIT CHANGES;
CREATE STREAM BY_CARD AS SELECT CARD, AMOUNT FROM TX PARTITION BY CARD EMIT CHANGES;
CREATE TABLE PER_MINUTE AS SELECT ACCOUNT, COUNT(*) AS C, SUM(AMOUNT) AS TOTAL,
  LATEST_BY_OFFSET(CARD) AS CARD, COUNT_DISTINCT(COUNTRY) AS COUNTRIES,
  WINDOWSTART AS WS, WINDOWEND AS WE
  FROM TX WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY ACCOUNT HAVING MAX(N) > 1 EMIT CHANGES;
CREATE TABLE BY_COUNTRY AS SELECT COUNTRY, COUNT(*) AS C FROM TX GROUP BY COUNTRY EMIT CHANGES;
"""

# Values that decode, and values that make a record fail to decode (a DOUBLE that is no
# number, a DECIMAL past its precision). No query reads MEMO or EXTRA.
ODD: dict[str, list[object]] = {
    "NOTE": ["x", "u", None, 5, {"A": 1}, [1, 2], True],
    "MEMO": ["x", None, 5, {"A": 1}, [1, 2], True],
    "LAT": [48.85, None, 3, "2.5", "north", True, 1e400],
    "EXTRA": [48.85, None, 3, "2.5", "north", True, 1e400, {"A": 1}],
    "N": [4, None, 2.0, "7", 2**70, 1.5, "x"],
    "OK": [True, False, None, "true", "no", 1],
    "AMOUNT": [12.5, 900.25, None, "13.10", 1e12, 1000.004],
}


def _usual(t: int) -> dict[str, object]:
    return {
        "CARD": "c",
        "AMOUNT": 1.5,
        "COUNTRY": "FR",
        "NOTE": "u",
        "MEMO": "memo",
        "LAT": 1.5,
        "EXTRA": 13.4,
        "N": 2,
        "OK": True,
        "T": t,
    }


def _traffic(count: int) -> list[Message]:
    """Transactions with the odd value in each column, names in another case, fields left out,
    records that are no JSON object."""
    rng = random.Random(11)
    out: list[Message] = []
    t = 1_767_225_600_000
    for offset in range(count):
        t += rng.randint(0, 4000)
        account = f"acc-{rng.randint(1, 12)}".encode()
        fields: dict[str, object] = {
            **_usual(t),
            "CARD": f"card-{rng.randint(1, 30)}",
            "AMOUNT": round(rng.uniform(1, 1200), 2),
            "COUNTRY": rng.choice(["FR", "DE", "US", None]),
            "NOTE": rng.choice(["usual", "unusual"]),
            "N": rng.randint(0, 6),
            "OK": rng.random() < 0.5,
        }
        pick = rng.random()
        if pick < 0.4:
            column = rng.choice(list(ODD))
            fields[column] = rng.choice(ODD[column])
        elif pick < 0.45:
            del fields[rng.choice(list(fields))]
        elif pick < 0.5:
            fields = {name.lower(): v for name, v in fields.items()}
        data = json.dumps(fields).encode()
        if rng.random() < 0.02:
            data = rng.choice([b"{not json", b"[1, 2]", b"null", data + b" trailing"])
        out.append(Message("tx", account, data, t, 0, offset))
    return out


def _engine(monkeypatch: pytest.MonkeyPatch, *, pruning: bool) -> Engine:
    with monkeypatch.context() as patch:
        patch.setattr(topology, "_SOURCES", SharedByShape())
        if not pruning:
            patch.setattr(JsonSerde, "pruner", lambda self, read: None)
        engine = Engine()
        engine.execute(STATEMENTS)
    return engine


def test_queries_reading_a_few_columns_write_what_decoding_whole_writes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    whole, pruned = _engine(monkeypatch, pruning=False), _engine(monkeypatch, pruning=True)
    messages = _traffic(4000)
    expected = _outputs(whole, _runs(messages, 1), batched=False)
    # The queries' one source leaves out MEMO and EXTRA, which none of them reads.
    (source,) = {q.inputs[0][1] for q in pruned.queries.values()}
    record = source.decode(Message("tx", b"a", json.dumps(_usual(7)).encode(), 7, 0, 99))
    assert record is not None and record.value is not None
    assert record.value[:11] == ("a", "c", Decimal("1.50"), "FR", "u", None, 1.5, None, 2, True, 7)
    assert _outputs(pruned, _runs(messages, 1), batched=False) == expected
    # Every query wrote something, or the comparison proves little.
    assert all(any(out for out in per_message) for per_message in expected.values()), {
        qid: sum(map(len, per_message)) for qid, per_message in expected.items()
    }


def test_a_column_no_query_reads_is_left_out_until_one_reads_them_all(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(topology, "_SOURCES", SharedByShape())
    engine = Engine()
    engine.execute(
        """
        CREATE STREAM S (K VARCHAR KEY, A VARCHAR, B VARCHAR, D DOUBLE, T BIGINT)
          WITH (kafka_topic='s', value_format='JSON', timestamp='T');
        CREATE STREAM ONLY_A AS SELECT K, A FROM S EMIT CHANGES;
        CREATE TABLE COUNTED AS SELECT K, COUNT(*) AS C FROM S GROUP BY K EMIT CHANGES;
        """
    )
    msg = Message("s", b"k", b'{"A":"a","B":"b","D":1.5,"T":7}', 7, 0, 0)

    def rows() -> list[tuple[object, ...]]:
        records = [q.inputs[0][1].decode(msg) for q in engine.queries.values()]
        return [r.value[:5] for r in records if r is not None and r.value is not None]

    # One source for both: B and D are read by neither (D is checked: it could fail), T is
    # the timestamp.
    assert rows() == [("k", "a", None, None, 7)] * 2
    engine.execute("CREATE STREAM ALL_OF_S AS SELECT * FROM S EMIT CHANGES;")
    msg = msg._replace(offset=1)
    assert rows() == [("k", "a", "b", 1.5, 7)] * 3
