"""`streamguard produce` through the real broker: reproducible, valid, labelled, on rate."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from confluent_kafka import Consumer

from streamguard.models import Transaction
from streamguard.producer import Population, Scenario, TransactionGenerator
from streamguard.producer.command import send
from streamguard.producer.errors import SendError
from streamguard.producer.pacing import Pacer
from streamguard.producer.scenarios import SCENARIO_HEADER
from streamguard.producer.sender import Sender


def _produce(
    bootstrap: str, topic: str, *args: str, timeout: float = 300, exit_code: int = 0
) -> str:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "streamguard.cli",
            "produce",
            "--topic",
            topic,
            "--bootstrap-servers",
            bootstrap,
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert result.returncode == exit_code, result.stderr
    return result.stderr


def _read_all(bootstrap: str, topic: str, expected: int) -> list[tuple[bytes, bytes, str]]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"read-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    out: list[tuple[bytes, bytes, str]] = []
    idle = 0
    try:
        # Until nothing more comes: 2 s once all expected are in (to see any extra), else 15 s.
        while idle < (2 if len(out) >= expected else 15):
            batch = consumer.consume(5000, timeout=1.0)
            idle = 0 if batch else idle + 1
            for msg in batch:
                assert msg.error() is None
                headers = dict(msg.headers() or [])
                out.append((msg.key(), msg.value(), headers[SCENARIO_HEADER].decode()))
    finally:
        consumer.close()
    return out


@pytest.mark.slow
def test_fifty_thousand_twice_with_one_seed_are_identical_valid_and_labelled(
    kafka_bootstrap: str, new_topic: Callable[..., str]
) -> None:
    runs = []
    for _ in range(2):
        topic = new_topic("transactions")
        args = [
            "--count",
            "50000",
            "--rate",
            "0",
            "--seed",
            "99",
            "--fraud-share",
            "0.35",
            "--start-time",
            "2026-03-01T00:00:00Z",
        ]
        assert "50000 of 50000 delivered" in _produce(kafka_bootstrap, topic, *args)
        runs.append(_read_all(kafka_bootstrap, topic, 50_000))
    first, second = runs
    assert len(first) == 50_000
    assert first == second
    for key, value, _ in first:
        assert Transaction.from_json(value).account_id.encode() == key
    shares = Counter(scenario for _, _, scenario in first)
    per_scenario = 0.35 / len(Scenario.fraud())
    for scenario in Scenario.fraud():
        assert abs(shares[scenario.value] / 50_000 - per_scenario) < 0.01


@pytest.mark.slow
def test_rate_2000_for_10_seconds_delivers_20000(
    kafka_bootstrap: str, new_topic: Callable[..., str]
) -> None:
    topic = new_topic("transactions", partitions=3)
    started = time.monotonic()
    stderr = _produce(kafka_bootstrap, topic, "--rate", "2000", "--duration", "10")
    took = time.monotonic() - started
    delivered = len(_read_all(kafka_bootstrap, topic, 20_000))
    assert abs(delivered - 20_000) <= 400, delivered
    assert f"{delivered} of {delivered} delivered" in stderr
    assert 10 <= took < 25, took


def test_replayed_ground_truth_arrives_as_recorded(
    kafka_bootstrap: str, new_topic: Callable[..., str], tmp_path: Path
) -> None:
    truth = tmp_path / "truth.jsonl"
    topic = new_topic("transactions")
    common = ["--count", "400", "--seed", "3", "--fraud-share", "0.5"]
    _produce(kafka_bootstrap, topic, *common, "--rate", "0", "--ground-truth", str(truth))
    replayed_topic = new_topic("replayed")
    stderr = _produce(kafka_bootstrap, replayed_topic, "--replay", str(truth), "--rate", "0")
    assert "400 of 400 delivered" in stderr
    original = _read_all(kafka_bootstrap, topic, 400)
    replayed = _read_all(kafka_bootstrap, replayed_topic, 400)
    assert len(replayed) == 400
    # Same keys, scenarios and transactions (the model may write an amount as 12.5, not 12.50).
    assert [(k, Transaction.from_json(v), s) for k, v, s in replayed] == [
        (k, Transaction.from_json(v), s) for k, v, s in original
    ]


def test_a_broker_that_does_not_answer_fails_the_command_at_once_saying_so() -> None:
    """Each message used to wait out its delivery timeout in the queue, under a librdkafka line
    about the refused connection every few milliseconds, before the count said they failed."""
    started = time.monotonic()
    stderr = _produce(
        "127.0.0.1:1",
        "transactions",
        "--count",
        "30",
        "--rate",
        "0",
        "--delivery-timeout",
        "1.5",
        exit_code=1,
    )
    assert time.monotonic() - started < 15
    assert stderr.count("\n") == 1, stderr
    said = " ".join(stderr.split())
    assert said.startswith("error: cannot reach Kafka:") and "(at 127.0.0.1:1)" in said
    assert "streamguard stack up" in said


def test_undelivered_messages_are_counted_not_lost() -> None:
    # Nothing listens on port 1: every message must come back as a failure.
    sender = Sender("127.0.0.1:1", "transactions", **{"message.timeout.ms": 1500})
    for txn in TransactionGenerator(Population.build(1), seed=1).take(25):
        sender.send(txn)
    report = sender.flush(10)
    assert (report.sent, report.delivered, report.failed) == (25, 0, 25)
    assert "NOT delivered" in report.summary()


def test_deliveries_failing_mid_run_are_said_while_it_runs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A producer writing to a log (the stack's) said nothing of a broker gone for minutes
    # until it exited: the count of failures was on a progress bar drawn only on a terminal.
    sender = Sender("127.0.0.1:1", "transactions", **{"message.timeout.ms": 300})
    source = iter(TransactionGenerator(Population.build(1), seed=1).take(40))
    report = send(sender, source, Pacer(20.0), count=40)
    assert report.failed == 40
    said = " ".join(capsys.readouterr().err.split())
    assert "message(s) NOT delivered (" in said and " in all" in said


def test_a_sender_connects_to_a_broker_before_its_first_message(
    kafka_bootstrap: str, new_topic: Callable[..., str]
) -> None:
    sender = Sender(kafka_bootstrap, new_topic())
    sender.connect(timeout_s=10.0)
    sender.send(TransactionGenerator(Population.build(1), seed=1).take(1)[0])
    assert sender.flush(10).delivered == 1


def test_connecting_to_no_broker_says_so() -> None:
    sender = Sender("127.0.0.1:1", "transactions")
    with pytest.raises(SendError, match="cannot reach Kafka"):
        sender.connect(timeout_s=1.0)
