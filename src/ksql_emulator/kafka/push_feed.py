"""Feeding transient push queries from their source topics, one consumer and thread each."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from ksql_emulator.contracts.backend import PushQuery, Row
from ksql_emulator.contracts.hosting import RowSink
from ksql_emulator.kafka.errors import KafkaLayerError
from ksql_emulator.kafka.messages import from_kafka, next_batch, watermarks

__all__ = ["KafkaPushFeeder", "PushFeed"]

log = logging.getLogger(__name__)

_TIMEOUT_S = 30.0


class PushFeed:
    """One push query's feed. Its start offsets are fixed before `start` returns, so "latest"
    means "after the query was accepted", never a moment later."""

    def __init__(
        self,
        query: PushQuery,
        offset_reset: str,
        sink: RowSink,
        consumer: Consumer,
        engine_lock: AbstractContextManager[Any],
    ) -> None:
        self._query = query
        self._sink = sink
        self._consumer = consumer
        self._lock = engine_lock
        self._stop = threading.Event()
        self._consumer.assign(self._start_positions(offset_reset))
        self._thread = threading.Thread(
            target=self._run, name=f"push-{query.header.query_id}", daemon=True
        )
        self._thread.start()

    def _start_positions(self, offset_reset: str) -> list[TopicPartition]:
        positions: list[TopicPartition] = []
        for name in self._query.source_topics:
            topic = self._consumer.list_topics(timeout=_TIMEOUT_S).topics.get(name)
            if topic is None or topic.error is not None or not topic.partitions:
                raise KafkaLayerError(f"Kafka topic does not exist: {name}")
            for partition in sorted(topic.partitions):
                low, high = watermarks(self._consumer, TopicPartition(name, partition), _TIMEOUT_S)
                start = low if offset_reset == "earliest" else high
                positions.append(TopicPartition(name, partition, start))
        return positions

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                batch = next_batch(self._consumer, 200, 0.1)
                rows: list[Row] = []
                with self._lock:
                    for raw in batch:
                        if raw.error() is not None:
                            continue
                        rows.extend(self._query.process(from_kafka(raw)))
                if rows and not self._sink.put(rows):
                    return
        except Exception as exc:
            log.exception("push query %s failed", self._query.header.query_id)
            self._sink.fail(exc)
        finally:
            self._consumer.close()

    def stop(self) -> None:
        self._stop.set()
        if threading.current_thread() is not self._thread:
            self._thread.join(_TIMEOUT_S)


class KafkaPushFeeder:
    """`server._state.PushFeeder` over real Kafka."""

    def __init__(
        self,
        bootstrap_servers: str,
        service_id: str,
        engine_lock: AbstractContextManager[Any],
        client_config: Mapping[str, str] | None = None,
    ) -> None:
        self._bootstrap = bootstrap_servers
        self._service_id = service_id
        self._lock = engine_lock
        self._extra = dict(client_config or {})

    def start(self, query: PushQuery, offset_reset: str, sink: RowSink) -> PushFeed:
        consumer = Consumer(
            {
                "bootstrap.servers": self._bootstrap,
                # Never committed: a transient query reads from where it was told each time.
                "group.id": f"_confluent-ksql-{self._service_id}transient_"
                f"{query.header.query_id}_{uuid.uuid4().hex[:8]}",
                "enable.auto.commit": False,
                "fetch.wait.max.ms": 50,
                **self._extra,
            }
        )
        try:
            return PushFeed(query, offset_reset, sink, consumer, self._lock)
        except Exception:
            consumer.close()
            raise
