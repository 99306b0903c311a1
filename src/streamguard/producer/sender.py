"""Sending transactions to Kafka with an idempotent producer, every delivery accounted for."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from streamguard import terminal
from streamguard.metrics import TRANSACTIONS_FAILED, TRANSACTIONS_SENT
from streamguard.producer.errors import SendError
from streamguard.producer.generator import Generated
from streamguard.producer.scenarios import SCENARIO_HEADER, Scenario

PRODUCER_CONFIG: dict[str, Any] = {
    # Idempotence with acks=all: a retried send is written once, and only when fully replicated.
    "enable.idempotence": True,
    "acks": "all",
    # A transaction waits up to this long for others to share its request. At 1,000 a second,
    # 20 ms put 10 ms on the median alert's latency (bench/pipeline: median 30 ms, against 15-20
    # with 5 ms); under load batches fill long before either, and at a few a second each
    # transaction goes alone anyway.
    "linger.ms": 5,
    "batch.num.messages": 10_000,
    "compression.type": "lz4",
    "message.timeout.ms": 60_000,
}
# Serving the delivery queue after every message costs as much as producing it; every this many
# keeps the queue short without that cost.
POLL_EVERY = 64

_HEADERS: dict[Scenario, list[tuple[str, str | bytes | None]]] = {
    s: [(SCENARIO_HEADER, s.value.encode())] for s in Scenario
}


@dataclass
class DeliveryReport:
    """What was sent and what the broker acknowledged; nothing fails silently."""

    sent: int = 0
    failed: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    in_flight: int = 0

    @property
    def delivered(self) -> int:
        """Acknowledged by the broker: sent, neither failed nor still waiting."""
        return self.sent - self.failed - self.in_flight

    def summary(self) -> str:
        text = f"{self.delivered} of {self.sent} delivered"
        if self.failed:
            reasons = ", ".join(f"{reason} ({n})" for reason, n in self.errors.most_common(3))
            text += f"; {self.failed} NOT delivered: {reasons}"
        return text


class Sender:
    """Produces `Generated` transactions keyed by account, with the scenario header.

    The producer reports failed deliveries only (`delivery.report.only.error`): a success
    needs no Python callback, and a message is delivered once it is neither failed nor still in
    the producer's queue.
    """

    def __init__(self, bootstrap_servers: str, topic: str, **config: Any) -> None:
        self.topic = topic
        self.report = DeliveryReport()
        try:
            self._producer = Producer(
                {
                    "bootstrap.servers": bootstrap_servers,
                    **PRODUCER_CONFIG,
                    **config,
                    "on_delivery": self._on_delivery,
                    "delivery.report.only.error": True,
                    # Failed deliveries are counted and reported, and `connect` says when the
                    # broker does not answer.
                    "logger": terminal.librdkafka_silenced,
                }
            )
        except KafkaException as exc:
            raise SendError(f"cannot make a Kafka producer: {exc.args[0].str()}") from None
        self._unpolled = 0
        timeout_ms = {**PRODUCER_CONFIG, **config}["message.timeout.ms"]
        # Every message is acknowledged or failed by then; flush waits that long and a bit.
        self.flush_timeout_s = float(timeout_ms) / 1000 + 5

    def connect(self, timeout_s: float = 30.0) -> None:
        """Waits until the broker has answered this producer. Until then its first messages wait
        in its queue (about a second on a fresh producer), which a latency measurement
        would count against the pipeline."""
        try:
            self._producer.list_topics(self.topic, timeout=timeout_s)
        except KafkaException as exc:
            raise SendError(f"cannot reach Kafka: {exc.args[0].str()}") from None

    def _on_delivery(self, error: KafkaError | None, _message: Message) -> None:
        if error is not None:
            self.report.failed += 1
            self.report.errors[error.str()] += 1
            TRANSACTIONS_FAILED.inc()

    def send(self, txn: Generated) -> None:
        self.send_raw(txn.key, txn.value, txn.scenario)

    def send_all(self, txns: Iterable[Generated]) -> int:
        """Send each of `txns`; the hot loop of `streamguard produce`. Returns how many."""
        produce, topic, headers = self._producer.produce, self.topic, _HEADERS
        normal, normal_headers = Scenario.NORMAL, _HEADERS[Scenario.NORMAL]
        sent = 0
        try:
            for key, value, scenario in txns:
                try:
                    # An enum's hash is a Python call: most messages are normal and skip it.
                    header = normal_headers if scenario is normal else headers[scenario]
                    produce(topic, value, key, headers=header)
                except BufferError:
                    self._produce_when_room(key, value, scenario)
                sent += 1
        finally:
            self._count(sent)
        return sent

    def send_raw(self, key: bytes, value: bytes, scenario: Scenario) -> None:
        try:
            self._producer.produce(self.topic, value, key, headers=_HEADERS[scenario])
        except BufferError:
            self._produce_when_room(key, value, scenario)
        self._count(1)

    def _produce_when_room(self, key: bytes, value: bytes, scenario: Scenario) -> None:
        while True:
            # The local queue is full: let deliveries drain, then try again.
            self._producer.poll(0.05)
            try:
                self._producer.produce(self.topic, value, key, headers=_HEADERS[scenario])
                return
            except BufferError:
                continue

    def _count(self, sent: int) -> None:
        self.report.sent += sent
        # Once a batch, not once a message: the counter costs a lock.
        TRANSACTIONS_SENT.inc(sent)
        self._unpolled += sent
        if self._unpolled >= POLL_EVERY:
            self._unpolled = 0
            self.poll()

    def poll(self) -> DeliveryReport:
        """Serve delivery reports now; the report's counts are current afterwards."""
        self._producer.poll(0)
        self.report.in_flight = len(self._producer)
        return self.report

    def flush(self, timeout_s: float | None = None) -> DeliveryReport:
        """Wait for every outstanding delivery; any still pending at the deadline counts failed.

        By default the deadline is the message timeout (and a little): by then librdkafka has
        reported each message delivered or failed.
        """
        if timeout_s is None:
            timeout_s = self.flush_timeout_s
        remaining = self._producer.flush(timeout_s)
        if remaining:
            TRANSACTIONS_FAILED.inc(remaining)
            self.report.failed += remaining
            self.report.errors[f"not acknowledged within {timeout_s:.0f} s"] += remaining
        self.report.in_flight = 0
        return self.report
