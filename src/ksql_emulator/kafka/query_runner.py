"""Running persistent queries over Kafka: one consumer, one producer and one thread per query.

A query's thread consumes its source partitions (assigned, not subscribed: one server owns a
query, and a restart need not wait out the dead instance's session in a group rebalance), runs
each batch through the engine, and commits every `commit.interval.ms` (see `output` for what a
commit guarantees). Stateful queries resume their state on start: from their stores'
changelogs, or, when some state lives outside stores, by replaying their sources with sink
writes suppressed up to the committed offsets.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from functools import partial
from typing import Any

from ksql_emulator.contracts.backend import QueryTask
from ksql_emulator.kafka.errors import KafkaLayerError
from ksql_emulator.kafka.gateway import ConfluentGateway
from ksql_emulator.kafka.query_loop import QueryLoop, QuerySettings, consumer_group_id

__all__ = ["QueryRunner", "consumer_group_id"]

log = logging.getLogger(__name__)

_TIMEOUT_S = 30.0
# Kafka Streams' internal topics of a query, named `<consumer group>-<name><suffix>`.
_INTERNAL_SUFFIXES = ("-changelog", "-repartition")


class _RunningQuery:
    """A query's thread: runs its `QueryLoop`, restarting it after a failed commit."""

    def __init__(
        self,
        task: QueryTask,
        lookup: Callable[[], QueryTask | None],
        settings: QuerySettings,
        after: threading.Thread | None = None,
    ) -> None:
        self.task = task
        self._lookup = lookup
        self._settings = settings
        # A query re-created under a fixed QUERY_ID waits until its predecessor's changelogs
        # are gone, or it would restore (or lose) the old query's state.
        self._after = after
        self._stop = threading.Event()
        self._first: QueryLoop | None = QueryLoop(task, lookup, settings, self._stop)
        self._first.snapshot_ends()
        self.error: BaseException | None = None
        self.loop: QueryLoop | None = None
        self._thread = threading.Thread(
            target=self._run, name=f"query-{task.query_id}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        if self._after is not None:
            self._after.join()
        failures = 0
        while not self._stop.is_set():
            loop, self._first = self._first, None
            try:
                if loop is None:
                    loop = QueryLoop(self.task, self._lookup, self._settings, self._stop)
                self.loop = loop
                loop.run()
                return
            except Exception as exc:
                # Failures in a row count: a run that got work committed starts the count anew.
                failures = 1 if loop is not None and loop.commits else failures + 1
                # State outside stores cannot be rolled back to the last commit: stop there.
                recoverable = loop is not None and loop.recoverable
                if not recoverable or failures > self._settings.max_restarts:
                    self.error = exc
                    log.exception("query %s stopped on an error", self.task.query_id)
                    return
                log.warning("query %s: %s; resuming from its last commit", self.task.query_id, exc)
                self._stop.wait(min(5.0, 0.5 * failures))
            finally:
                if loop is not None:
                    loop.close()
        if self._first is not None:  # stopped before it ran
            self._first.close()

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
        self._running: dict[str, _RunningQuery] = {}
        self._cleaning: dict[str, threading.Thread] = {}
        self._guard = threading.Lock()

    def reconcile(self) -> None:
        """Starts new queries and stops removed ones; never waits for a query thread (the
        caller may hold the engine lock a query thread is waiting for)."""
        with self._lock:
            wanted = dict(self._queries())
        with self._guard:
            for query_id in list(self._running):
                task = wanted.get(query_id)
                if task is None or _generation(task) != _generation(self._running[query_id].task):
                    removed = self._running.pop(query_id)
                    removed.stop()
                    cleaner = threading.Thread(
                        target=_clean_up,
                        args=(removed, self._settings),
                        name=f"drop-{query_id}",
                        daemon=True,
                    )
                    cleaner.start()
                    self._cleaning[query_id] = cleaner
            for query_id in [q for q, t in self._cleaning.items() if not t.is_alive()]:
                del self._cleaning[query_id]
            for query_id, task in wanted.items():
                if query_id not in self._running:
                    running = _RunningQuery(
                        task,
                        partial(self._current, query_id),
                        self._settings,
                        self._cleaning.get(query_id),
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
        self._settings.gateway.close()


class _LazyGateway:
    """A gateway made on first use: most queries keep no changelog and never need one."""

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


def _generation(task: QueryTask) -> int:
    return int(getattr(task, "generation", 0))


def _clean_up(query: _RunningQuery, settings: QuerySettings) -> None:
    """ksqlDB's query cleanup, once the terminated query's thread has let go: its consumer
    group, so that a new query under the same id starts from `auto.offset.reset`, not where
    this one stopped, and its changelogs and other internal topics."""
    query.join()
    gateway = settings.gateway.get()
    group = consumer_group_id(settings.service_id, query.task.query_id)
    try:
        gateway.delete_consumer_group(group)
    except KafkaLayerError as exc:  # ksqlDB logs a failed cleanup and goes on, too
        log.warning("query %s: %s", query.task.query_id, exc)
    if query.loop is not None and query.loop.state is not None:
        query.loop.state.delete()
        deleted = set(query.loop.state.topics.values())
    else:
        deleted = set()
    for topic in gateway.list_topics():
        name = topic.name
        if (
            name.startswith(f"{group}-")
            and name.endswith(_INTERNAL_SUFFIXES)
            and name not in deleted
        ):
            try:
                gateway.delete_topic(name)
            except KafkaLayerError as exc:
                log.warning("query %s: %s", query.task.query_id, exc)
