"""Scaling by partitions, through real Kafka, the ksqlDB emulator and PostgreSQL.

The same seeded traffic runs through the rules of ksql/ as shipped on a stack whose
`transactions` and `fraud_alerts` have one partition and on one where they have four (the
`--define`s that `./start.sh --partitions N` passes on). The four-partition pipeline is read by
two consumers in one group. Both must end with exactly the same alert rows, and the two
consumers must have shared the partitions, each alert message written by one of them only.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from bench._rules_model import RulesModel
from confluent_kafka import Consumer, KafkaError, TopicPartition
from confluent_kafka.admin import AdminClient

from streamguard import stack
from streamguard.consumer.loop import AlertConsumer, Stats
from streamguard.models import Alert
from streamguard.producer.generator import Generated, TransactionGenerator
from streamguard.producer.population import Population
from streamguard.producer.sender import Sender
from tests.conftest import stack_dir
from tests.e2e.rules_stack import free_ports, up_with_rules

# Two stacks, one after the other: more than the suite's default ten minutes on a busy machine.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

SEED = 11
COUNT = 1500
START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
GROUP = "streamguard-alerts"
# What an alert row says, beyond the bookkeeping of where and when it was written.
FIELDS = (
    "alert_id, rule_id, kind, severity, risk_score, account_id, transaction_id, card_id, "
    "merchant_id, country, amount, txn_count, total_amount, window_start, window_end, event_time"
)


@dataclass
class Topic:
    """What fraud_alerts holds once the run is over: its committed messages per partition, and
    the alert identities they name."""

    messages: dict[int, int]
    identities: set[str]

    @property
    def total(self) -> int:
        return sum(self.messages.values())


@dataclass
class Run:
    partitions: int
    rows: dict[str, tuple[Any, ...]]
    stats: list[Stats]
    assigned: list[int]
    alerts: Topic


def _traffic() -> list[Generated]:
    population = Population.build(SEED, accounts=2000)
    generator = TransactionGenerator(
        population, seed=SEED, fraud_share=0.3, start_ms=START_MS, rate=1000.0
    )
    return generator.take(COUNT)


def _messages(bootstrap: str, topic: str) -> Topic:
    """Committed records on every partition of `topic` (commit markers are no records), and
    the alert identities they name."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"count-{time.monotonic_ns()}",
            "isolation.level": "read_committed",
            "enable.partition.eof": True,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        open_ = set(partitions)
        found = Topic({p: 0 for p in partitions}, set())
        deadline = time.monotonic() + 60
        while open_ and time.monotonic() < deadline:
            for message in consumer.consume(500, timeout=1.0):
                error = message.error()
                if error is None:
                    found.messages[int(message.partition() or 0)] += 1
                    found.identities.add(Alert.from_json(message.value() or b"").alert_id)
                elif error.code() == KafkaError._PARTITION_EOF:
                    open_.discard(message.partition())
        assert not open_, f"could not read {topic} to its end"
        return found
    finally:
        consumer.close()


def _settled(bootstrap: str, members: int, partitions: int) -> list[int]:
    """The partitions each member of the group holds, once it has `members` members that hold
    every partition of fraud_alerts between them."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    deadline = time.monotonic() + 90
    held: list[int] = []
    while time.monotonic() < deadline:
        group = admin.describe_consumer_groups([GROUP])[GROUP].result(10)
        held = [len(m.assignment.topic_partitions) for m in group.members]
        if len(held) == members and sum(held) == partitions and all(held):
            return held
        time.sleep(0.5)
    raise AssertionError(f"the group never settled: partitions held per member {held}")


def _wait_for_alerts(engine: sa.Engine, model: RulesModel) -> dict[str, tuple[Any, ...]]:
    """The alert rows once every alert the rules owe is in with its final count, and nothing
    has changed for 3 s."""
    want = {a: e.txn_count for a, e in model.expected.items()}
    deadline = time.monotonic() + 240
    last: dict[str, tuple[Any, ...]] | None = None
    steady_since = time.monotonic()
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            rows = {r[0]: tuple(r) for r in conn.execute(sa.text(f"SELECT {FIELDS} FROM alerts"))}
        if rows != last:
            last, steady_since = rows, time.monotonic()
        complete = all(a in rows and (n is None or rows[a][11] == n) for a, n in want.items())
        if complete and time.monotonic() - steady_since >= 3:
            return rows
        time.sleep(0.5)
    missing = sorted(a for a in want if a not in (last or {}))
    raise AssertionError(f"{len(missing)} of {len(want)} alerts never arrived: {missing[:5]}")


def _run(partitions: int, consumers: int, traffic: list[Generated]) -> Run:
    state_dir = stack_dir(f"partitions{partitions}")
    try:
        ports = free_ports()
        state = up_with_rules(
            state_dir, ports,
            "--define", f"transactions_partitions={partitions}",
            "--define", f"fraud_alerts_partitions={partitions}",
        )  # fmt: skip
        bootstrap, url = state.part("kafka").url or "", state.part("postgres").url or ""
        group = [
            AlertConsumer(
                bootstrap_servers=bootstrap,
                database_url=url,
                topic="fraud_alerts",
                dlq_topic="fraud_alerts_dlq",
                group_id=GROUP,
            )
            for _ in range(consumers)
        ]
        threads = [threading.Thread(target=c.run, daemon=True) for c in group]
        for thread in threads:
            thread.start()
        try:
            # The group settles before any alert flows, so no batch is read by two members.
            # (Asked of the broker: a consumer's own assignment() waits on its poll.)
            assigned = _settled(bootstrap, consumers, partitions)
            model = RulesModel()
            sender = Sender(bootstrap, "transactions")
            for n, txn in enumerate(traffic):
                model.feed(n, txn.value)
            sender.send_all(traffic)
            assert sender.flush().failed == 0
            engine = sa.create_engine(url)
            try:
                rows = _wait_for_alerts(engine, model)
            finally:
                engine.dispose()
        finally:
            for c in group:
                c.stop()
            for thread in threads:
                thread.join(60)
        return Run(
            partitions,
            rows,
            [c.stats for c in group],
            assigned,
            _messages(bootstrap, "fraud_alerts"),
        )
    finally:
        stack.down(state_dir, purge=True)
        shutil.rmtree(state_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def runs() -> Iterator[tuple[Run, Run]]:
    traffic = _traffic()
    yield _run(1, 1, traffic), _run(4, 2, traffic)


def test_four_partitions_give_exactly_the_alerts_of_one(runs: tuple[Run, Run]) -> None:
    one, four = runs
    assert {row[1] for row in one.rows.values()} == {
        "high_amount", "night_high_amount", "velocity", "amount_velocity", "geo_spread",
        "card_testing",
    }, "the traffic trips every rule"  # fmt: skip
    assert four.rows.keys() == one.rows.keys()
    differing = [a for a in one.rows if one.rows[a] != four.rows[a]]
    assert not differing, [(one.rows[a], four.rows[a]) for a in differing[:3]]


def test_two_consumers_in_one_group_share_the_partitions_and_write_each_alert_once(
    runs: tuple[Run, Run],
) -> None:
    one, four = runs
    # The one-partition run's only consumer took every message, as the group does between them.
    assert one.stats[0].consumed == one.alerts.total
    assert sorted(four.assigned) == [2, 2] or sorted(four.assigned) == [1, 3], four.assigned
    consumed = [s.consumed for s in four.stats]
    assert all(consumed), f"each consumer took alerts: {consumed}"
    # Every message of fraud_alerts was processed by one member of the group, once: none
    # missed, none by both (the counters are in messages; a growing window alert is several).
    topic = four.alerts
    assert sum(consumed) == topic.total, f"consumed {consumed}, on the topic {topic.messages}"
    assert [s.written for s in four.stats] == consumed
    assert sum(s.dead_lettered for s in four.stats) == 0
    # And every alert the messages name is one row.
    assert four.rows.keys() == topic.identities
