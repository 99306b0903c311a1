"""Producer throughput: `streamguard produce`'s send path against confluent-kafka's bare producer.

Both send the same number of messages of the same sizes to fresh topics on the same broker, in
the same run, with the same producer settings; the ratio is ours / bare (goal: 0.70 or more).
Ours is the whole path of `streamguard produce --rate 0 --count N` after start-up: generating
each transaction (with wall-clock event times), pacing, sending, the progress display and the
final flush. The bare producer sends bytes made beforehand, polling after each message as its
documentation's examples do; "tuned" is the bare loop with the two settings that make ours fast
(failed deliveries reported only, a poll every 64 messages), i.e. the cost of generating and
accounting alone. They alternate over --rounds rounds; the best of each counts (and the
medians, for a machine that is busy with other work).

    .venv/bin/python bench/producer.py [--count 200000] [--bootstrap-servers HOST:PORT]
"""

from __future__ import annotations

import io
import sys
import time
import uuid
from pathlib import Path
from statistics import median

if __package__ in (None, ""):
    # Run as a script: the repository root holds bench/, as `python -m bench.producer` sees it.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from rich.console import Console

from bench._cli import bench_parser
from bench._stack import local_parts
from streamguard.producer import Population, TransactionGenerator, command
from streamguard.producer.pacing import Pacer
from streamguard.producer.scenarios import SCENARIO_HEADER
from streamguard.producer.sender import PRODUCER_CONFIG, Sender

SEED = 1


def _topic(admin: AdminClient, name: str) -> str:
    admin.create_topics([NewTopic(name, num_partitions=3, replication_factor=1)])[name].result(30)
    return name


def _generator(population: Population) -> TransactionGenerator:
    return TransactionGenerator(
        population, seed=SEED, rate=1000, clock=lambda: int(time.time() * 1000)
    )


def bare(
    bootstrap: str, topic: str, payloads: list[tuple[bytes, bytes]], *, tuned: bool = False
) -> float:
    """The plain loop, or (`tuned`) with ours' two tricks: error-only reports, polls every 64."""
    extra = {"delivery.report.only.error": True} if tuned else {}
    producer = Producer({"bootstrap.servers": bootstrap, **PRODUCER_CONFIG, **extra})
    headers = [(SCENARIO_HEADER, b"normal")]
    poll_every = 64 if tuned else 1
    started = time.perf_counter()
    for n, (key, value) in enumerate(payloads):
        while True:
            try:
                producer.produce(topic, key=key, value=value, headers=headers)
                break
            except BufferError:
                producer.poll(0.05)
        if n % poll_every == 0:
            producer.poll(0)
    assert producer.flush(120) == 0
    return len(payloads) / (time.perf_counter() - started)


def ours(bootstrap: str, topic: str, population: Population, count: int) -> float:
    sender = Sender(bootstrap, topic)
    generator = _generator(population)
    # The progress display draws as it does for a user, into a buffer rather than the terminal.
    command.err = Console(file=io.StringIO(), force_terminal=True, width=120)
    started = time.perf_counter()
    report = command.send(sender, iter(generator), Pacer(0), count)
    elapsed = time.perf_counter() - started
    assert report.delivered == count and not report.failed, report.summary()
    return count / elapsed


def main() -> None:
    parser = bench_parser(__doc__, count="messages each pass sends", rounds=2)
    args = parser.parse_args()
    population = Population.build(SEED, accounts=command.accounts_for(10_000))
    # The bare producer sends exactly the bytes (and so the sizes) ours makes.
    sample = _generator(population).take(args.count)
    payloads = [(t.key, t.value) for t in sample]
    bare_rates: list[float] = []
    tuned_rates: list[float] = []
    our_rates: list[float] = []
    with local_parts(args.bootstrap_servers, "unused") as (bootstrap, _):
        admin = AdminClient({"bootstrap.servers": bootstrap})
        run = uuid.uuid4().hex[:8]
        # A fresh broker is slow at first (JIT, log segments): warm it before anything counts.
        bare(bootstrap, _topic(admin, f"bench-warm-{run}"), payloads[:50_000])
        for n in range(args.rounds):
            bare_rates.append(bare(bootstrap, _topic(admin, f"bench-bare-{run}-{n}"), payloads))
            topic = _topic(admin, f"bench-tuned-{run}-{n}")
            tuned_rates.append(bare(bootstrap, topic, payloads, tuned=True))
            topic = _topic(admin, f"bench-ours-{run}-{n}")
            our_rates.append(ours(bootstrap, topic, population, args.count))
        del admin  # before the broker stops, or it logs the refused reconnects
    size = sum(len(v) for _, v in payloads) / len(payloads)
    print(f"messages: {args.count:,} of {size:.0f} bytes on average, {args.rounds} rounds")
    print(f"bare confluent-kafka producer: {max(bare_rates):,.0f} msg/s  {_all(bare_rates)}")
    print(f"streamguard produce:           {max(our_rates):,.0f} msg/s  {_all(our_rates)}")
    print(f"bare, tuned as ours is:        {max(tuned_rates):,.0f} msg/s  {_all(tuned_rates)}")
    print(f"ratio ours/bare: {max(our_rates) / max(bare_rates):.2f} (goal: 0.70 or more)")
    print(f"ratio ours/bare, medians: {median(our_rates) / median(bare_rates):.2f}")
    print(f"ratio ours/tuned bare: {max(our_rates) / max(tuned_rates):.2f}")


def _all(rates: list[float]) -> str:
    return "(" + ", ".join(f"{r:,.0f}" for r in rates) + ")"


if __name__ == "__main__":
    main()
