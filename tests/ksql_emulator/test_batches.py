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


def test_a_batch_of_messages_writes_what_the_messages_one_by_one_write() -> None:
    messages = _traffic(3000)
    one_by_one, batched = Engine(), Engine()
    one_by_one.execute(STATEMENTS)
    batched.execute(STATEMENTS)
    expected = _outputs(one_by_one, _runs(messages, 1), batched=False)
    actual = _outputs(batched, _runs(messages, 250), batched=True)
    assert actual == expected
    # Every kind of query wrote something, or the comparison proves little.
    assert all(any(out for out in per_message) for per_message in expected.values()), {
        qid: sum(map(len, per_message)) for qid, per_message in expected.items()
    }
    assert len(expected) == 6
