"""The dead-letter topic: messages we could not process, unchanged, with why and whence."""

from __future__ import annotations

from confluent_kafka import KafkaException, Message, Producer

ERROR_HEADER = "streamguard-error"
TOPIC_HEADER = "streamguard-source-topic"
PARTITION_HEADER = "streamguard-source-partition"
OFFSET_HEADER = "streamguard-source-offset"


class DeadLetters:
    """Produces bad messages to the DLQ; `flush` returns only when the broker has them all."""

    def __init__(self, bootstrap_servers: str, topic: str) -> None:
        self.topic = topic
        self._producer = Producer(
            {
                "bootstrap.servers": bootstrap_servers,
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 5,
            }
        )
        self._errors: list[str] = []

    def send(self, message: Message, reason: str) -> None:
        headers: list[tuple[str, str | bytes | None]] = [
            (str(header[0]), header[1]) for header in (message.headers() or [])
        ]
        headers += [
            (ERROR_HEADER, reason.encode()),
            (TOPIC_HEADER, str(message.topic()).encode()),
            (PARTITION_HEADER, str(message.partition()).encode()),
            (OFFSET_HEADER, str(message.offset()).encode()),
        ]
        self._producer.produce(
            self.topic,
            key=message.key(),
            value=message.value(),
            headers=headers,
            on_delivery=self._on_delivery,
        )
        self._producer.poll(0)

    def _on_delivery(self, error: object, _message: Message) -> None:
        if error is not None:
            self._errors.append(str(error))

    def flush(self, timeout_s: float = 60.0) -> None:
        """Wait until every dead letter is acknowledged; raise if any was not."""
        remaining = self._producer.flush(timeout_s)
        errors, self._errors = self._errors, []
        if remaining or errors:
            raise KafkaException(
                f"dead-letter topic {self.topic}: {remaining} unacknowledged, "
                f"{len(errors)} failed ({'; '.join(errors[:3])})"
            )
