"""Running persistent queries over Kafka, at least once: commit only what the sink has acked."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from functools import partial
from typing import Any

from confluent_kafka import Consumer, Producer, TopicPartition

from ksql_emulator.kafka.errors import KafkaLayerError
from ksql_emulator.kafka.messages import from_kafka, next_batch, producer_config
from ksql_emulator.runtime.message import Message
from ksql_emulator.server.engine_api import QueryTask

__all__ = ["QueryRunner", "consumer_group_id"]

log = logging.getLogger(__name__)

_TIMEOUT_S = 30.0
_OFFSET_BEGINNING = -2


def consumer_group_id(service_id: str, query_id: str) -> str:
    """ksqlDB's consumer group for a persistent query."""
    return f"_confluent-ksql-{service_id}query_{query_id}"


def _offset_reset(task: QueryTask, defaults: Mapping[str, str]) -> str:
    properties: Mapping[str, Any] = getattr(task, "properties", {}) or {}
    for source in (properties, defaults):
        for key in ("auto.offset.reset", "ksql.streams.auto.offset.reset"):
            value = source.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip().lower()
    return "latest"


class _RunningQuery:
    """One persistent query: a consumer in its group, a producer, and a thread."""

    def __init__(
        self,
        task: QueryTask,
        lookup: Callable[[], QueryTask | None],
        bootstrap: str,
        service_id: str,
        engine_lock: AbstractContextManager[Any],
        server_properties: Mapping[str, str],
        extra: Mapping[str, str],
    ) -> None:
        self.task = task
        # The engine may hand out a fresh wrapper per call, or replace the query (CREATE OR
        # REPLACE keeps its id): each batch goes to whatever task the id names now.
        self._lookup = lookup
        self._lock = engine_lock
        self._stop = threading.Event()
        # Below these offsets a restarted stateful query only rebuilds state: nothing is written.
        self._replay_until: dict[tuple[str, int], int] = {}
        self.error: BaseException | None = None
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": consumer_group_id(service_id, task.query_id),
                "enable.auto.commit": False,
                "auto.offset.reset": _offset_reset(task, server_properties),
                "fetch.wait.max.ms": 50,
                **extra,
            }
        )
        self._producer = Producer(producer_config(bootstrap, dict(extra)))
        self._thread = threading.Thread(
            target=self._run, name=f"query-{task.query_id}", daemon=True
        )

    def start(self) -> None:
        self._consumer.subscribe(list(self.task.source_topics), on_assign=self._on_assign)
        self._thread.start()

    def _on_assign(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        if not self.task.stateful:
            return
        committed = consumer.committed(partitions, timeout=_TIMEOUT_S)
        replay: list[TopicPartition] = []
        for tp in committed:
            if tp.offset is not None and tp.offset > 0:
                self._replay_until[(tp.topic, tp.partition)] = tp.offset
                replay.append(TopicPartition(tp.topic, tp.partition, _OFFSET_BEGINNING))
            else:
                replay.append(TopicPartition(tp.topic, tp.partition, tp.offset))
        if self._replay_until:
            log.info("query %s: rebuilding state from its sources", self.task.query_id)
            consumer.assign(replay)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                batch = next_batch(self._consumer, 500, 0.1)
                if batch:
                    self._process(batch)
        except Exception as exc:
            self.error = exc
            log.exception("query %s stopped on an error", self.task.query_id)
        finally:
            self._consumer.close()
            self._producer.flush(_TIMEOUT_S)

    def _process(self, batch: Sequence[Any]) -> None:
        outputs: list[Message] = []
        commit: dict[tuple[str, int], int] = {}
        with self._lock:
            task = self._lookup()
            if task is None:  # terminated meanwhile; reconcile will stop this thread
                self._stop.set()
                return
            for raw in batch:
                topic, partition, offset = raw.topic(), raw.partition(), raw.offset()
                if raw.error() is not None or topic is None or partition is None or offset is None:
                    continue
                produced = task.process(from_kafka(raw))
                if offset < self._replay_until.get((topic, partition), 0):
                    continue
                outputs.extend(produced)
                commit[(topic, partition)] = offset + 1
        self._write(outputs)
        if commit:
            self._consumer.commit(
                offsets=[TopicPartition(t, p, o) for (t, p), o in commit.items()],
                asynchronous=False,
            )

    def _write(self, outputs: Sequence[Message]) -> None:
        """Writes the sink messages and returns once every one is acked (raises otherwise)."""
        if not outputs:
            return
        failures: list[Any] = []

        def delivered(error: Any, _msg: Any) -> None:
            if error is not None:
                failures.append(error)

        for msg in outputs:
            while True:
                try:
                    self._producer.produce(
                        msg.topic,
                        key=msg.key,
                        value=msg.value,
                        timestamp=msg.timestamp,
                        headers=list(msg.headers) or None,
                        on_delivery=delivered,
                    )
                    break
                except BufferError:  # the local queue is full: let deliveries drain
                    self._producer.poll(0.1)
        remaining = self._producer.flush(_TIMEOUT_S)
        if remaining or failures:
            raise KafkaLayerError(
                f"query {self.task.query_id}: sink writes were not acknowledged "
                f"({failures[0] if failures else f'{remaining} pending'}); offsets not committed"
            )

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout_s: float = _TIMEOUT_S) -> None:
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout_s)


class QueryRunner:
    """Keeps one `_RunningQuery` per query the engine says should run (`reconcile`)."""

    def __init__(
        self,
        queries: Callable[[], Mapping[str, QueryTask]],
        bootstrap_servers: str,
        service_id: str,
        engine_lock: AbstractContextManager[Any],
        server_properties: Mapping[str, str] | None = None,
        client_config: Mapping[str, str] | None = None,
    ) -> None:
        self._queries = queries
        self._bootstrap = bootstrap_servers
        self._service_id = service_id
        self._lock = engine_lock
        self._properties = dict(server_properties or {})
        self._extra = dict(client_config or {})
        self._running: dict[str, _RunningQuery] = {}
        self._guard = threading.Lock()

    def reconcile(self) -> None:
        """Starts new queries and stops removed ones; never waits for a query thread (the
        caller may hold the engine lock a query thread is waiting for)."""
        with self._lock:
            wanted = dict(self._queries())
        with self._guard:
            for query_id in list(self._running):
                if query_id not in wanted:
                    self._running.pop(query_id).stop()
            for query_id, task in wanted.items():
                if query_id not in self._running:
                    running = _RunningQuery(
                        task,
                        partial(self._current, query_id),
                        self._bootstrap,
                        self._service_id,
                        self._lock,
                        self._properties,
                        self._extra,
                    )
                    running.start()
                    self._running[query_id] = running

    def _current(self, query_id: str) -> QueryTask | None:
        """The task the engine has under `query_id` now (called under the engine lock)."""
        return self._queries().get(query_id)

    def errors(self) -> dict[str, BaseException]:
        """The queries that stopped on an error, by id."""
        with self._guard:
            return {qid: q.error for qid, q in self._running.items() if q.error is not None}

    def close(self) -> None:
        with self._guard:
            running = list(self._running.values())
            self._running.clear()
        for query in running:
            query.stop()
        for query in running:
            query.join()
