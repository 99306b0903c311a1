"""A query given a batch of one topic's messages (as a stream thread gives them) writes exactly
what it writes given them one at a time."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence

from ksql_emulator.contracts.message import Message
from ksql_emulator.engine import Engine

STATEMENTS = """
CREATE STREAM TX (ACCOUNT VARCHAR KEY, CARD VARCHAR, AMOUNT DECIMAL(12, 2), COUNTRY VARCHAR,
                  T BIGINT)
  WITH (kafka_topic='tx', value_format='JSON', timestamp='T');
CREATE TABLE LIMITS (ACCOUNT VARCHAR PRIMARY KEY, MAX_AMOUNT DECIMAL(12, 2))
  WITH (kafka_topic='limits', value_format='JSON');
CREATE STREAM BIG AS SELECT ACCOUNT, CARD, AMOUNT FROM TX WHERE AMOUNT > 500 EMIT CHANGES;
CREATE STREAM BIG_TOO AS SELECT ACCOUNT, AMOUNT * 2 AS DOUBLED FROM TX
  WHERE AMOUNT > 900 EMIT CHANGES;
CREATE TABLE PER_MINUTE AS SELECT ACCOUNT, COUNT(*) AS N, SUM(AMOUNT) AS TOTAL,
  LATEST_BY_OFFSET(CARD) AS CARD, COUNT_DISTINCT(COUNTRY) AS COUNTRIES
  FROM TX WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY ACCOUNT HAVING COUNT(*) > 1 EMIT CHANGES;
CREATE TABLE FINAL_COUNTS AS SELECT ACCOUNT, COUNT(*) AS N FROM TX
  WINDOW TUMBLING (SIZE 30 SECONDS, GRACE PERIOD 0 SECONDS) GROUP BY ACCOUNT EMIT FINAL;
CREATE TABLE BY_COUNTRY AS SELECT COUNTRY, COUNT(*) AS N FROM TX GROUP BY COUNTRY EMIT CHANGES;
CREATE STREAM OVER_LIMIT AS SELECT TX.ACCOUNT, AMOUNT, MAX_AMOUNT FROM TX
  JOIN LIMITS ON TX.ACCOUNT = LIMITS.ACCOUNT WHERE AMOUNT > MAX_AMOUNT EMIT CHANGES;
"""


def _traffic(count: int) -> list[Message]:
    """Transactions and limit changes, with the odd undecodable record and tombstone."""
    rng = random.Random(7)
    out: list[Message] = []
    offsets = {"tx": 0, "limits": 0}
    t = 1_767_225_600_000
    for _ in range(count):
        t += rng.randint(0, 4000)
        account = f"acc-{rng.randint(1, 12)}".encode()
        pick = rng.random()
        if pick < 0.1:
            topic = "limits"
            value: bytes | None = (
                None if pick < 0.02 else json.dumps({"MAX_AMOUNT": rng.randint(100, 900)}).encode()
            )
        else:
            topic = "tx"
            value = (
                b"{not json"
                if pick > 0.97
                else json.dumps(
                    {
                        "CARD": f"card-{rng.randint(1, 30)}",
                        "AMOUNT": round(rng.uniform(1, 1200), 2),
                        "COUNTRY": rng.choice(["FR", "DE", "US", None]),
                        "T": t,
                    }
                ).encode()
            )
        out.append(Message(topic, account, value, t, 0, offsets[topic]))
        offsets[topic] += 1
    return out


def _runs(messages: list[Message], most: int) -> list[list[Message]]:
    """Consecutive messages of one topic, at most `most` together."""
    runs: list[list[Message]] = []
    for msg in messages:
        if runs and runs[-1][0].topic == msg.topic and len(runs[-1]) < most:
            runs[-1].append(msg)
        else:
            runs.append([msg])
    return runs


def _outputs(engine: Engine, runs: list[list[Message]], batched: bool) -> dict[str, list[object]]:
    """Per query, what each message it read made it write, in order."""
    written: dict[str, list[object]] = {qid: [] for qid in engine.queries}
    for run in runs:
        for qid, query in engine.queries.items():
            if run[0].topic not in query.source_topics:
                continue
            produced: Sequence[Sequence[Message]] = (
                query.process_many(run) if batched else [query.process(m) for m in run]
            )
            assert len(produced) == len(run)
            written[qid].extend(list(out) for out in produced)
    return written


def _batched_as_one_by_one(
    statements: str, messages: list[Message], most: int
) -> tuple[Engine, dict[str, list[object]]]:
    """Runs `messages` through the queries of `statements` a message at a time and in batches
    of up to `most`; asserts both write the same. The batched engine and what it wrote."""
    one_by_one, batched = Engine(), Engine()
    one_by_one.execute(statements)
    batched.execute(statements)
    expected = _outputs(one_by_one, _runs(messages, 1), batched=False)
    actual = _outputs(batched, _runs(messages, most), batched=True)
    assert actual == expected
    return batched, expected


def test_a_batch_of_messages_writes_what_the_messages_one_by_one_write() -> None:
    _batched, expected = _batched_as_one_by_one(STATEMENTS, _traffic(3000), 250)
    # Every kind of query wrote something, or the comparison proves little.
    assert all(any(out for out in per_message) for per_message in expected.values()), {
        qid: sum(map(len, per_message)) for qid, per_message in expected.items()
    }
    assert len(expected) == 6


def _alone_outputs(engine: Engine, runs: list[list[Message]]) -> dict[str, list[object]]:
    written: dict[str, list[object]] = {qid: [] for qid in engine.queries}
    for run in runs:
        for qid, query in engine.queries.items():
            if run[0].topic not in query.source_topics:
                continue
            produced = query.process_many(run, alone=True)
            written[qid].extend(list(out) for out in produced)
    return written


def test_a_batch_read_alone_is_judged_by_its_where_as_when_decoded_whole() -> None:
    # Queries alone on their topic judge a batch on the WHERE's columns before decoding the
    # rest: a record that ksqlDB's lenient reading would let through ("7" for a BIGINT, a
    # field spelled in lower case, a long DECIMAL) must still come out.
    statements = """
    CREATE STREAM CHANGES (ACCOUNT VARCHAR, N BIGINT, TOTAL DECIMAL(12, 2), NOTE VARCHAR,
                           BIG DECIMAL(20, 2))
      WITH (kafka_topic='changes', value_format='JSON');
    CREATE STREAM BUSY AS SELECT ACCOUNT, N, TOTAL FROM CHANGES WHERE N >= 5 EMIT CHANGES;
    CREATE STREAM RICH AS SELECT ACCOUNT, TOTAL FROM CHANGES WHERE TOTAL > 1000 EMIT CHANGES;
    CREATE STREAM MODEST AS SELECT ACCOUNT, TOTAL FROM CHANGES WHERE TOTAL < 1000.01
      EMIT CHANGES;
    CREATE STREAM HUGE AS SELECT ACCOUNT, BIG FROM CHANGES WHERE BIG < 1234567890123456.50
      EMIT CHANGES;
    CREATE STREAM NOTED AS SELECT ACCOUNT, NOTE FROM CHANGES
      WHERE NOTE LIKE 'x%' OR N IS NULL EMIT CHANGES;
    """
    values: list[bytes | None] = [
        b'{"ACCOUNT":"a","N":7,"TOTAL":1500.25,"NOTE":"xy"}',
        b'{"ACCOUNT":"a","N":2,"TOTAL":15.25,"NOTE":"y"}',
        b'{"ACCOUNT":"a","N":"7","TOTAL":"1500.25","NOTE":"y"}',
        b'{"account":"a","n":9,"total":2000.5,"note":"xz"}',
        b'{"ACCOUNT":"a","N":7.0,"TOTAL":1000.001,"NOTE":null}',
        b'{"ACCOUNT":"a","N":null,"TOTAL":null,"NOTE":null}',
        b'{"ACCOUNT":"a","TOTAL":1000.005}',
        b'{"ACCOUNT":"a","N":18446744073709551615,"TOTAL":1.5}',
        b'{"ACCOUNT":"a","N":6,"TOTAL":1000.0000000000000001,"NOTE":"x"}',
        b'{"ACCOUNT":"a","N":6,"TOTAL":99999999999.999,"NOTE":"x"}',
        b'{"ACCOUNT":"a","N":true,"TOTAL":1,"NOTE":5}',
        # A DECIMAL read alone is sure of itself whatever else the record holds (a long
        # number beside it), and of no number whose double's text runs past its scale: the
        # text may then round either way ("1000.00499999999999999" is 1000.00, its double's
        # shortest text 1000.005).
        b'{"ACCOUNT":"a","N":6,"TOTAL":1000.5,"NOTE":"x","AT":48.856613999999999}',
        b'{"ACCOUNT":"a","N":6,"TOTAL":1000.00499999999999999,"NOTE":"x"}',
        b'{"ACCOUNT":"a","N":6,"TOTAL":1000.00500000000000001,"NOTE":"x"}',
        b'{"ACCOUNT":"a","N":6,"TOTAL":1.0005e3,"NOTE":"x"}',
        b'{"ACCOUNT":"a","N":6,"TOTAL":1e-7,"NOTE":"x"}',
        b'{"ACCOUNT":"a","N":6,"TOTAL":-0.0,"NOTE":"x"}',
        b'{"ACCOUNT":"a","N":6,"TOTAL":9999999999.99,"NOTE":"x"}',
        # Past 10^13 a double's text can be on the grid where the number is not: this one's
        # double is 1234567890123456.5.
        b'{"ACCOUNT":"a","BIG":1234567890123456.49}',
        # A name given twice counts by its last value; the same names inside a nested object
        # or a string are not the record's fields.
        b'{"ACCOUNT":"a","N":1,"TOTAL":2000.5,"N":7,"NOTE":"x","TOTAL":5.5}',
        b'{"ACCOUNT":"a","X":{"N":9,"TOTAL":5000.5},"N":1,"TOTAL":15.5,"NOTE":"y"}',
        b'{"ACCOUNT":"a","NOTE":"\\"N\\":9,\\"TOTAL\\":5000.5","N":1,"TOTAL":1.5}',
        b'{"ACCOUNT":"a","N":6,"TOTAL":1500.5,"NOTE":"x"} trailing',
        b"[1, 2]",
        b"{not json",
        None,
    ]
    messages = [Message("changes", None, v, 1_000 + i, 0, i) for i, v in enumerate(values)]
    one_by_one, alone = Engine(), Engine()
    one_by_one.execute(statements)
    alone.execute(statements)
    assert all(q.screen_reader is not None for q in alone.queries.values())
    expected = _outputs(one_by_one, _runs(messages, 1), batched=False)
    actual = _alone_outputs(alone, [list(messages)])
    assert actual == expected
    kept = {qid: sum(map(len, per_message)) for qid, per_message in expected.items()}
    assert all(kept.values()) and not all(all(per_message) for per_message in expected.values()), (
        kept
    )


def test_queries_read_alone_write_what_they_write_decoded_whole() -> None:
    one_by_one, alone = Engine(), Engine()
    one_by_one.execute(STATEMENTS)
    alone.execute(STATEMENTS)
    messages = _traffic(2000)
    expected = _outputs(one_by_one, _runs(messages, 1), batched=False)
    # Every query offered every batch alone, even those that share a topic with others.
    actual = _alone_outputs(alone, [list(run) for run in _runs(messages, 250)])
    assert actual == expected
    assert [qid for qid, q in alone.queries.items() if q.screen_reader is not None] == [
        "CSAS_BIG_0",
        "CSAS_BIG_TOO_1",
    ]


def test_only_a_where_over_value_columns_alone_judges_records_before_decoding() -> None:
    engine = Engine()
    engine.execute(
        """
        CREATE STREAM S (K VARCHAR KEY, N BIGINT, D DOUBLE, NAME VARCHAR)
          WITH (kafka_topic='s', value_format='JSON');
        CREATE STREAM S_CSV (K VARCHAR KEY, N BIGINT, NAME VARCHAR)
          WITH (kafka_topic='s_csv', value_format='DELIMITED');
        CREATE TABLE T (K VARCHAR PRIMARY KEY, N BIGINT)
          WITH (kafka_topic='t', value_format='JSON');
        CREATE STREAM PLAIN AS SELECT * FROM S WHERE N > 5 AND NAME LIKE 'a%' EMIT CHANGES;
        CREATE STREAM FRACTIONS AS SELECT * FROM S WHERE D BETWEEN 0.5 AND 1.5 EMIT CHANGES;
        CREATE TABLE COUNTED AS SELECT NAME, COUNT(*) AS C FROM S WHERE N > 5 GROUP BY NAME
          EMIT CHANGES;
        CREATE STREAM CALLS AS SELECT * FROM S WHERE ABS(N) > 5 EMIT CHANGES;
        CREATE STREAM ON_TIME AS SELECT * FROM S WHERE ROWTIME > 5 EMIT CHANGES;
        CREATE STREAM ON_KEY AS SELECT * FROM S WHERE K = 'a' EMIT CHANGES;
        CREATE STREAM CSV AS SELECT * FROM S_CSV WHERE N > 5 EMIT CHANGES;
        CREATE TABLE T_BIG AS SELECT * FROM T WHERE N > 5 EMIT CHANGES;
        """
    )
    judged = sorted(
        engine.catalog.source(q.sink_name).name  # type: ignore[union-attr]
        for q in engine.queries.values()
        if q.screen_reader is not None
    )
    assert judged == ["COUNTED", "FRACTIONS", "PLAIN"]


AGGREGATES = """
CREATE STREAM TX (ACCOUNT VARCHAR KEY, CARD VARCHAR, AMOUNT DECIMAL(12, 2), COUNTRY VARCHAR,
                  T BIGINT)
  WITH (kafka_topic='tx', value_format='JSON', timestamp='T');
CREATE TABLE SMALL AS SELECT ACCOUNT, AS_VALUE(ACCOUNT) AS ACC, COUNT(*) AS N,
  SUM(AMOUNT) AS TOTAL, LATEST_BY_OFFSET(CARD) AS CARD, MAX(T) AS LAST,
  WINDOWSTART AS WS, WINDOWEND AS WE
  FROM TX WINDOW TUMBLING (SIZE 1 MINUTE, GRACE PERIOD 30 SECONDS) WHERE AMOUNT < 600
  GROUP BY ACCOUNT EMIT CHANGES;
CREATE TABLE HOPS AS SELECT COUNTRY, COUNT(*) * 2 AS TWICE, 100 / (COUNT(*) - 1) AS ODD,
  COUNT_DISTINCT(CARD) AS CARDS
  FROM TX WINDOW HOPPING (SIZE 2 MINUTES, ADVANCE BY 30 SECONDS, GRACE PERIOD 1 MINUTE)
  GROUP BY COUNTRY EMIT CHANGES;
CREATE TABLE TOTALS AS SELECT ACCOUNT, SUM(AMOUNT) AS TOTAL, COLLECT_LIST(COUNTRY) AS COUNTRIES
  FROM TX GROUP BY ACCOUNT EMIT CHANGES;
"""


def _late_traffic(count: int) -> list[Message]:
    """Transactions, a tenth of them late (some past a window's grace), with the odd tombstone,
    undecodable record and null grouping column."""
    rng = random.Random(11)
    out: list[Message] = []
    t = 1_767_225_600_000
    for offset in range(count):
        t += rng.randint(0, 3000)
        at = t - rng.randint(0, 150_000) if rng.random() < 0.1 else t
        pick = rng.random()
        value: bytes | None
        if pick < 0.02:
            value = None
        elif pick < 0.04:
            value = b"{not json"
        else:
            value = json.dumps(
                {
                    "CARD": f"card-{rng.randint(1, 30)}",
                    "AMOUNT": round(rng.uniform(1, 1200), 2),
                    "COUNTRY": rng.choice(["FR", "DE", "US", None]),
                    "T": at,
                }
            ).encode()
        out.append(Message("tx", f"acc-{rng.randint(1, 12)}".encode(), value, at, 0, offset))
    return out


def test_a_stream_aggregate_writes_from_a_batch_what_it_writes_record_by_record() -> None:
    # A batch goes through a stream aggregate and its projection as rows, without the records
    # in between: time windows (tumbling behind a WHERE, hopping) and none, late records, a
    # projection that fails on some rows, records that group nowhere.
    messages = _late_traffic(4000)
    batched, expected = _batched_as_one_by_one(AGGREGATES, messages, 300)
    assert all(query.aggregated for query in batched.queries.values())
    written = {qid: sum(map(len, per_message)) for qid, per_message in expected.items()}
    # Hopping windows write several rows for a record; late records write none.
    assert written["CTAS_HOPS_1"] > len(messages) > written["CTAS_TOTALS_2"], written
    assert all(written.values()), written
