"""Converting between confluent-kafka's messages and the runtime's `Message`."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from ksql_emulator.contracts.message import Message, make_message
from ksql_emulator.kafka.errors import KafkaLayerError

# What a partition says while its leader is still being elected, as just after the topic was
# created or the broker started: worth asking again.
_NOT_YET = {
    KafkaError.NOT_LEADER_FOR_PARTITION,
    KafkaError.LEADER_NOT_AVAILABLE,
    KafkaError.UNKNOWN_TOPIC_OR_PART,
    KafkaError._UNKNOWN_PARTITION,
}

__all__ = [
    "decode_positions",
    "encode_positions",
    "from_kafka",
    "next_batch",
    "producer_config",
    "read_to_end",
    "scan_config",
    "watermarks",
]


def from_kafka(msg: Any, topic: str | None = None) -> Message:
    """A confluent_kafka.Message as the runtime's immutable `Message` (`topic`: its topic, when
    the caller has read it already)."""
    _kind, timestamp = msg.timestamp()
    headers = msg.headers()
    return make_message(
        msg.topic() if topic is None else topic,
        msg.key(),
        msg.value(),
        int(timestamp) if timestamp is not None and timestamp >= 0 else 0,
        msg.partition(),
        msg.offset(),
        tuple((str(k), v) for k, v in headers) if headers else (),
    )


def producer_config(bootstrap_servers: str, extra: dict[str, str] | None = None) -> dict[str, Any]:
    """A producer that partitions as Java clients do and never loses or duplicates on retry."""
    return {
        "bootstrap.servers": bootstrap_servers,
        # Java's default partitioner is murmur2 on the key bytes; librdkafka's is CRC32.
        "partitioner": "murmur2_random",
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
        **(extra or {}),
    }


def scan_config(
    bootstrap_servers: str, purpose: str, extra: dict[str, str] | None = None
) -> dict[str, Any]:
    """A consumer that reads assigned partitions once, to their end, and commits nothing.

    The broker holds a fetch that finds no new records for `fetch.wait.max.ms` (500 ms by
    default) before it answers, and the end of a partition is only known from such an answer:
    a scan of a dozen records (a pull query, a store restore) would otherwise take half a
    second.
    """
    return {
        "bootstrap.servers": bootstrap_servers,
        "group.id": f"_ksql-emulator-{purpose}-{uuid.uuid4().hex}",
        "enable.auto.commit": False,
        "enable.partition.eof": True,
        "fetch.wait.max.ms": 10,
        **(extra or {}),
    }


def next_batch(consumer: Any, max_messages: int, timeout_s: float) -> list[Any]:
    """The messages available now, waiting up to `timeout_s` for the first only.

    `Consumer.consume(n, timeout)` waits for all n or the whole timeout, which would add the
    timeout to every record's latency when traffic is light."""
    first = consumer.poll(timeout_s)
    if first is None:
        return []
    rest: list[Any] = consumer.consume(max_messages - 1, timeout=0) if max_messages > 1 else []
    return [first, *rest]


def watermarks(consumer: Any, partition: Any, timeout_s: float) -> tuple[int, int]:
    """A partition's low and high offsets, asking again while its leader is not ready."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            low, high = consumer.get_watermark_offsets(
                partition, timeout=max(deadline - time.monotonic(), 0.1)
            )
            return int(low), int(high)
        except KafkaException as exc:
            if exc.args[0].code() not in _NOT_YET or time.monotonic() > deadline:
                raise
        time.sleep(0.1)


def encode_positions(positions: Mapping[tuple[str, int], int]) -> bytes:
    """Source positions (topic, partition -> next offset) as a versioned JSON record."""
    by_topic: dict[str, dict[str, int]] = {}
    for (topic, partition), offset in sorted(positions.items()):
        by_topic.setdefault(topic, {})[str(partition)] = offset
    return json.dumps({"version": 1, "positions": by_topic}, sort_keys=True).encode()


def decode_positions(data: bytes) -> dict[tuple[str, int], int]:
    try:
        node = json.loads(data)
    except ValueError:
        node = None
    if not isinstance(node, dict) or node.get("version") != 1:
        raise KafkaLayerError(f"a positions record of an unknown format: {data[:80]!r}")
    return {
        (topic, int(partition)): int(offset)
        for topic, partitions in node["positions"].items()
        for partition, offset in partitions.items()
    }


def read_to_end(
    bootstrap_servers: str,
    extra: Mapping[str, str],
    topic: str,
    purpose: str,
    timeout_s: float,
) -> Iterator[tuple[bytes | None, bytes | None, int]]:
    """(key, value, offset) of every committed record of partition 0 of `topic`, from its
    start to its end as of now: how a store's changelog or the positions topic is read back."""
    consumer = Consumer(
        scan_config(bootstrap_servers, purpose, {"isolation.level": "read_committed", **extra})
    )
    try:
        low, high = watermarks(consumer, TopicPartition(topic, 0), 30.0)
        if high <= low:
            return
        consumer.assign([TopicPartition(topic, 0, low)])
        deadline = time.monotonic() + timeout_s
        while True:
            for msg in consumer.consume(1000, timeout=0.1):
                error = msg.error()
                if error is None:
                    yield msg.key(), msg.value(), msg.offset() or 0
                elif error.code() == KafkaError._PARTITION_EOF:
                    return
                else:
                    raise KafkaLayerError(f"could not read {topic}: {error}")
            if time.monotonic() > deadline:
                raise KafkaLayerError(f"{topic} was not read to its end in time")
    finally:
        consumer.close()
