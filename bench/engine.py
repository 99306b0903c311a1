"""Engine throughput: records per second through StreamGuard's fraud-like persistent queries,
against a bare confluent-kafka consume-and-produce pass-through over the same topic.

All passes read the same topic of transactions in the same run. The bare pass consumes every
record and produces it unchanged to another topic. Ours are the emulator's persistent queries
(its Kafka layer, engine and sinks, in process; the REST front end is not on this path): the
high_amount rule (a filter and projection) and the velocity rule's table (a 1-minute tumbling
count per account). Each rate runs from the first records through to the last, so start-up
(fencing, group lookups) is not counted: through at the commit under exactly-once, once read
under at-least-once (its writes are visible as they are made). The passes alternate over
--rounds rounds; the ratios are best ours / best bare, with the medians beside them for a busy
machine (goals: the filter at 0.50 or more, the count at 0.25 or more).

A fourth pass is a yardstick for the count: the same 1-minute count written by hand as the
least a Python loop must do for it under exactly-once (read each record, add it to its
window, write the window's row, log each changed window and commit a transaction every 100
ms), with no engine around it. The query's ratio to that loop says how much of the gap to bare
is the engine's and how much is Python's own per-record work.

    .venv/bin/python -m bench.engine [--count 200000] [--rounds 3] [--bootstrap-servers H:P]
                                     [--guarantee exactly_once_v2|at_least_once]
"""

from __future__ import annotations

import json
import struct
import sys
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from statistics import median
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import orjson
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from prometheus_client import REGISTRY

from bench._cli import bench_parser
from bench._stack import local_parts
from ksql_emulator.app.collector import tune_garbage_collector
from ksql_emulator.app.emulator import Emulator, EmulatorSettings
from ksql_emulator.kafka.output import is_exactly_once

PARTITIONS = 3
ACCOUNTS = 5000

STREAM = """
CREATE STREAM transactions (
  account_id VARCHAR KEY, transaction_id VARCHAR, card_id VARCHAR, amount DECIMAL(12, 2),
  currency VARCHAR, merchant_id VARCHAR, merchant_name VARCHAR, merchant_category VARCHAR,
  country VARCHAR, city VARCHAR, latitude DOUBLE, longitude DOUBLE, channel VARCHAR,
  event_time BIGINT
) WITH (KAFKA_TOPIC = '{topic}', KEY_FORMAT = 'KAFKA', VALUE_FORMAT = 'JSON',
        TIMESTAMP = 'event_time');
"""

QUERIES = {
    "filter (high_amount)": """
CREATE STREAM high_amount_{n} WITH (KAFKA_TOPIC = 'bench-high-{n}') AS SELECT
  account_id AS account_key, 'high_amount' AS rule_id, 'HIGH' AS severity,
  AS_VALUE(account_id) AS account_id, transaction_id, card_id, amount, merchant_id, country,
  event_time, 'one amount above the threshold' AS reason
FROM transactions WHERE amount > 5000.00 EMIT CHANGES;
""",
    "1-minute tumbling count (velocity)": """
CREATE TABLE velocity_{n} WITH (KAFKA_TOPIC = 'bench-velocity-{n}', KEY_FORMAT = 'KAFKA',
  VALUE_FORMAT = 'JSON') AS SELECT
  account_id, AS_VALUE(account_id) AS alert_account_id, COUNT(*) AS txn_count,
  SUM(amount) AS total_amount, LATEST_BY_OFFSET(card_id) AS card_id,
  MAX(event_time) AS event_time, WINDOWSTART AS window_start, WINDOWEND AS window_end
FROM transactions WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY account_id EMIT CHANGES;
""",
}


def _records(count: int) -> list[tuple[bytes, bytes, int]]:
    """Transactions as the producer writes them: 1 in 50 above the high_amount threshold."""
    start = int(time.time() * 1000) - count
    out = []
    for i in range(count):
        account = f"ACC{i % ACCOUNTS:05d}"
        amount = 6000 + i % 900 if i % 50 == 0 else 5 + (i * 37) % 4000
        event_time = start + i
        value = {
            "TRANSACTION_ID": str(uuid.UUID(int=i + 1)),
            "CARD_ID": f"CRD{i % 20000:07d}",
            "AMOUNT": amount + 0.25,
            "CURRENCY": "EUR",
            "MERCHANT_ID": f"MER{i % 500:04d}",
            "MERCHANT_NAME": "Corner Shop",
            "MERCHANT_CATEGORY": "grocery",
            "COUNTRY": "DE",
            "CITY": "Berlin",
            "LATITUDE": 52.52,
            "LONGITUDE": 13.405,
            "CHANNEL": "POS",
            "EVENT_TIME": event_time,
        }
        out.append((account.encode(), json.dumps(value).encode(), event_time))
    return out


def _batches(consumer: Consumer, count: int) -> Iterator[list[Any]]:
    """The records `consumer` reads, a batch at a time (an empty one when none came within
    0.1 s), until `count` of them; error events are left out."""
    seen = 0
    while seen < count:
        batch = [msg for msg in consumer.consume(1000, timeout=0.1) if msg.error() is None]
        seen += len(batch)
        yield batch


def _create(bootstrap: str, *topics: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for name in topics:
        admin.create_topics([NewTopic(name, num_partitions=PARTITIONS, replication_factor=1)])[
            name
        ].result(30)


def _fill(bootstrap: str, topic: str, records: list[tuple[bytes, bytes, int]]) -> None:
    producer = Producer(
        {"bootstrap.servers": bootstrap, "linger.ms": 20, "partitioner": "murmur2_random"}
    )
    for key, value, ts in records:
        while True:
            try:
                producer.produce(topic, key=key, value=value, timestamp=ts)
                break
            except BufferError:
                producer.poll(0.05)
    assert producer.flush(120) == 0


def bare(bootstrap: str, source: str, sink: str, count: int) -> float:
    """Consume every record and produce it unchanged; from the first record to the last ack."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bare-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            # As the emulator's stream threads fetch: without it, librdkafka stops fetching
            # for a second whenever its queue is full, and a loop this fast empties it sooner.
            "fetch.queue.backoff.ms": 10,
        }
    )
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "acks": "all"})
    # Connected and knowing the sink's partitions before the clock starts, as ours is.
    producer.produce(sink, value=b"warm-up")
    assert producer.flush(30) == 0
    consumer.subscribe([source])
    started: float | None = None
    for batch in _batches(consumer, count):
        if batch and started is None:
            started = time.perf_counter()
        for msg in batch:
            while True:
                try:
                    producer.produce(sink, key=msg.key(), value=msg.value())
                    break
                except BufferError:
                    producer.poll(0.05)
        producer.poll(0)
    assert producer.flush(60) == 0
    elapsed = time.perf_counter() - (started or time.perf_counter())
    consumer.close()
    return count / elapsed


def by_hand(bootstrap: str, source: str, sink: str, count: int) -> float:
    """The 1-minute count per account as a bare exactly-once loop: per record, its JSON read,
    its window's count, sum, latest card and latest time updated and the window's row written
    (keyed by account and window start, in the source record's partition, as ksqlDB's windowed
    sink places it); every 100 ms each changed window logged and the transaction committed
    with the consumed positions. Creates `sink` and its changelog topic. From the first record
    to the last commit."""
    changelog = f"{sink}-changelog"
    _create(bootstrap, sink, changelog)
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"by-hand-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
            "fetch.queue.backoff.ms": 10,
        }
    )
    producer = Producer(
        {"bootstrap.servers": bootstrap, "linger.ms": 5, "transactional.id": uuid.uuid4().hex}
    )
    producer.init_transactions()
    producer.begin_transaction()
    consumer.subscribe([source])
    size_ms = 60_000
    windows: dict[tuple[bytes, int], list[Any]] = {}
    changed: set[tuple[bytes, int]] = set()
    produce, loads, dumps, cents = producer.produce, orjson.loads, orjson.dumps, Decimal(100)
    seen = 0
    started: float | None = None
    due = time.monotonic() + 0.1
    for batch in _batches(consumer, count):
        if batch and started is None:
            started = time.perf_counter()
        seen += len(batch)
        for msg in batch:
            account, value = msg.key(), loads(msg.value())
            ts = value["EVENT_TIME"]
            start = ts - ts % size_ms
            slot = (account, start)
            window = windows.get(slot)
            if window is None:
                window = windows[slot] = [0, Decimal(0), None, 0]
            window[0] += 1
            window[1] += Decimal(round(value["AMOUNT"] * 100)) / cents
            window[2] = value["CARD_ID"]
            window[3] = max(window[3], ts)
            changed.add(slot)
            row = {
                "ALERT_ACCOUNT_ID": account.decode(),
                "TXN_COUNT": window[0],
                "TOTAL_AMOUNT": orjson.Fragment(str(window[1])),
                "CARD_ID": window[2],
                "EVENT_TIME": window[3],
                "WINDOW_START": start,
                "WINDOW_END": start + size_ms,
            }
            produce(
                sink,
                dumps(row),
                account + struct.pack(">q", start),
                msg.partition(),
                timestamp=window[3],
            )
        if time.monotonic() >= due or seen >= count:
            for slot in changed:
                window = windows[slot]
                entry = [window[0], str(window[1]), window[2], window[3]]
                produce(changelog, dumps(entry), slot[0] + struct.pack(">q", slot[1]), 0)
            changed.clear()
            positions = consumer.position(consumer.assignment())
            producer.send_offsets_to_transaction(
                [TopicPartition(source, tp.partition, tp.offset) for tp in positions],
                consumer.consumer_group_metadata(),
            )
            producer.commit_transaction()
            producer.begin_transaction()
            due = time.monotonic() + 0.1
        producer.poll(0)
    producer.commit_transaction()
    elapsed = time.perf_counter() - (started or time.perf_counter())
    consumer.close()
    return count / elapsed


def ours(emulator: Emulator, source: str, count: int, sql: str, guarantee: str) -> float:
    """Records per second through one persistent query, from the first of its records through
    (start-up, such as fencing and group look-ups, not counted) to the last.

    Under exactly-once a record is through when its transaction commits: nothing of it is
    visible before. Under at-least-once its writes are visible as they are made and the commit
    (every second by default) only bounds what a crash repeats; timed by commits, a pass of a
    second or two would be rounded to whole intervals, so it is timed by the records the query
    has read (its writes follow within the producer's linger, 5 ms for a stream)."""
    (created,) = [
        r
        for r in emulator.backend.execute_statements(sql, {"auto.offset.reset": "earliest"}, {})
        if r.entity is not None
    ]
    query_id = created.entity["commandStatus"]["queryId"] if created.entity else ""
    emulator.runner.reconcile()

    def committed() -> int:
        # The query's own commits, not its consumer group's: the group hears of them only
        # once a second, which would blur a run of a second or two.
        positions = emulator.runner.committed(query_id)
        return sum(o for (topic, _p), o in positions.items() if topic == source)

    def read() -> int:
        # The counter /metrics serves, in this process.
        value = REGISTRY.get_sample_value(
            "ksql_emulator_query_records_in_total", {"query_id": query_id}
        )
        return int(value or 0)

    through = committed if is_exactly_once(guarantee) else read
    first = 0
    while first == 0:
        first = through()
        time.sleep(0.002)
    started = time.perf_counter()
    done = first
    deadline = time.monotonic() + 600
    while done < count:
        assert time.monotonic() < deadline, f"query {query_id}: {done} of {count} through"
        errors = emulator.runner.errors()
        assert not errors, errors
        time.sleep(0.002)
        done = through()
    elapsed = time.perf_counter() - started
    # Each pass times its query on its own: one left running would be offered the next
    # pass's records too.
    emulator.backend.execute_statements(f"TERMINATE {query_id};", {}, {})
    emulator.runner.reconcile()
    return (count - first) / elapsed


def main() -> None:
    parser = bench_parser(__doc__, count="transactions in the topic every pass reads", rounds=3)
    parser.add_argument(
        "--guarantee",
        default="exactly_once_v2",
        choices=["exactly_once_v2", "at_least_once"],
        help="the queries' processing.guarantee (default: %(default)s)",
    )
    args = parser.parse_args()
    # A database is not needed: a given broker is enough, else a local stack starts.
    database = "unused" if args.bootstrap_servers else None
    rates: dict[str, list[float]] = {"bare": [], **{name: [] for name in QUERIES}, "by hand": []}
    with local_parts(args.bootstrap_servers, database) as (bootstrap, _url):
        source = f"bench-transactions-{uuid.uuid4().hex[:8]}"
        sink = f"{source}-passthrough"
        _create(bootstrap, source, sink)
        _fill(bootstrap, source, _records(args.count))
        settings = EmulatorSettings(
            bootstrap_servers=bootstrap,
            service_id=f"bench_{uuid.uuid4().hex[:6]}_",
            properties={"processing.guarantee": args.guarantee},
        )
        # The collector as the emulator's server sets it: in process it would otherwise walk
        # the growing window stores every few hundred records.
        tune_garbage_collector()
        with Emulator(settings) as emulator:
            emulator.backend.execute_statements(STREAM.format(topic=source), {}, {})
            for round_ in range(args.rounds):
                rates["bare"].append(bare(bootstrap, source, sink, args.count))
                by_hand_sink = f"{source}-by-hand-{round_}"
                rates["by hand"].append(by_hand(bootstrap, source, by_hand_sink, args.count))
                for n, (name, sql) in enumerate(QUERIES.items()):
                    query = sql.format(n=f"{settings.service_id}{round_}_{n}")
                    rates[name].append(ours(emulator, source, args.count, query, args.guarantee))
    untimed = [name for name, values in rates.items() if not all(values)]
    if untimed:
        # A query that commits all of them in its first commit leaves nothing to time.
        raise SystemExit(
            f"--count {args.count:,} is too few records to time ({', '.join(untimed)} took "
            f"them all at once): use {args.count * 5:,} or more"
        )
    best = {name: max(values) for name, values in rates.items()}
    middle = {name: median(values) for name, values in rates.items()}
    print(f"records: {args.count:,} on {PARTITIONS} partitions; guarantee: {args.guarantee}")
    print(f"rounds: {args.rounds}; best (median) records/s")
    print(f"bare confluent-kafka consume-and-produce: {best['bare']:,.0f} ({middle['bare']:,.0f})")
    print(f"  each round: {_each(rates['bare'])}")
    for name in QUERIES:
        print(
            f"{name}: {best[name]:,.0f} ({middle[name]:,.0f}); ratio to bare: "
            f"{best[name] / best['bare']:.3f} ({middle[name] / middle['bare']:.3f})"
        )
        print(f"  each round: {_each(rates[name])}")
    count = list(QUERIES)[-1]
    print(
        f"the count written by hand (a yardstick, no engine): {best['by hand']:,.0f} "
        f"({middle['by hand']:,.0f}); ratio to bare: {best['by hand'] / best['bare']:.3f} "
        f"({middle['by hand'] / middle['bare']:.3f}); the query's to it: "
        f"{best[count] / best['by hand']:.3f} ({middle[count] / middle['by hand']:.3f})"
    )
    print(f"  each round: {_each(rates['by hand'])}")
    print("goals: the filter at 0.50 of bare or more, the count at 0.25 or more")


def _each(rates: list[float]) -> str:
    return ", ".join(f"{r:,.0f}" for r in rates)


if __name__ == "__main__":
    main()
