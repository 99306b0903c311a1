"""Consumer throughput: alerts per second into PostgreSQL against a bare confluent-kafka loop.

Both read the same topic of alerts in the same run: the bare loop only consumes; ours validates,
enriches, upserts into PostgreSQL and commits offsets (goal: 20,000 alerts/s or more).

    .venv/bin/python -m bench.consumer [--count 200000] [--bootstrap-servers H:P --database-url URL]
"""

from __future__ import annotations

import json
import time
import uuid

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from bench._cli import bench_parser
from bench._stack import local_parts
from streamguard import db
from streamguard.consumer.loop import AlertConsumer


def _alerts(count: int) -> list[bytes]:
    return [
        json.dumps(
            {
                "RULE_ID": "high_amount",
                "SEVERITY": "HIGH",
                "ACCOUNT_ID": f"ACC{i % 5000:05d}",
                "TRANSACTION_ID": str(uuid.UUID(int=i + 1)),
                "CARD_ID": f"CRD{i:07d}",
                "AMOUNT": 5000 + i % 1000 + 0.5,
                "MERCHANT_ID": f"MER{i % 500:04d}",
                "COUNTRY": "DE",
                "EVENT_TIME": 1_763_900_000_000 + i,
            }
        ).encode()
        for i in range(count)
    ]


def bare(bootstrap: str, topic: str, count: int) -> float:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bare-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    seen = 0
    started = None
    while seen < count:
        batch = consumer.consume(500, timeout=1.0)
        if batch and started is None:
            started = time.perf_counter()
        seen += sum(1 for m in batch if m.error() is None)
    elapsed = time.perf_counter() - (started or time.perf_counter())
    consumer.close()
    return count / elapsed


def ours(bootstrap: str, url: str, topic: str, count: int) -> tuple[float, float]:
    """Alerts a second, and the consumer's CPU microseconds an alert (all its threads)."""
    consumer = AlertConsumer(
        bootstrap_servers=bootstrap,
        database_url=url,
        topic=topic,
        dlq_topic=f"{topic}-dlq",
        group_id=f"ours-{uuid.uuid4().hex}",
        batch_size=2000,
    )
    cpu = time.process_time()
    stats = consumer.run(idle_exit_s=3)
    cpu = time.process_time() - cpu
    assert stats.written == count, stats
    # From the first message to the last commit: the group join and the idle wait are not work.
    # CPU time says what a busy machine's wall clock cannot: the work an alert costs.
    return stats.rate, cpu / count * 1e6


def main() -> None:
    parser = bench_parser(
        __doc__,
        count="alerts in the topic",
        bootstrap="a running broker; with --database-url, no local stack starts",
    )
    parser.add_argument(
        "--database-url", help="a PostgreSQL to write to (its alerts table is upgraded first)"
    )
    args = parser.parse_args()
    with local_parts(args.bootstrap_servers, args.database_url) as (bootstrap, url):
        db.upgrade(url)
        topic = f"bench-alerts-{uuid.uuid4().hex[:8]}"
        admin = AdminClient({"bootstrap.servers": bootstrap})
        admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])[
            topic
        ].result(30)
        producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20})
        for n, value in enumerate(_alerts(args.count)):
            while True:
                try:
                    producer.produce(topic, key=str(n % 5000).encode(), value=value)
                    break
                except BufferError:
                    producer.poll(0.05)
        assert producer.flush(120) == 0
        bare_rate = bare(bootstrap, topic, args.count)
        our_rate, our_cpu_us = ours(bootstrap, url, topic, args.count)
        del admin, producer
    print(f"alerts: {args.count:,}")
    print(f"bare confluent-kafka consume loop: {bare_rate:,.0f} msg/s")
    print(f"streamguard consume into PostgreSQL: {our_rate:,.0f} alerts/s")
    print(f"consumer CPU (PostgreSQL's own not counted): {our_cpu_us:,.1f} µs an alert")
    print(f"ratio ours/bare: {our_rate / bare_rate:.3f}; goal: 20,000 alerts/s or more")


if __name__ == "__main__":
    main()
