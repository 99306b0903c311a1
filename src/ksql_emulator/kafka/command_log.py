"""The command topic: every catalog-changing statement, in order, for a restart to replay."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator, Mapping
from typing import Any

from confluent_kafka import Consumer, Producer, TopicPartition

from ksql_emulator.contracts.backend import Command, KafkaGateway
from ksql_emulator.kafka.errors import KafkaLayerError
from ksql_emulator.kafka.messages import next_batch, producer_config, scan_config, watermarks

__all__ = ["CommandFollower", "CommandTopic", "command_topic_name"]

log = logging.getLogger(__name__)

_TIMEOUT_S = 30.0


def command_topic_name(service_id: str) -> str:
    """ksqlDB's name for a service's command topic."""
    return f"_confluent-ksql-{service_id}_command_topic"


class CommandTopic:
    """Appends commands (key: command id; value: ksqlDB's JSON) and reads them all back."""

    def __init__(
        self,
        gateway: KafkaGateway,
        bootstrap_servers: str,
        service_id: str,
        client_config: Mapping[str, str] | None = None,
        replication: int = 1,
    ) -> None:
        self.name = command_topic_name(service_id)
        self._gateway = gateway
        self._bootstrap = bootstrap_servers
        self._extra = dict(client_config or {})
        self._replication = replication
        self._producer: Producer | None = None
        self._lock = threading.Lock()

    def ensure(self) -> None:
        """Creates the topic if it is missing: one partition keeps the order total."""
        info = self._gateway.create_topic(
            self.name, 1, self._replication, {"retention.ms": "-1", "cleanup.policy": "delete"}
        )
        if info.partitions != 1:
            raise KafkaLayerError(
                f"command topic {self.name} has {info.partitions} partitions; it must have 1"
            )

    def append(self, command: Command) -> int:
        """Writes `command` and returns its offset (ksqlDB's commandSequenceNumber) once acked."""
        value = {
            "statement": command.statement,
            "streamsProperties": dict(command.properties),
            "originalProperties": {},
        }
        outcome: dict[str, Any] = {}

        def delivered(error: Any, msg: Any) -> None:
            outcome["error"] = error
            outcome["offset"] = msg.offset() if error is None else None

        with self._lock:
            if self._producer is None:
                self._producer = Producer(producer_config(self._bootstrap, self._extra))
            self._producer.produce(
                self.name,
                key=command.command_id.encode(),
                value=json.dumps(value).encode(),
                on_delivery=delivered,
            )
            self._producer.flush(_TIMEOUT_S)
        if outcome.get("error") is not None or outcome.get("offset") is None:
            raise KafkaLayerError(
                f"could not write command {command.command_id} to {self.name}: "
                f"{outcome.get('error', 'no acknowledgement')}"
            )
        offset: int = outcome["offset"]
        return offset

    def read_all(self) -> list[tuple[int, Command]]:
        """Every command in the topic, oldest first, with its offset."""
        consumer = Consumer(scan_config(self._bootstrap, "command-reader", self._extra))
        commands: list[tuple[int, Command]] = []
        try:
            partition = TopicPartition(self.name, 0)
            low, high = watermarks(consumer, partition, _TIMEOUT_S)
            if high <= low:
                return commands
            consumer.assign([TopicPartition(self.name, 0, low)])
            position = low
            while position < high:
                for offset, parsed in _read(consumer.consume(500, timeout=1.0)):
                    position = offset + 1
                    if parsed is not None:
                        commands.append((offset, parsed))
        finally:
            consumer.close()
        return commands

    def follow(self, start: int = 0) -> CommandFollower:
        """A reader of the commands from offset `start` on, as they are appended."""
        return CommandFollower(self.name, self._bootstrap, self._extra, start)

    def close(self) -> None:
        if self._producer is not None:
            self._producer.flush(_TIMEOUT_S)


class CommandFollower:
    """Reads a command topic as it grows: how a server that does not take statements itself
    (a query process, see `app.query_processes`) keeps its engine equal to the one that does."""

    def __init__(self, topic: str, bootstrap_servers: str, extra: Mapping[str, str], start: int):
        config = scan_config(bootstrap_servers, "command-follower", dict(extra))
        # Not a scan: it waits for what comes, and an idle wait need not be answered often.
        config["enable.partition.eof"] = False
        config["fetch.wait.max.ms"] = 500
        self._consumer = Consumer(config)
        self._consumer.assign([TopicPartition(topic, 0, start)])

    def poll(self, timeout_s: float) -> list[tuple[int, Command]]:
        """The commands appended since the last poll (waiting up to `timeout_s` for one)."""
        records = _read(next_batch(self._consumer, 500, timeout_s))
        return [(offset, parsed) for offset, parsed in records if parsed is not None]

    def close(self) -> None:
        self._consumer.close()


def _read(records: list[Any]) -> Iterator[tuple[int, Command | None]]:
    """Each consumed record's offset and command (None for one that cannot be read)."""
    for raw in records:
        offset = raw.offset()
        if raw.error() is None and offset is not None:
            yield offset, _parse(raw.key(), raw.value(), offset)


def _parse(key: bytes | None, value: bytes | None, offset: int) -> Command | None:
    try:
        data = json.loads(value or b"null")
        statement = data["statement"]
        properties = data.get("streamsProperties") or {}
    except (ValueError, KeyError, TypeError, AttributeError):
        log.warning("skipping unreadable command at offset %d of the command topic", offset)
        return None
    command_id = key.decode(errors="replace") if key else ""
    return Command(command_id, str(statement), dict(properties))
