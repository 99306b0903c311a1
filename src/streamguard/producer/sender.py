"""Sending transactions to Kafka with an idempotent producer, every delivery accounted for."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from streamguard.producer.generator import Generated
from streamguard.producer.scenarios import SCENARIO_HEADER

PRODUCER_CONFIG: dict[str, Any] = {
    # Idempotence with acks=all: a retried send is written once, and only when fully replicated.
    "enable.idempotence": True,
    "acks": "all",
    "linger.ms": 20,
    "batch.num.messages": 10_000,
    "compression.type": "lz4",
    "message.timeout.ms": 60_000,
}


@dataclass
class DeliveryReport:
    """What was sent and what the broker acknowledged; nothing fails silently."""

    sent: int = 0
    delivered: int = 0
    failed: int = 0
    errors: Counter[str] = field(default_factory=Counter)

    @property
    def pending(self) -> int:
        return self.sent - self.delivered - self.failed

    def summary(self) -> str:
        text = f"{self.delivered} of {self.sent} delivered"
        if self.failed:
            reasons = ", ".join(f"{reason} ({n})" for reason, n in self.errors.most_common(3))
            text += f"; {self.failed} NOT delivered: {reasons}"
        return text


class Sender:
    """Produces `Generated` transactions keyed by account, with the scenario header."""

    def __init__(self, bootstrap_servers: str, topic: str, **config: Any) -> None:
        self.topic = topic
        self.report = DeliveryReport()
        self._producer = Producer(
            {"bootstrap.servers": bootstrap_servers, **PRODUCER_CONFIG, **config}
        )

    def _on_delivery(self, error: KafkaError | None, _message: Message) -> None:
        if error is None:
            self.report.delivered += 1
        else:
            self.report.failed += 1
            self.report.errors[error.str()] += 1

    def send(self, txn: Generated) -> None:
        self.send_raw(txn.key, txn.to_json(), txn.scenario.value)

    def send_raw(self, key: bytes, value: bytes, scenario: str) -> None:
        while True:
            try:
                self._producer.produce(
                    self.topic,
                    key=key,
                    value=value,
                    headers=[(SCENARIO_HEADER, scenario.encode())],
                    on_delivery=self._on_delivery,
                )
                break
            except BufferError:
                # The local queue is full: let deliveries drain, then try again.
                self._producer.poll(0.05)
        self.report.sent += 1
        self._producer.poll(0)

    def poll(self) -> None:
        self._producer.poll(0)

    def flush(self, timeout_s: float = 60.0) -> DeliveryReport:
        """Wait for every outstanding delivery; any still pending at the deadline counts failed."""
        remaining = self._producer.flush(timeout_s)
        if remaining:
            self.report.failed += remaining
            self.report.errors[f"not acknowledged within {timeout_s:.0f} s"] += remaining
        return self.report
