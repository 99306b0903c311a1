"""Running persistent queries over Kafka: the engine's queries reconciled into stream threads.

Queries that share a processing guarantee and commit interval run in one `StreamThread` (see
`stream_thread`): one consumer, one producer and one commit for all of them. Partitions are
assigned, not subscribed: one server owns its queries, and a restart need not wait out the dead
instance's session in a group rebalance. Stateful queries resume their state on start: from
their stores' changelogs, or, when some state lives outside stores, by replaying their sources
with sink writes suppressed up to the committed offsets.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from functools import partial
from typing import Any

from confluent_kafka import Consumer, KafkaException, TopicPartition

from ksql_emulator.contracts.backend import QueryTask
from ksql_emulator.kafka.errors import KafkaLayerError
from ksql_emulator.kafka.gateway import ConfluentGateway
from ksql_emulator.kafka.messages import watermarks
from ksql_emulator.kafka.output import is_exactly_once, processing_guarantee
from ksql_emulator.kafka.stream_thread import (
    Member,
    QuerySettings,
    StreamThread,
    consumer_group_id,
    forget_positions,
    setting,
    source_partitions,
)

__all__ = ["QueryRunner", "consumer_group_id"]

log = logging.getLogger(__name__)

_TIMEOUT_S = 30.0
# Kafka Streams' internal topics of a query, named `<consumer group>-<name><suffix>`.
_INTERNAL_SUFFIXES = ("-changelog", "-repartition")
# Kafka Streams' default commit interval under exactly-once: the latency a downstream reader
# sees, since read_committed readers see a record only once its transaction commits.
_EXACTLY_ONCE_INTERVAL_MS = 100
# Kafka Streams' default under at-least-once is 30 s; records are visible as soon as they are
# written, so the interval only bounds how much a crash repeats.
_AT_LEAST_ONCE_INTERVAL_MS = 1000


class QueryRunner:
    """Keeps every query the engine says should run (`reconcile`) in a stream thread."""

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
        self._lock = engine_lock
        extra = dict(client_config or {})
        properties = dict(server_properties or {})
        self._settings = QuerySettings(
            bootstrap=bootstrap_servers,
            service_id=service_id,
            engine_lock=engine_lock,
            server_properties=properties,
            extra=extra,
            gateway=_LazyGateway(bootstrap_servers, extra),
            replication=int(properties.get("ksql.internal.topic.replicas", "1")),
        )
        self._threads: dict[tuple[bool, int], StreamThread] = {}
        self._running: dict[str, tuple[StreamThread, Member]] = {}
        self._snapshot: Mapping[str, QueryTask] = {}
        self._cleaning: dict[str, threading.Thread] = {}
        self._guard = threading.Lock()

    def reconcile(self) -> None:
        """Starts new queries and stops removed ones; never waits for a stream thread (the
        caller may hold the engine lock a stream thread is waiting for)."""
        with self._lock:
            wanted = dict(self._queries())
        # Every statement that adds, pauses, resumes or drops a query is followed by a
        # reconcile before its answer goes out, so stream threads can read this snapshot
        # for each batch instead of asking the engine to rebuild every task.
        self._snapshot = wanted
        with self._guard:
            for query_id in list(self._running):
                task = wanted.get(query_id)
                if task is None or _generation(task) != _generation(
                    self._running[query_id][1].task
                ):
                    thread, member = self._running.pop(query_id)
                    left = thread.remove(query_id)
                    cleaner = threading.Thread(
                        target=self._clean_up,
                        args=(member, left),
                        name=f"drop-{query_id}",
                        daemon=True,
                    )
                    cleaner.start()
                    self._cleaning[query_id] = cleaner
            for query_id in [q for q, t in self._cleaning.items() if not t.is_alive()]:
                del self._cleaning[query_id]
            for query_id, task in wanted.items():
                if query_id not in self._running:
                    self._start(query_id, task)

    def _start(self, query_id: str, task: QueryTask) -> None:
        props: Mapping[str, Any] = getattr(task, "properties", {}) or {}
        server = self._settings.server_properties
        exactly_once = is_exactly_once(processing_guarantee(props, server))
        default = _EXACTLY_ONCE_INTERVAL_MS if exactly_once else _AT_LEAST_ONCE_INTERVAL_MS
        interval_ms = int(setting("commit.interval.ms", props, server) or default)
        reset = (setting("auto.offset.reset", props, server) or "latest").lower()
        member = Member(
            task=task,
            lookup=partial(self._current, query_id),
            reset=reset,
            after=self._cleaning.get(query_id),
            latest=self._ends(task) if reset == "latest" else None,
        )
        key = (exactly_once, interval_ms)
        thread = self._threads.get(key)
        if thread is None:
            name = f"{'eos' if exactly_once else 'alos'}-{interval_ms}"
            thread = StreamThread(
                name, self._settings, exactly_once=exactly_once, interval_s=interval_ms / 1000
            )
            thread.start()
            self._threads[key] = thread
        thread.add(member)
        self._running[query_id] = (thread, member)

    def _ends(self, task: QueryTask) -> dict[tuple[str, int], int] | None:
        """Each source partition's end now: called as the query is created, before its
        statement is answered, so "latest" never skips a record written after that answer."""
        group = consumer_group_id(self._settings.service_id, task.query_id)
        consumer = Consumer(
            {
                "bootstrap.servers": self._settings.bootstrap,
                "group.id": group,
                **self._settings.extra,
            }
        )
        try:
            metadata = consumer.list_topics(timeout=_TIMEOUT_S)
            partitions, missing = source_partitions(metadata, task.source_topics)
            if missing:
                return None  # the thread waits for the topics and reads their ends then
            return {
                key: watermarks(consumer, TopicPartition(*key), _TIMEOUT_S)[1] for key in partitions
            }
        except (KafkaException, KafkaLayerError):
            return None
        finally:
            consumer.close()

    def _current(self, query_id: str) -> QueryTask | None:
        """The task the engine had under `query_id` at the last reconcile."""
        return self._snapshot.get(query_id)

    def errors(self) -> dict[str, BaseException]:
        """The queries that stopped on an error, by id."""
        with self._guard:
            running = dict(self._running)
        return {q: m.error for q, (_t, m) in running.items() if m.error is not None}

    def committed(self, query_id: str) -> dict[tuple[str, int], int]:
        """A running query's committed position in each source partition (empty when it is
        not running): where it would resume, known here before its consumer group hears it."""
        with self._guard:
            running = self._running.get(query_id)
        return dict(running[1].committed) if running is not None else {}

    def _clean_up(self, member: Member, left: threading.Event) -> None:
        """ksqlDB's query cleanup, once the stream thread has let go of the terminated query:
        its consumer group and positions, so that a new query under the same id starts from
        `auto.offset.reset`, not where this one stopped, and its changelogs and other internal
        topics."""
        left.wait(_TIMEOUT_S)
        query_id = member.query_id
        gateway = self._settings.gateway.get()
        group = consumer_group_id(self._settings.service_id, query_id)
        try:
            gateway.delete_consumer_group(group)
        except KafkaLayerError as exc:  # ksqlDB logs a failed cleanup and goes on, too
            log.warning("query %s: %s", query_id, exc)
        try:
            forget_positions(self._settings, query_id)
        except (KafkaException, KafkaLayerError) as exc:
            log.warning("query %s: could not forget its positions: %s", query_id, exc)
        deleted: set[str] = set()
        if member.state is not None:
            member.state.delete()
            deleted = set(member.state.topics.values())
        for topic in gateway.list_topics():
            name = topic.name
            if name.startswith(f"{group}-") and name.endswith(_INTERNAL_SUFFIXES):
                if name in deleted:
                    continue
                try:
                    gateway.delete_topic(name)
                except KafkaLayerError as exc:
                    log.warning("query %s: %s", query_id, exc)

    def close(self) -> None:
        with self._guard:
            threads = list(self._threads.values())
            self._threads.clear()
            self._running.clear()
        for thread in threads:
            thread.stop()
        for thread in threads:
            thread.join()
        self._settings.gateway.close()


def _generation(task: QueryTask) -> int:
    return int(getattr(task, "generation", 0))


class _LazyGateway:
    """A gateway made on first use."""

    def __init__(self, bootstrap: str, extra: Mapping[str, str]) -> None:
        self._args = (bootstrap, dict(extra))
        self._gateway: ConfluentGateway | None = None
        self._guard = threading.Lock()

    def get(self) -> ConfluentGateway:
        with self._guard:
            if self._gateway is None:
                self._gateway = ConfluentGateway(*self._args)
            return self._gateway

    def close(self) -> None:
        with self._guard:
            if self._gateway is not None:
                self._gateway.close()
