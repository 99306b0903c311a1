"""One run of a persistent query: set up (fence, restore, position), then consume-process-commit.

A run ends when the query is stopped (committing what it processed) or on an error (the caller
starts a new run, which resumes from the last commit).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition

from ksql_emulator.contracts.backend import QueryTask
from ksql_emulator.contracts.message import Message
from ksql_emulator.kafka.changelog import QueryState
from ksql_emulator.kafka.errors import KafkaLayerError
from ksql_emulator.kafka.gateway import ConfluentGateway
from ksql_emulator.kafka.messages import from_kafka, next_batch, watermarks
from ksql_emulator.kafka.output import (
    AtLeastOnceOutput,
    ExactlyOnceOutput,
    QueryOutput,
    is_exactly_once,
    processing_guarantee,
)
from ksql_emulator.metrics import QueryMetrics

__all__ = ["QueryLoop", "QuerySettings", "consumer_group_id"]

log = logging.getLogger(__name__)

_TIMEOUT_S = 30.0
_BATCH = 1000
_TOPIC_WAIT_S = 60.0
_IDLE_COMMIT_S = 1.0
# How often a running query asks whether it was paused, and a paused one whether resumed.
_PAUSE_CHECK_S = 0.2


@dataclass(frozen=True)
class QuerySettings:
    """What every query of a server shares."""

    bootstrap: str
    service_id: str
    engine_lock: AbstractContextManager[Any]
    server_properties: Mapping[str, str]
    extra: Mapping[str, str]
    gateway: _GatewaySource
    replication: int = 1
    max_restarts: int = 5


class _GatewaySource(Protocol):
    def get(self) -> ConfluentGateway: ...

    def close(self) -> None: ...


def consumer_group_id(service_id: str, query_id: str) -> str:
    """ksqlDB's consumer group (and, here, transactional id) for a persistent query."""
    return f"_confluent-ksql-{service_id}query_{query_id}"


def _setting(key: str, *sources: Mapping[str, Any]) -> str | None:
    for source in sources:
        for name in (key, f"ksql.streams.{key}"):
            value = source.get(name)
            if value is not None and str(value).strip():
                return str(value).strip()
    return None


class QueryLoop:
    def __init__(
        self,
        task: QueryTask,
        lookup: Callable[[], QueryTask | None],
        settings: QuerySettings,
        stop: threading.Event,
    ) -> None:
        self.task = task
        self._lookup = lookup
        self._settings = settings
        self._lock = settings.engine_lock
        self._stop = stop
        props: Mapping[str, Any] = getattr(task, "properties", {}) or {}
        server = settings.server_properties
        self.exactly_once = is_exactly_once(processing_guarantee(props, server))
        # Kafka Streams' default under exactly-once: the latency a downstream reader sees.
        self._interval_s = int(_setting("commit.interval.ms", props, server) or 100) / 1000
        self._group = consumer_group_id(settings.service_id, task.query_id)
        self.state: QueryState | None = None
        self._processed = False
        self.commits = 0
        self._replay_until: dict[tuple[str, int], int] = {}
        self._committed: dict[tuple[str, int], int] = {}
        self._assigned: list[TopicPartition] = []
        self._reset = (_setting("auto.offset.reset", props, server) or "latest").lower()
        self._consumer = Consumer(
            {
                "bootstrap.servers": settings.bootstrap,
                "group.id": self._group,
                "enable.auto.commit": False,
                "auto.offset.reset": self._reset,
                # Never a record of an aborted transaction (an upstream query's failed commit).
                "isolation.level": "read_committed",
                "fetch.wait.max.ms": 50,
                **settings.extra,
            }
        )
        self._output: QueryOutput | None = None
        self._latest: dict[tuple[str, int], int] | None = None
        self._metrics = QueryMetrics(task.query_id)

    # --- setting up ---------------------------------------------------------------------------

    def _open_output(self) -> QueryOutput:
        s = self._settings
        # Windowed sinks are partitioned by the key without its window, as Kafka Streams does.
        windowed: Mapping[str, int] = getattr(self.task, "windowed_sinks", {})
        if self.exactly_once:
            return ExactlyOnceOutput(s.bootstrap, s.extra, self._group, self._consumer, windowed)
        return AtLeastOnceOutput(s.bootstrap, s.extra, self._consumer, windowed)

    def _restore_state(self) -> None:
        """Restores the query's stores from their changelogs when they hold all its state."""
        names: dict[str, Any] = {}
        with self._lock:
            task = self._lookup() or self.task
            bind = getattr(task, "bind_stores", None)
            complete = bind is not None and task.stateful and bind(names.setdefault)
        if not (complete and names):
            return
        s = self._settings
        state = QueryState(
            s.gateway.get(), s.bootstrap, s.extra, s.service_id, self.task.query_id, s.replication
        )
        for name, store in names.items():
            state.wrap(name, store)
        started = time.monotonic()
        applied = state.restore()
        log.info(
            "query %s: restored %d state entries in %.1fs",
            self.task.query_id,
            applied,
            time.monotonic() - started,
        )
        with self._lock:
            task = self._lookup() or self.task
            task.bind_stores(state.wrap)  # type: ignore[attr-defined]
        self.state = state

    @property
    def recoverable(self) -> bool:
        """Whether a failed run can be resumed from the last commit: not once state that lives
        outside stores (which cannot be rolled back) has seen a record."""
        return not self.task.stateful or self.state is not None or not self._processed

    def _partitions(self, wait_s: float = _TOPIC_WAIT_S) -> list[TopicPartition]:
        deadline = time.monotonic() + wait_s
        while True:
            metadata = self._consumer.list_topics(timeout=_TIMEOUT_S)
            partitions: list[TopicPartition] = []
            missing = []
            for name in self.task.source_topics:
                topic = metadata.topics.get(name)
                if topic is None or topic.error is not None or not topic.partitions:
                    missing.append(name)
                    continue
                partitions += [TopicPartition(name, p) for p in sorted(topic.partitions)]
            if not missing:
                return partitions
            if time.monotonic() > deadline or self._stop.is_set():
                raise KafkaLayerError(f"source topics do not exist: {', '.join(missing)}")
            self._stop.wait(0.5)

    def snapshot_ends(self) -> None:
        """Fixes "latest" as each source partition's end now: called as the query is created,
        before its statement is answered, so a record written after that answer is never
        skipped (fencing and restoring come first in the run and may take seconds)."""
        if self._reset != "latest":
            return
        try:
            self._latest = self._ends(self._partitions(wait_s=0))
        except (KafkaException, KafkaLayerError):  # the run waits for the topics and retries
            return

    def _ends(self, partitions: list[TopicPartition]) -> dict[tuple[str, int], int]:
        if self._reset != "latest":
            return {}
        ends = {}
        for tp in partitions:
            _low, high = watermarks(self._consumer, tp, _TIMEOUT_S)
            ends[(tp.topic, tp.partition)] = high
        return ends

    def _assign(self, partitions: list[TopicPartition], ends: dict[tuple[str, int], int]) -> None:
        committed = self._consumer.committed(partitions, timeout=_TIMEOUT_S)
        positions: list[TopicPartition] = []
        for tp in committed:
            if tp.error is not None:
                raise KafkaLayerError(f"could not read committed offsets of {tp.topic}: {tp.error}")
            self._committed[(tp.topic, tp.partition)] = tp.offset
            if self.task.stateful and self.state is None and tp.offset > 0:
                # State outside stores is rebuilt from the start; what was written stays unsent.
                self._replay_until[(tp.topic, tp.partition)] = tp.offset
                positions.append(TopicPartition(tp.topic, tp.partition, OFFSET_BEGINNING))
            elif tp.offset < 0 and (tp.topic, tp.partition) in ends:
                end = ends[(tp.topic, tp.partition)]
                positions.append(TopicPartition(tp.topic, tp.partition, end))
            else:
                positions.append(tp)  # no commit yet: auto.offset.reset decides
        if self._replay_until:
            log.info("query %s: rebuilding state from its sources", self.task.query_id)
        self._consumer.assign(positions)
        self._assigned = [TopicPartition(tp.topic, tp.partition) for tp in positions]

    # --- running --------------------------------------------------------------------------------

    def run(self) -> None:
        # The producer first: its fencing aborts a dead instance's transaction, which the
        # changelogs and committed offsets must not reflect when they are read next.
        partitions = self._partitions()
        ends = self._latest if self._latest is not None else self._ends(partitions)
        self._output = self._open_output()
        self._restore_state()
        self._assign(partitions, ends)
        deadline: float | None = None
        idle_check = time.monotonic() + _IDLE_COMMIT_S
        pause_check = 0.0
        paused = False
        while not self._stop.is_set():
            if time.monotonic() >= pause_check:
                pause_check = time.monotonic() + _PAUSE_CHECK_S
                if self._paused():
                    # PAUSE: what was processed is committed and nothing more is read; the
                    # consumer keeps its position, so RESUME goes on from exactly there.
                    if not paused:
                        log.info("query %s: paused", self.task.query_id)
                        self._commit()
                        deadline, paused = None, True
                    self._stop.wait(_PAUSE_CHECK_S)
                    pause_check = 0.0
                    continue
                if paused:
                    log.info("query %s: resumed", self.task.query_id)
                paused = False
            wait = 0.1 if deadline is None else max(0.0, deadline - time.monotonic())
            batch = next_batch(self._consumer, _BATCH, wait)
            now = time.monotonic()
            if batch:
                started = time.perf_counter()
                sent = self._process(batch)
                self._metrics.batch(len(batch), sent, time.perf_counter() - started)
                if deadline is None:
                    deadline = now + self._interval_s
            if deadline is not None and (not batch or now >= deadline):
                self._commit()
                deadline = None
            elif deadline is None and now >= idle_check:
                # Positions also move past transaction markers, which no batch shows.
                self._commit()
                idle_check = now + _IDLE_COMMIT_S
        self._commit()

    def _rewind(self, batch: list[Any]) -> None:
        """Puts the consumer back before `batch`, so the records are read again on RESUME."""
        first: dict[tuple[str, int], int] = {}
        for raw in batch:
            if raw.error() is None:
                first.setdefault((raw.topic(), raw.partition()), raw.offset())
        for (topic, partition), offset in first.items():
            self._consumer.seek(TopicPartition(topic, partition, offset))

    def _paused(self) -> bool:
        with self._lock:
            task = self._lookup()
        return bool(getattr(task, "paused", False))

    def _process(self, batch: list[Any]) -> int:
        """Runs a batch through the query and sends what it produced; returns how many."""
        outputs: list[Message] = []
        replaying = bool(self._replay_until)
        with self._lock:
            task = self._lookup()
            if task is None:  # terminated meanwhile; reconcile stops this thread
                self._stop.set()
                return 0
            if getattr(task, "paused", False):
                # Paused since the batch was read: PAUSE holds from the moment it returned.
                self._rewind(batch)
                return 0
            if self.state is not None:
                task.bind_stores(self.state.wrap)  # type: ignore[attr-defined]
            self._processed = True
            for raw in batch:
                error = raw.error()
                if error is not None:
                    if error.code() != KafkaError._PARTITION_EOF:
                        log.warning("query %s: consumer error %s", task.query_id, error)
                    continue
                produced = task.process(from_kafka(raw))
                if replaying and raw.offset() < self._replay_until.get(
                    (raw.topic(), raw.partition()), 0
                ):
                    continue
                outputs.extend(produced)
        assert self._output is not None
        send = self._output.send
        for msg in outputs:
            send(msg.topic, msg.key, msg.value, msg.timestamp, msg.headers)
        return len(outputs)

    def _commit(self) -> None:
        """Commits the consumer's positions: everything consumed has been processed by now."""
        if self._output is None:
            return
        if self.state is not None:
            self.state.log_changes(self._output)
        offsets: list[TopicPartition] = []
        for tp in self._consumer.position(self._assigned):
            key = (tp.topic, tp.partition)
            if tp.offset < 0 or tp.offset <= self._committed.get(key, -1):
                continue
            if tp.offset < self._replay_until.get(key, 0):
                continue  # still rebuilding state below what was committed before
            offsets.append(TopicPartition(tp.topic, tp.partition, tp.offset))
        self._output.commit(offsets)
        self.commits += bool(offsets)
        for tp in offsets:
            self._committed[(tp.topic, tp.partition)] = tp.offset

    def close(self) -> None:
        try:
            if self._output is not None:
                self._output.close()
        except Exception as exc:  # closing after a failure: the next run fences it anyway
            log.debug("query %s: closing its producer: %s", self.task.query_id, exc)
        self._consumer.close()
