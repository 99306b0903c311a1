"""What operators open Kafka-UI for: topics and their message counts, a topic's last messages,
consumer groups and their lag, ksqlDB's streams, tables and queries. Read only."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient

from streamguard.ksqldb import KsqlClient, QueriesList, StreamsList, TablesList

TIMEOUT_S = 5.0
# How long a topic's read waits for its next message before it shows what it has.
_QUIET_S = 3.0
# What Kafka allows in a topic's name.
_TOPIC_NAME = re.compile(r"[A-Za-z0-9._-]{1,249}")


def _held(consumer: Consumer, topic: str, partitions: Iterable[int], timeout_s: float) -> int:
    """Messages the partitions of `topic` hold, by their watermarks."""
    total = 0
    for p in partitions:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout_s)
        total += max(0, high - low)
    return total


class PipelineError(Exception):
    """Kafka could not answer; the message says what was asked."""


@dataclass(frozen=True)
class TopicInfo:
    name: str
    partitions: int
    messages: int  # end minus start offsets: what the topic holds now


@dataclass(frozen=True)
class Browsed:
    partition: int
    offset: int
    timestamp: datetime | None
    key: str
    headers: list[tuple[str, str]]
    value: str


@dataclass(frozen=True)
class GroupLag:
    group: str
    state: str
    partitions: list[tuple[str, int, int, int]]  # topic, partition, committed, end

    @property
    def lag(self) -> int:
        return sum(max(0, end - committed) for _, _, committed, end in self.partitions)


def _text(data: bytes | str | None) -> str:
    if data is None:
        return ""
    if isinstance(data, str):
        return data
    return data.decode("utf-8", errors="replace")


def _pretty(data: bytes | None) -> str:
    text = _text(data)
    try:
        return json.dumps(json.loads(text), indent=2, sort_keys=True)
    except ValueError:
        return text


def _headers(headers: Any) -> list[tuple[str, str]]:
    return [(str(h[0]), _text(h[1])) for h in headers or []]


class Kafka:
    """Short-lived clients of one cluster for the pipeline page."""

    def __init__(self, bootstrap_servers: str) -> None:
        self.bootstrap_servers = bootstrap_servers

    def _consumer(self) -> Consumer:
        return Consumer(
            {
                "bootstrap.servers": self.bootstrap_servers,
                "group.id": f"streamguard-console-{uuid.uuid4().hex[:8]}",
                "enable.auto.commit": False,
                "isolation.level": "read_uncommitted",
                # The console never joins a group: it assigns partitions and commits nothing.
                "enable.partition.eof": True,
            }
        )

    def topics(self, *, include_internal: bool = False) -> list[TopicInfo]:
        consumer = self._consumer()
        try:
            metadata = consumer.list_topics(timeout=TIMEOUT_S)
            out = []
            for name, topic in sorted(metadata.topics.items()):
                if name.startswith("__") and not include_internal:
                    continue
                total = _held(consumer, name, topic.partitions, TIMEOUT_S)
                out.append(TopicInfo(name, len(topic.partitions), total))
            return out
        except KafkaException as exc:
            raise PipelineError(f"cannot list Kafka's topics: {exc.args[0].str()}") from None
        finally:
            consumer.close()

    def message_count(self, topic: str, timeout_s: float = TIMEOUT_S) -> int:
        """Messages `topic` holds (0 when there is no such topic)."""
        consumer = self._consumer()
        try:
            metadata = consumer.list_topics(topic, timeout=timeout_s).topics.get(topic)
            if metadata is None or metadata.error is not None:
                return 0
            return _held(consumer, topic, metadata.partitions, timeout_s)
        except KafkaException as exc:
            raise PipelineError(f"cannot read {topic!r}: {exc.args[0].str()}") from None
        finally:
            consumer.close()

    def last_messages(self, topic: str, count: int) -> list[Browsed]:
        """The last `count` messages of `topic` over all its partitions, newest first."""
        if not _TOPIC_NAME.fullmatch(topic):
            raise PipelineError(f"no topic named {topic!r} on Kafka: not a topic's name")
        consumer = self._consumer()
        try:
            metadata = consumer.list_topics(topic, timeout=TIMEOUT_S).topics.get(topic)
            if metadata is None or metadata.error is not None:
                raise PipelineError(f"no topic named {topic!r} on Kafka")
            starts: list[TopicPartition] = []
            ends: dict[int, int] = {}
            for p in metadata.partitions:
                low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), TIMEOUT_S)
                if high > low:
                    starts.append(TopicPartition(topic, p, max(low, high - count)))
                    ends[p] = high
            found: list[Browsed] = []
            if starts:
                consumer.assign(starts)
                found = self._read_until(consumer, ends)
        except KafkaException as exc:
            raise PipelineError(f"cannot read {topic!r}: {exc.args[0].str()}") from None
        finally:
            consumer.close()
        found.sort(key=lambda m: (m.timestamp or datetime.min.replace(tzinfo=UTC), m.offset))
        return list(reversed(found[-count:]))

    def _read_until(self, consumer: Consumer, ends: dict[int, int]) -> list[Browsed]:
        found: list[Browsed] = []
        done: set[int] = set()
        # Short waits: `consume` returns when it has its count or its time is up, and a page
        # asks for a few dozen messages, so one long wait made every topic page take a second.
        quiet_until = time.monotonic() + _QUIET_S
        while len(done) < len(ends) and time.monotonic() < quiet_until:
            batch = consumer.consume(500, timeout=0.05)
            if batch:
                quiet_until = time.monotonic() + _QUIET_S
            for message in batch:
                partition = int(message.partition() or 0)
                if message.error() is not None:
                    # The end of a partition, or an aborted transaction's gap.
                    done.add(partition)
                    continue
                offset = int(message.offset() or 0)
                if offset + 1 >= ends[partition]:
                    done.add(partition)
                kind, ms = message.timestamp()
                found.append(
                    Browsed(
                        partition,
                        offset,
                        datetime.fromtimestamp(ms / 1000, UTC) if kind and ms > 0 else None,
                        _text(message.key()),
                        _headers(message.headers()),
                        _pretty(message.value()),
                    )
                )
        return found

    def groups(self) -> list[GroupLag]:
        """Every consumer group with its committed offsets and lag per partition."""
        admin = AdminClient({"bootstrap.servers": self.bootstrap_servers})
        consumer = self._consumer()
        try:
            listed = admin.list_consumer_groups(request_timeout=TIMEOUT_S).result()
            out = []
            for listing in sorted(listed.valid, key=lambda g: g.group_id):
                request = [ConsumerGroupTopicPartitions(listing.group_id)]
                futures = admin.list_consumer_group_offsets(request, request_timeout=TIMEOUT_S)
                offsets = futures[listing.group_id].result()
                rows = []
                for tp in offsets.topic_partitions or []:
                    if tp.offset < 0:
                        continue
                    _, high = consumer.get_watermark_offsets(
                        TopicPartition(tp.topic, tp.partition), TIMEOUT_S
                    )
                    rows.append((tp.topic, tp.partition, tp.offset, high))
                state = getattr(listing.state, "name", str(listing.state))
                out.append(GroupLag(listing.group_id, state, sorted(rows)))
            return out
        except KafkaException as exc:
            raise PipelineError(f"cannot list consumer groups: {exc.args[0].str()}") from None
        finally:
            consumer.close()


@dataclass(frozen=True)
class KsqlSources:
    streams: list[dict[str, Any]]
    tables: list[dict[str, Any]]
    queries: list[dict[str, Any]]


def ksql_sources(client: KsqlClient) -> KsqlSources:
    """ksqlDB's streams, tables and queries (SHOW ...): raises KsqlError when it cannot say."""
    streams: list[dict[str, Any]] = []
    tables: list[dict[str, Any]] = []
    queries: list[dict[str, Any]] = []
    for entity in client.execute("SHOW STREAMS; SHOW TABLES; SHOW QUERIES;"):
        if isinstance(entity, StreamsList):
            streams = [s.model_dump() for s in entity.streams]
        elif isinstance(entity, TablesList):
            tables = [t.model_dump() for t in entity.tables]
        elif isinstance(entity, QueriesList):
            queries = [q.model_dump() for q in entity.queries]
    return KsqlSources(streams, tables, queries)
