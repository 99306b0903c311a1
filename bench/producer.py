"""Producer throughput: `streamguard produce`'s send path against confluent-kafka's bare producer.

Both send the same number of messages of the same size to fresh topics on the same broker, in the
same run, with the same producer settings; the ratio is ours / bare (goal: 0.70 or more).

    .venv/bin/python -m bench.producer [--count 200000] [--bootstrap-servers HOST:PORT]
"""

from __future__ import annotations

import argparse
import time
import uuid

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from bench._stack import local_parts
from streamguard.producer import Population, TransactionGenerator
from streamguard.producer.sender import PRODUCER_CONFIG, Sender


def _topic(admin: AdminClient, name: str) -> str:
    admin.create_topics([NewTopic(name, num_partitions=3, replication_factor=1)])[name].result(30)
    return name


def bare(bootstrap: str, topic: str, payloads: list[tuple[bytes, bytes]]) -> float:
    producer = Producer({"bootstrap.servers": bootstrap, **PRODUCER_CONFIG})
    started = time.perf_counter()
    for key, value in payloads:
        while True:
            try:
                producer.produce(
                    topic, key=key, value=value, headers=[("streamguard-scenario", b"normal")]
                )
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    assert producer.flush(120) == 0
    return len(payloads) / (time.perf_counter() - started)


def ours(bootstrap: str, topic: str, count: int) -> float:
    generator = TransactionGenerator(Population.build(1, accounts=40_000), seed=1, rate=1000)
    sender = Sender(bootstrap, topic)
    started = time.perf_counter()
    for _, txn in zip(range(count), generator, strict=False):
        sender.send(txn)
    report = sender.flush(120)
    assert report.delivered == count, report.summary()
    return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200_000)
    parser.add_argument("--bootstrap-servers")
    args = parser.parse_args()
    with local_parts(args.bootstrap_servers, "unused") as (bootstrap, _):
        admin = AdminClient({"bootstrap.servers": bootstrap})
        # The bare producer sends messages of exactly the sizes ours sends.
        sample = TransactionGenerator(Population.build(1, accounts=40_000), seed=1).take(args.count)
        payloads = [(t.key, t.to_json()) for t in sample]
        run = uuid.uuid4().hex[:8]
        bare_rate = bare(bootstrap, _topic(admin, f"bench-bare-{run}"), payloads)
        our_rate = ours(bootstrap, _topic(admin, f"bench-ours-{run}"), args.count)
        del admin  # before the broker stops, or it logs the refused reconnects
    size = sum(len(v) for _, v in payloads) / len(payloads)
    print(f"messages: {args.count:,} of {size:.0f} bytes on average")
    print(f"bare confluent-kafka producer: {bare_rate:,.0f} msg/s")
    print(f"streamguard produce:           {our_rate:,.0f} msg/s")
    print(f"ratio ours/bare: {our_rate / bare_rate:.2f} (goal: 0.70 or more)")


if __name__ == "__main__":
    main()
