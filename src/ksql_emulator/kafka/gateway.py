"""The engine's way to Kafka (`contracts.backend.KafkaGateway`) over confluent-kafka."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from ksql_emulator.contracts.backend import TopicInfo
from ksql_emulator.contracts.message import Message
from ksql_emulator.kafka.errors import KafkaLayerError
from ksql_emulator.kafka.messages import (
    from_kafka,
    next_batch,
    producer_config,
    scan_config,
    watermarks,
)

__all__ = ["ConfluentGateway"]

_TIMEOUT_S = 30.0


class ConfluentGateway:
    """Admin, one shared producer, and short-lived consumers for topic scans."""

    def __init__(self, bootstrap_servers: str, client_config: Mapping[str, str] | None = None):
        self.bootstrap_servers = bootstrap_servers
        self._extra = dict(client_config or {})
        self._admin = AdminClient({"bootstrap.servers": bootstrap_servers, **self._extra})
        self._producer = Producer(producer_config(bootstrap_servers, self._extra))
        self._produce_lock = threading.Lock()
        self._cluster_id: str | None = None

    def cluster_id(self) -> str:
        if self._cluster_id is None:
            metadata = self._admin.list_topics(timeout=_TIMEOUT_S)
            self._cluster_id = str(metadata.cluster_id or "")
        return self._cluster_id

    def describe_topic(self, name: str) -> TopicInfo | None:
        # All topics, not just `name`: asking for one topic's metadata can auto-create it.
        metadata = self._admin.list_topics(timeout=_TIMEOUT_S)
        topic = metadata.topics.get(name)
        if topic is None or topic.error is not None or not topic.partitions:
            return None
        return _info(name, topic)

    def list_topics(self) -> Sequence[TopicInfo]:
        metadata = self._admin.list_topics(timeout=_TIMEOUT_S)
        return [
            _info(name, topic)
            for name, topic in sorted(metadata.topics.items())
            if topic.error is None and topic.partitions
        ]

    def create_topic(
        self, name: str, partitions: int, replication: int, config: Mapping[str, str]
    ) -> TopicInfo:
        existing = self.describe_topic(name)
        if existing is not None:
            return existing
        futures = self._admin.create_topics(
            [
                NewTopic(
                    name,
                    num_partitions=partitions,
                    replication_factor=replication,
                    config=dict(config),
                )
            ]
        )
        try:
            futures[name].result(timeout=_TIMEOUT_S)
        except KafkaException as exc:
            error = exc.args[0] if exc.args else None
            if not (
                isinstance(error, KafkaError) and error.code() == KafkaError.TOPIC_ALREADY_EXISTS
            ):
                raise KafkaLayerError(f"Could not create Kafka topic {name}: {exc}") from exc
        created = self._await_topic(name)
        return created

    def _await_topic(self, name: str) -> TopicInfo:
        for _ in range(100):
            info = self.describe_topic(name)
            if info is not None:
                return info
            threading.Event().wait(0.05)
        raise KafkaLayerError(f"Kafka topic {name} was created but does not show in metadata")

    def delete_topic(self, name: str) -> None:
        futures = self._admin.delete_topics([name])
        try:
            futures[name].result(timeout=_TIMEOUT_S)
        except KafkaException as exc:
            raise KafkaLayerError(f"Could not delete Kafka topic {name}: {exc}") from exc

    def delete_consumer_group(self, group: str) -> None:
        """Deletes a consumer group and its committed offsets; a group that does not exist is
        already gone."""
        futures = self._admin.delete_consumer_groups([group], request_timeout=_TIMEOUT_S)
        try:
            futures[group].result(timeout=_TIMEOUT_S)
        except KafkaException as exc:
            error = exc.args[0] if exc.args else None
            if isinstance(error, KafkaError) and error.code() == KafkaError.GROUP_ID_NOT_FOUND:
                return
            raise KafkaLayerError(f"Could not delete consumer group {group}: {exc}") from exc

    def produce(self, msg: Message) -> None:
        done = threading.Event()
        failure: list[Any] = []

        def delivered(error: Any, _msg: Any) -> None:
            if error is not None:
                failure.append(error)
            done.set()

        with self._produce_lock:
            self._producer.produce(
                msg.topic,
                key=msg.key,
                value=msg.value,
                timestamp=msg.timestamp,
                headers=list(msg.headers) or None,
                on_delivery=delivered,
            )
            self._producer.flush(_TIMEOUT_S)
        if not done.is_set():
            raise KafkaLayerError(f"Kafka did not acknowledge a write to {msg.topic} in time")
        if failure:
            raise KafkaLayerError(f"Kafka refused a write to {msg.topic}: {failure[0]}")

    def read_topic(self, name: str) -> Iterator[Message]:
        # A transactional topic ends in a commit marker no message stands for: the
        # end-of-partition event, not the last offset, says the scan is done.
        consumer = Consumer(scan_config(self.bootstrap_servers, "scan", self._extra))
        try:
            topic = consumer.list_topics(timeout=_TIMEOUT_S).topics.get(name)
            if topic is None or topic.error is not None:
                raise KafkaLayerError(f"Kafka topic does not exist: {name}")
            ends: dict[int, int] = {}
            starts: list[TopicPartition] = []
            for partition in sorted(topic.partitions):
                low, high = watermarks(consumer, TopicPartition(name, partition), _TIMEOUT_S)
                if high > low:
                    ends[partition] = high
                    starts.append(TopicPartition(name, partition, low))
            if not starts:
                return
            consumer.assign(starts)
            while ends:
                # Not consume(500, 1.0): that waits the whole second for a 500th record.
                batch = next_batch(consumer, 500, 1.0)
                for raw in batch:
                    partition, offset, error = raw.partition(), raw.offset(), raw.error()
                    if error is not None and error.code() == KafkaError._PARTITION_EOF:
                        ends.pop(partition if partition is not None else -1, None)
                    if error is not None or partition is None or offset is None:
                        continue
                    end = ends.get(partition)
                    if end is None or offset >= end:
                        continue
                    yield from_kafka(raw)
                    if offset + 1 >= end:
                        del ends[partition]
        finally:
            consumer.close()

    def close(self) -> None:
        self._producer.flush(_TIMEOUT_S)


def _info(name: str, topic: Any) -> TopicInfo:
    partitions = topic.partitions
    replication = len(next(iter(partitions.values())).replicas) if partitions else 0
    return TopicInfo(name, len(partitions), replication)
