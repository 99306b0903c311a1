"""Running persistent queries over Kafka: the engine's queries reconciled into stream threads.

Queries that share a processing guarantee and commit interval run in one `StreamThread` (see
`stream_thread`): one consumer, one producer and one commit for all of them. Partitions are
assigned, not subscribed: one server owns its queries, and a restart need not wait out the dead
instance's session in a group rebalance. Stateful queries resume their state on start: from
their stores' changelogs, or, when some state lives outside stores, by replaying their sources
with sink writes suppressed up to the committed offsets.

A server may run its queries in more than one process (`RemoteHosts`, which `app` provides):
one Python process runs one record at a time, however many cores the machine has. Each query
is placed once, on the host whose queries weigh least (a stateful query weighs more), and keeps
that host while this runner lives, so a query created again under its id meets the cleanup of
its previous run in the same place.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from functools import partial
from typing import Any, Protocol

from confluent_kafka import Consumer, KafkaException, TopicPartition

from ksql_emulator.contracts.backend import QueryTask, task_generation, task_paused
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

__all__ = ["Positions", "QueryRunner", "RemoteHosts", "consumer_group_id"]

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
# How much a query weighs in placement: a stateful one keeps and logs state for every record.
_STATEFUL_WEIGHT = 3

# Offsets by (topic, partition).
Positions = dict[tuple[str, int], int]


class RemoteHosts(Protocol):
    """Processes besides this one that run persistent queries, numbered from 1 (this one is 0).

    A host runs the query it is told to once its own engine, which follows the command topic,
    holds that query's generation; `latest` is where a query reading from "latest" starts."""

    @property
    def count(self) -> int:
        """How many hosts there are besides this process."""
        ...

    def run(
        self, host: int, query_id: str, generation: int, latest: Positions | None, paused: bool
    ) -> None: ...

    def stop(self, host: int, query_id: str) -> None: ...

    def pause(self, host: int, query_id: str, paused: bool) -> None: ...

    def sync(self, hosts: set[int]) -> None:
        """Returns once `hosts` have acted on every message before this call: a query stopped
        or paused there processes nothing more, as one here would not."""
        ...

    def committed(self, query_id: str) -> Positions: ...


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
        *,
        remote: RemoteHosts | None = None,
        latest: Callable[[QueryTask], Positions | None] | None = None,
        thread_suffix: str = "",
    ) -> None:
        """`remote`: other processes to place queries on. `latest`: where a query that reads
        from "latest" starts, when another process decided it (default: the sources' ends
        now). `thread_suffix` tells this process's stream threads, and so their transactional
        ids, from another process's."""
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
        self._remote = remote
        self._latest = latest or self._ends
        self._thread_suffix = thread_suffix
        self._threads: dict[tuple[bool, int], StreamThread] = {}
        self._running: dict[str, tuple[StreamThread, Member]] = {}
        # Queries other processes run: id -> (host, generation, weight, paused).
        self._elsewhere: dict[str, tuple[int, int, int, bool]] = {}
        self._placement: dict[str, int] = {}
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
                if task is None or task_generation(task) != task_generation(
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
            if self._remote is not None:
                self._reconcile_elsewhere(self._remote, wanted)
            for query_id, task in wanted.items():
                if query_id in self._running or query_id in self._elsewhere:
                    continue
                host = self._place(query_id, task)
                if host == 0 or self._remote is None:
                    self._start(query_id, task)
                    continue
                latest = self._latest(task) if self._reset(task) == "latest" else None
                paused = task_paused(task)
                self._remote.run(host, query_id, task_generation(task), latest, paused)
                self._elsewhere[query_id] = (host, task_generation(task), _weight(task), paused)

    def _reconcile_elsewhere(self, remote: RemoteHosts, wanted: Mapping[str, QueryTask]) -> None:
        """Stops and pauses queries in other processes, as the engine says, before the
        statement that did it is answered (local members see the snapshot as soon as it is
        taken)."""
        touched: set[int] = set()
        for query_id, (host, generation, weight, paused) in list(self._elsewhere.items()):
            task = wanted.get(query_id)
            if task is None or task_generation(task) != generation:
                remote.stop(host, query_id)
                del self._elsewhere[query_id]
                touched.add(host)
            elif task_paused(task) != paused:
                remote.pause(host, query_id, not paused)
                self._elsewhere[query_id] = (host, generation, weight, not paused)
                touched.add(host)
        if touched:
            remote.sync(touched)

    def _place(self, query_id: str, task: QueryTask) -> int:
        """The host of a query: where its id ran before, else the least loaded (this process
        on a tie)."""
        host = self._placement.get(query_id)
        if host is None:
            hosts = 1 + (self._remote.count if self._remote is not None else 0)
            load = [0] * hosts
            for _thread, member in self._running.values():
                load[0] += _weight(member.task)
            for where, _generation, weight, _paused in self._elsewhere.values():
                load[where] += weight
            host = self._placement[query_id] = min(range(hosts), key=load.__getitem__)
        return host

    def _reset(self, task: QueryTask) -> str:
        props: Mapping[str, Any] = getattr(task, "properties", {}) or {}
        server = self._settings.server_properties
        return (setting("auto.offset.reset", props, server) or "latest").lower()

    def _start(self, query_id: str, task: QueryTask) -> None:
        props: Mapping[str, Any] = getattr(task, "properties", {}) or {}
        server = self._settings.server_properties
        exactly_once = is_exactly_once(processing_guarantee(props, server))
        default = _EXACTLY_ONCE_INTERVAL_MS if exactly_once else _AT_LEAST_ONCE_INTERVAL_MS
        interval_ms = int(setting("commit.interval.ms", props, server) or default)
        reset = self._reset(task)
        member = Member(
            task=task,
            lookup=partial(self._current, query_id),
            reset=reset,
            after=self._cleaning.get(query_id),
            latest=self._latest(task) if reset == "latest" else None,
        )
        key = (exactly_once, interval_ms)
        thread = self._threads.get(key)
        if thread is None:
            name = f"{'eos' if exactly_once else 'alos'}-{interval_ms}{self._thread_suffix}"
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

    def committed(self, query_id: str) -> Positions:
        """A running query's committed position in each source partition (empty when it is
        not running): where it would resume, known here before its consumer group hears it."""
        with self._guard:
            running = self._running.get(query_id)
            elsewhere = query_id in self._elsewhere
        if elsewhere and self._remote is not None:
            return self._remote.committed(query_id)
        return dict(running[1].committed) if running is not None else {}

    def hosts(self) -> dict[str, int]:
        """Where each running query runs: 0 for this process, else its remote host."""
        with self._guard:
            here = dict.fromkeys(self._running, 0)
            return here | {q: where[0] for q, where in self._elsewhere.items()}

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


def _weight(task: QueryTask) -> int:
    return _STATEFUL_WEIGHT if task.stateful else 1


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
