"""Persistent queries run together: one thread, one consumer and one producer for many queries.

Kafka Streams runs each ksqlDB query as an application of its own, and so did this layer: a
thread, a consumer and a producer per query. With StreamGuard's ten rules that meant every
transaction fetched, wrapped and decoded ten times, ten transactions per commit interval and ten
threads taking turns on one interpreter. Here the queries that share a processing guarantee and
commit interval share a `StreamThread` instead (Kafka Streams' own name for the unit that runs
many tasks): its consumer reads each source partition once, each message is offered to every
member query that reads its topic (decoded once, as members' serdes remember their last input),
and one commit makes all members' writes durable together.

Each member keeps its own position per partition (the next offset it processes) and its own
consumer group, named as ksqlDB names it. The shared consumer reads from the lowest position any
member needs; a member skips what lies below its own position, so a query created later, or one
rebuilding its state from the start, joins without disturbing the others.

Where positions live:
- exactly-once: each commit is one Kafka transaction holding the members' sink records, their
  changelog records and one record per member in the service's positions topic (the member's
  positions, keyed by query id). A restart reads the positions topic (read_committed) and so
  resumes exactly where the last transaction left every member; no offsets go through
  `send_offsets_to_transaction`, which costs two broker round trips per consumer group and
  would make a commit of ten queries ten times slower. Once a transaction commits, each member's
  offsets are also committed to its consumer group (asynchronously), so lag tools and
  `kafka-consumer-groups` read the same figures as for ksqlDB.
- at-least-once: a commit waits until every record is acknowledged, then commits each member's
  offsets to its consumer group, which a restart resumes from.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from ksql_emulator.contracts.backend import QueryTask, task_paused
from ksql_emulator.contracts.message import Message
from ksql_emulator.kafka.changelog import QueryState
from ksql_emulator.kafka.errors import KafkaLayerError
from ksql_emulator.kafka.gateway import ConfluentGateway
from ksql_emulator.kafka.messages import (
    decode_positions,
    encode_positions,
    from_kafka,
    next_batch,
    read_to_end,
    watermarks,
)
from ksql_emulator.kafka.output import (
    DEFAULT_TABLE_LINGER_MS,
    TABLE_LINGER_PROPERTY,
    AtLeastOnceOutput,
    ExactlyOnceOutput,
)
from ksql_emulator.metrics import QueryMetrics

__all__ = [
    "Member",
    "QuerySettings",
    "StreamThread",
    "consumer_group_id",
    "forget_positions",
    "positions_topic",
    "setting",
    "source_partitions",
]

log = logging.getLogger(__name__)

_TIMEOUT_S = 30.0
_BATCH = 2000
_TOPIC_WAIT_S = 60.0
_IDLE_COMMIT_S = 1.0
_RESTORE_TIMEOUT_S = 300.0
# How long an idle thread waits for a record before it looks at its members again (a record
# ends the wait at once).
_IDLE_POLL_S = 0.25
# How often members' positions are committed to their consumer groups.
_MIRROR_S = 1.0
# Changed state keys from which a query's changelog entries are written with the batch rather
# than at the commit.
_EAGER_LOG = 200
# Outputs a thread may hold back while a commit goes on before it waits for the commit.
_HELD_MAX = 50_000
# How often an idle thread asks whether a paused member was resumed.
_RESUME_CHECK_S = 0.2

TP = tuple[str, int]


class _GatewaySource(Protocol):
    def get(self) -> ConfluentGateway: ...

    def close(self) -> None: ...


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


def consumer_group_id(service_id: str, query_id: str) -> str:
    """ksqlDB's consumer group for a persistent query."""
    return f"_confluent-ksql-{service_id}query_{query_id}"


def source_partitions(metadata: Any, topics: Sequence[str]) -> tuple[list[TP], list[str]]:
    """The partitions of `topics` in cluster metadata, and the topics it does not hold (yet)."""
    found: list[TP] = []
    missing = []
    for name in topics:
        topic = metadata.topics.get(name)
        if topic is None or topic.error is not None or not topic.partitions:
            missing.append(name)
            continue
        found += [(name, p) for p in sorted(topic.partitions)]
    return found, missing


def positions_topic(service_id: str) -> str:
    """The compacted topic where exactly-once stream threads keep their members' positions."""
    return f"_confluent-ksql-{service_id}_query_positions"


def setting(key: str, *sources: Mapping[str, Any]) -> str | None:
    """A Streams setting from the first source naming it, bare or as `ksql.streams.<key>`."""
    for source in sources:
        for name in (key, f"ksql.streams.{key}"):
            value = source.get(name)
            if value is not None and str(value).strip():
                return str(value).strip()
    return None


@dataclass
class _Counts:
    """What one member did with one batch, for its metrics."""

    records_in: int = 0
    records_out: int = 0
    seconds: float = 0.0


@dataclass
class Member:
    """One persistent query in a stream thread, with its own positions and consumer group."""

    task: QueryTask
    lookup: Callable[[], QueryTask | None]
    reset: str
    # A query re-created under a fixed QUERY_ID waits for its predecessor's cleanup, or it
    # would restore (or lose) the old query's state.
    after: threading.Thread | None = None
    # "latest" fixed when the query was created, before its statement was answered: a record
    # written after that answer is never skipped, however long the set-up takes.
    latest: dict[TP, int] | None = None
    positions: dict[TP, int] = field(default_factory=dict)
    committed: dict[TP, int] = field(default_factory=dict)
    replay_until: dict[TP, int] = field(default_factory=dict)
    state: QueryState | None = None
    processed: bool = False
    failures: int = 0
    error: BaseException | None = None
    group_consumer: Consumer | None = None
    removed: threading.Event = field(default_factory=threading.Event)
    # PAUSE: the member processes nothing and its positions stay where they were; RESUME takes
    # effect at the next commit, when the shared consumer is sent back to the lowest position.
    paused: bool = False
    resuming: bool = False
    metrics: QueryMetrics | None = None
    # Positions committed (in the positions topic, or past a flush) but not to the group yet.
    unmirrored: dict[TP, int] = field(default_factory=dict)
    # Since when its source topics have been missing (set-up waits for them for a while).
    waiting_since: float | None = None
    # The task and state whose stores were bound last: binding again is needed only when a
    # reconcile brought a new task or a restart a new state.
    bound: tuple[QueryTask, QueryState] | None = None
    # This batch's counts, reset once they reach the metrics.
    counts: _Counts = field(default_factory=_Counts)

    @property
    def query_id(self) -> str:
        return self.task.query_id

    @property
    def recoverable(self) -> bool:
        """Whether a failed run can resume from the last commit: not once state that lives
        outside stores (which cannot be rolled back) has seen a record."""
        return not self.task.stateful or self.state is not None or not self.processed

    def close(self) -> None:
        if self.group_consumer is not None:
            self.group_consumer.close()
            self.group_consumer = None


class _Failure(Exception):
    """A member's processing failed: the thread resumes every member from the last commit."""

    def __init__(self, member: Member, cause: BaseException) -> None:
        super().__init__(f"query {member.query_id}: {cause}")
        self.member = member
        self.cause = cause


class StreamThread:
    """Runs its member queries in one thread; members come and go between commits."""

    def __init__(
        self, name: str, settings: QuerySettings, *, exactly_once: bool, interval_s: float
    ) -> None:
        self.name = name
        self._settings = settings
        self.exactly_once = exactly_once
        self._interval_s = interval_s
        self._lock = settings.engine_lock
        self._stop = threading.Event()
        self._guard = threading.Lock()
        self._pending: list[Member] = []
        self._leaving: set[str] = set()
        self.members: dict[str, Member] = {}
        self._by_topic: dict[str, list[Member]] = {}
        self._readers: dict[str, list[tuple[Member, QueryTask, _Counts]]] = {}
        self._readers_basis: tuple[object, ...] = ()
        # The running members that read more than one topic (joins), with the topics they
        # read; built with `_readers`.
        self._several: dict[str, frozenset[str]] = {}
        self._consumer: Consumer | None = None
        self._output: ExactlyOnceOutput | AtLeastOnceOutput | None = None
        self._assigned: dict[TP, int] = {}
        self._stored_positions: dict[str, dict[TP, int]] | None = None
        self._mirror_due = 0.0
        # Exactly-once: the members' positions a commit going on in the background records
        # (see `_settle`), and the outputs of batches processed meanwhile, for the next
        # transaction.
        self._in_flight: dict[str, dict[TP, int]] | None = None
        self._held: list[Message] = []
        # Per partition, the offset after the last record the consumer delivered since it was
        # last assigned.
        self._delivered: dict[TP, int] = {}
        self._thread = threading.Thread(target=self._run, name=f"stream-{name}", daemon=True)

    # --- membership (any thread) ----------------------------------------------------------------

    def add(self, member: Member) -> None:
        with self._guard:
            self._pending.append(member)

    def remove(self, query_id: str) -> threading.Event:
        """Asks the thread to let go of a member after its next commit; the event is set then."""
        with self._guard:
            for member in self._pending:
                if member.query_id == query_id:
                    self._pending.remove(member)
                    member.close()
                    member.removed.set()
                    return member.removed
            self._leaving.add(query_id)
            member_or_none = self.members.get(query_id)
        if member_or_none is None:
            done = threading.Event()
            done.set()
            return done
        return member_or_none.removed

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout_s: float = _TIMEOUT_S) -> None:
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout_s)

    # --- the loop -------------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._open()
                self._loop()
                self._commit(final=True)
                break
            except _Failure as failure:
                self._recover(failure.member, failure.cause)
            except Exception as exc:  # a commit or the broker failed: every member resumes
                log.warning("stream thread %s: %s; resuming from the last commit", self.name, exc)
                for member in self.members.values():
                    if not member.recoverable:
                        member.error = exc
                        log.error("query %s stopped on an error: %s", member.query_id, exc)
                self._restart_all()
                self._stop.wait(0.5)
        self._close()

    def _recover(self, member: Member, cause: BaseException) -> None:
        """A member failed: it stops for good, or every member resumes from the last commit
        (the failed batch's writes are aborted or repeated, never half kept)."""
        member.failures += 1
        if not member.recoverable or member.failures > self._settings.max_restarts:
            member.error = cause
            log.error("query %s stopped on an error: %s", member.query_id, cause)
        else:
            log.warning("query %s: %s; resuming from its last commit", member.query_id, cause)
        self._restart_all()
        self._stop.wait(min(5.0, 0.5 * member.failures))

    def _open(self) -> None:
        s = self._settings
        if self._consumer is None:
            self._consumer = Consumer(
                {
                    "bootstrap.servers": s.bootstrap,
                    # Positions are the members' own; this group commits nothing.
                    "group.id": f"_confluent-ksql-{s.service_id}stream_{self.name}",
                    "enable.auto.commit": False,
                    "enable.auto.offset.store": False,
                    # A position the broker says is out of range is read again from the start:
                    # members skip what they have processed, so nothing is lost, where "latest"
                    # would jump past records some member has not seen.
                    "auto.offset.reset": "earliest",
                    # Never a record of an aborted transaction (an upstream query's failed commit).
                    "isolation.level": "read_committed",
                    # A fetch returns as soon as records arrive; this bounds only an idle one,
                    # which the broker answers this often (its default) rather than 10 times
                    # a second: part of what an idle stack costs.
                    "fetch.wait.max.ms": 500,
                    # Once its queue holds queued.min.messages (100,000) librdkafka fetches no
                    # more for this long: a second by default, which a thread reading a backlog
                    # faster than that spent waiting with an empty queue (a third of its time;
                    # confluentinc/librdkafka#2879).
                    "fetch.queue.backoff.ms": 10,
                    **s.extra,
                }
            )
        if self._output is None:
            # The producer first: its fencing aborts a dead instance's transaction, which the
            # changelogs and positions must not reflect when they are read next.
            windowed: dict[str, int] = {}
            if self.exactly_once:
                self._output = ExactlyOnceOutput(
                    s.bootstrap,
                    s.extra,
                    f"_confluent-ksql-{s.service_id}stream_{self.name}",
                    windowed,
                )
            else:
                linger = setting(TABLE_LINGER_PROPERTY, s.server_properties)
                self._output = AtLeastOnceOutput(
                    s.bootstrap,
                    s.extra,
                    windowed,
                    DEFAULT_TABLE_LINGER_MS if linger is None else int(linger),
                )

    def _loop(self) -> None:
        deadline: float | None = None
        idle_check = time.monotonic() + _IDLE_COMMIT_S
        resume_check = 0.0
        while not self._stop.is_set():
            if deadline is None:
                if time.monotonic() >= resume_check:
                    # A paused member learns of RESUME here when no batch comes to tell it.
                    resume_check = time.monotonic() + _RESUME_CHECK_S
                    self._check_resumes()
                self._apply_membership()
            if not self._assigned:
                self._stop.wait(0.05)
                continue
            assert self._consumer is not None
            wait = _IDLE_POLL_S if deadline is None else max(0.0, deadline - time.monotonic())
            if self._in_flight is None:
                batch = next_batch(self._consumer, _BATCH, wait)
            else:
                # A commit goes on: work on what has arrived meanwhile, or else wait for it
                # and send what it held back before waiting for records.
                batch = next_batch(self._consumer, _BATCH, 0.0)
                if not batch:
                    self._settle()
                    wait = wait if deadline is None else max(0.0, deadline - time.monotonic())
                    batch = next_batch(self._consumer, _BATCH, wait)
            now = time.monotonic()
            if batch:
                self._process(batch)
                if deadline is None:
                    deadline = now + self._interval_s
            if deadline is not None and (not batch or now >= deadline):
                self._commit()
                deadline = None
            elif deadline is None and now >= idle_check:
                # Positions also move past transaction markers, which no batch shows.
                self._commit()
                idle_check = now + _IDLE_COMMIT_S

    def _check_resumes(self) -> None:
        paused = [m for m in self.members.values() if m.paused and not m.resuming]
        if not paused:
            return
        with self._lock:
            for member in paused:
                task = member.lookup()
                if task is not None and not task_paused(task):
                    member.resuming = True

    def _process(self, batch: list[Any]) -> None:
        outputs: list[Message] = []
        with self._lock:
            # Each running member with its task.
            running: list[tuple[Member, QueryTask]] = []
            for query_id, member in self.members.items():
                task = member.lookup()
                if task is None:  # terminated meanwhile; reconcile removes it
                    continue
                if task_paused(task):
                    # PAUSE holds from the moment it returned: nothing from this batch on.
                    if not member.paused:
                        log.info("query %s: paused", query_id)
                    member.paused, member.resuming = True, False
                    continue
                if member.paused:
                    # Records it skipped lie behind the consumer: it goes on only once the
                    # consumer has been sent back to its position (at the next commit).
                    member.resuming = True
                    continue
                running.append((member, task))
                state = member.state
                bound = member.bound
                if state is not None and (
                    bound is None or bound[0] is not task or bound[1] is not state
                ):
                    task.bind_stores(state.wrap)  # type: ignore[attr-defined]
                    member.bound = (task, state)
            readers_of = self._readers_for(running)
            delivered = self._delivered
            # The batch by topic, in order, with each partition's first and last offset.
            by_topic: dict[str, tuple[list[Message], dict[TP, list[int]]]] = {}
            # Messages in arrival order, for the queries that read several topics.
            several = self._several
            ordered: list[Message] | None = [] if several else None
            # A batch comes in runs of one partition's messages (a fetch answers partition
            # by partition): a message of the run goes on with the least bookkeeping.
            run_topic, run_partition = "", -1
            run_msgs: list[Message] = []
            span = [0, 0]
            for raw in batch:
                error = raw.error()
                if error is not None:
                    if error.code() != KafkaError._PARTITION_EOF:
                        log.warning("stream thread %s: consumer error %s", self.name, error)
                    continue
                topic = raw.topic()
                msg = from_kafka(raw, topic)
                if msg.partition != run_partition or topic != run_topic:
                    if not readers_of.get(topic):
                        continue
                    run_topic, run_partition = topic, msg.partition
                    group = by_topic.get(topic)
                    if group is None:
                        group = by_topic[topic] = ([], {})
                    run_msgs = group[0]
                    tp = (topic, run_partition)
                    found = group[1].get(tp)
                    if found is None:
                        found = group[1][tp] = [msg.offset, msg.offset]
                    span = found
                span[1] = msg.offset
                run_msgs.append(msg)
                if ordered is not None:
                    ordered.append(msg)
            for _msgs, spans in by_topic.values():
                for tp, (_first, last) in spans.items():
                    delivered[tp] = last + 1
            # Each query takes its topic's messages at once (`_offer`): a batch is a few
            # hundred transactions for each of ten queries, and a query at a time keeps its
            # code and state at hand where a message at a time went round all ten. A query
            # that reads several topics (a join) takes them one by one in the order they came,
            # which decides what it joins.
            for topic, (msgs, spans) in by_topic.items():
                readers = readers_of[topic]
                alone = len(readers) == 1
                for member, member_task, count in readers:
                    if member.query_id not in several:
                        self._offer(member, member_task, count, msgs, spans, outputs, alone)
            for member, member_task in running:
                topics = several.get(member.query_id)
                if topics is not None and ordered is not None:
                    for msg in ordered:
                        if msg.topic in topics:
                            spans = {(msg.topic, msg.partition): [msg.offset, msg.offset]}
                            self._offer(member, member_task, member.counts, [msg], spans, outputs)
        for member, _task in running:
            count = member.counts
            if count.records_in:
                if member.metrics is not None:
                    member.metrics.batch(count.records_in, count.records_out, count.seconds)
                count.records_in = count.records_out = 0
                count.seconds = 0.0
        output = self._output
        assert output is not None
        if self._in_flight is not None:
            if (
                isinstance(output, ExactlyOnceOutput)
                and output.committing
                and len(self._held) < _HELD_MAX
            ):
                self._held += outputs
                # State changes wait as well: logged with a later batch or at the commit.
                return
            self._settle()
        output.send_messages(outputs)
        # A busy query's state changes go out with the batch that made them, which spreads
        # the work over the commit interval instead of stalling every record behind the
        # commit. A lightly loaded one's wait for the commit: librdkafka sends a request per
        # partition, so logging each small batch asked the broker for a request per store per
        # transaction (a third of a lightly loaded stack's requests), where at the commit a
        # store's entries share one request and a key changed twice is written once.
        for member, _task in running:
            state = member.state
            if state is not None and state.pending() >= _EAGER_LOG:
                state.log_changes(output)

    @staticmethod
    def _offer(
        member: Member,
        task: QueryTask,
        count: _Counts,
        msgs: list[Message],
        spans: dict[TP, list[int]],
        outputs: list[Message],
        alone: bool = False,
    ) -> None:
        """Offers `member` the messages of one topic at or past its positions (`spans`: each
        partition's first and last offset in `msgs`); their outputs join `outputs`, but for
        records it replays to rebuild state (their outputs were written before)."""
        positions = member.positions
        for tp, (first, _last) in spans.items():
            position = positions.get(tp)
            if position is None or first < position:
                # Some of them the member has already taken (its position is past them:
                # it was sent back to replay less far than the consumer), or it has no
                # position in their partition: only what lies at or past its positions.
                msgs = [
                    m
                    for m in msgs
                    if (at := positions.get((m.topic, m.partition))) is not None and m.offset >= at
                ]
                spans = {}
                for m in msgs:
                    spans.setdefault((m.topic, m.partition), [m.offset, m.offset])[1] = m.offset
                break
        if not msgs:
            return
        for tp, (_first, last) in spans.items():
            positions[tp] = last + 1
        member.processed = True
        started = time.perf_counter()
        try:
            many = getattr(task, "process_many", None)
            produced = (
                many(msgs, alone=alone) if many is not None else [task.process(m) for m in msgs]
            )
        except Exception as exc:
            raise _Failure(member, exc) from exc
        count.seconds += time.perf_counter() - started
        count.records_in += len(msgs)
        replay_until = member.replay_until
        for msg, out in zip(msgs, produced, strict=True):
            if out and (
                not replay_until or msg.offset >= replay_until.get((msg.topic, msg.partition), 0)
            ):
                count.records_out += len(out)
                outputs.extend(out)

    def _readers_for(
        self, running: list[tuple[Member, QueryTask]]
    ) -> dict[str, list[tuple[Member, QueryTask, _Counts]]]:
        """Per topic, its running readers with their tasks and counters: a record is offered
        to every reader, ten of them for a transaction. Built again only when the members,
        their tasks or the topic map changed since the last batch (with `_several`); a lightly
        loaded thread processes a batch per record or two."""
        basis: tuple[object, ...] = (self._by_topic, *(x for pair in running for x in pair))
        last = self._readers_basis
        if len(last) != len(basis) or any(a is not b for a, b in zip(last, basis, strict=True)):
            entries = {member.query_id: (member, task, member.counts) for member, task in running}
            self._readers = {
                topic: [e for m in members if (e := entries.get(m.query_id)) is not None]
                for topic, members in self._by_topic.items()
            }
            self._several = {
                member.query_id: frozenset(
                    topic
                    for topic, readers in self._readers.items()
                    if any(entry[0] is member for entry in readers)
                )
                for member, task in running
                if len(set(task.source_topics)) > 1
            }
            self._readers_basis = basis
        return self._readers

    # --- commits --------------------------------------------------------------------------------

    def _commit(self, *, final: bool = False) -> None:
        """Makes every member's processing durable: sink and changelog records, positions.
        Under exactly-once the transaction's end goes on in the background unless `final`."""
        output, consumer = self._output, self._consumer
        if output is None or consumer is None:
            return
        self._settle()
        for member in self.members.values():
            if member.state is not None:
                member.state.log_changes(output)
        if self._assigned:
            # Every delivered record at or above a member's position was offered to it, so a
            # member that is not ahead of the consumer has seen all up to where it stands.
            for tp in consumer.position([TopicPartition(t, p) for t, p in self._assigned]):
                key = (tp.topic, tp.partition)
                last = self._delivered.get(key)
                if tp.offset < 0 or last is None:
                    continue  # nothing read since the assignment: its position may be stale
                for member in self._by_topic.get(tp.topic, ()):
                    if member.paused:
                        continue  # it skipped what the consumer read since
                    # Only past what is no record (transaction markers): a member that has
                    # not processed up to the last record read stays where it is.
                    if last <= member.positions.get(key, -1) < tp.offset:
                        member.positions[key] = tp.offset
        changed: dict[str, dict[TP, int]] = {}
        for member in self.members.values():
            offsets = {
                key: position
                for key, position in member.positions.items()
                if position > member.committed.get(key, -1)
                and position >= member.replay_until.get(key, 0)
            }
            if offsets:
                changed[member.query_id] = offsets
        if self.exactly_once:
            topic = positions_topic(self._settings.service_id)
            for query_id, offsets in changed.items():
                member = self.members[query_id]
                record = {**member.committed, **offsets}
                output.send(topic, query_id.encode(), encode_positions(record), partition=0)
            assert isinstance(output, ExactlyOnceOutput)
            if not final and output.commit_soon():
                self._in_flight = changed
                return
            output.commit()
        else:
            output.commit()  # every record acknowledged before any marker or offset
            marked = False
            for query_id, offsets in changed.items():
                state = self.members[query_id].state
                if state is not None:
                    state.mark(output, {**self.members[query_id].committed, **offsets})
                    marked = True
            if marked:
                output.commit()
        self._committed(changed, final=final)

    def _settle(self) -> None:
        """Ends a commit going on in the background: waits for it, records what it made
        durable, and sends the outputs it held back (into the next transaction)."""
        changed, self._in_flight = self._in_flight, None
        if changed is None:
            return
        assert isinstance(self._output, ExactlyOnceOutput)
        self._output.settle()
        self._committed(changed, final=False)
        held, self._held = self._held, []
        self._output.send_messages(held)

    def _committed(self, changed: Mapping[str, Mapping[TP, int]], *, final: bool) -> None:
        """What follows a commit: members' committed positions, and now and then their
        consumer groups' offsets."""
        for query_id, offsets in changed.items():
            member = self.members.get(query_id)
            if member is None:
                continue  # left meanwhile
            member.committed.update(offsets)
            member.failures = 0  # failures in a row count: this run got work committed
            member.unmirrored.update(offsets)
        if final or time.monotonic() >= self._mirror_due:
            # The consumer groups: under exactly-once only a mirror of the positions topic for
            # lag tools; under at-least-once the resume point of stateless queries (stateful
            # ones resume from their changelogs' markers), where a commit lost to a crash only
            # means reading up to a second again. Once a second either way, without waiting:
            # an offset commit per query at every commit interval is most of what an idle
            # stack asks of its broker.
            self._mirror_due = time.monotonic() + _MIRROR_S
            for member in self.members.values():
                if member.unmirrored:
                    try:
                        self._commit_group(member, member.unmirrored, wait=final)
                    except KafkaLayerError as exc:
                        if final and not self.exactly_once:
                            raise
                        log.debug("query %s: offsets commit: %s", member.query_id, exc)
                    member.unmirrored = {}

    @staticmethod
    def _commit_group(member: Member, offsets: Mapping[TP, int], *, wait: bool = True) -> None:
        if member.group_consumer is None:
            return
        parts = [TopicPartition(t, p, o) for (t, p), o in offsets.items()]
        try:
            if wait:
                member.group_consumer.commit(offsets=parts, asynchronous=False)
            else:
                member.group_consumer.commit(offsets=parts, asynchronous=True)
        except KafkaException as exc:
            raise KafkaLayerError(f"could not commit offsets: {exc}") from exc

    # --- members joining and leaving (between commits) ------------------------------------------

    def _apply_membership(self) -> None:
        with self._guard:
            if not (self._leaving or self._pending) and not any(
                m.resuming for m in self.members.values()
            ):
                return
        # Members come and go between commits, not during one.
        self._settle()
        with self._guard:
            leaving = [self.members[q] for q in self._leaving if q in self.members]
            self._leaving.clear()
            pending = list(self._pending)
        changed = False
        for member in leaving:
            del self.members[member.query_id]
            member.close()
            member.removed.set()
            changed = True
        joined: list[Member] = []
        for member in pending:
            if member.after is not None and member.after.is_alive():
                continue
            if not self._set_up(member):
                continue
            with self._guard:
                if member in self._pending:
                    self._pending.remove(member)
                else:  # removed while it was being set up
                    member.close()
                    continue
                self.members[member.query_id] = member
            joined.append(member)
            changed = True
        resumed = [m for m in self.members.values() if m.resuming]
        for member in resumed:
            log.info("query %s: resumed", member.query_id)
            member.paused = member.resuming = False
        if changed or resumed:
            self._reassign()

    def _set_up(self, member: Member) -> bool:
        """Restores a member's state and places it; False while its topics do not exist."""
        s = self._settings
        if member.group_consumer is None:
            member.group_consumer = Consumer(
                {
                    "bootstrap.servers": s.bootstrap,
                    "group.id": consumer_group_id(s.service_id, member.query_id),
                    "enable.auto.commit": False,
                    **s.extra,
                }
            )
        partitions = self._partitions(member)
        if partitions is None:
            return False
        self._restore_state(member)
        stored = self._positions().get(member.query_id) if self.exactly_once else None
        if stored is None:
            committed = member.group_consumer.committed(
                [TopicPartition(t, p) for t, p in partitions], timeout=_TIMEOUT_S
            )
            stored = {}
            for tp in committed:
                if tp.error is not None:
                    raise KafkaLayerError(
                        f"could not read committed offsets of {tp.topic}: {tp.error}"
                    )
                if tp.offset >= 0:
                    stored[(tp.topic, tp.partition)] = tp.offset
        if not self.exactly_once and member.state is not None:
            # At-least-once: the state reflects the records before its last marker, which may
            # be past the group's offsets (a crash between the two): resume there.
            for key, marked in (member.state.marked_positions or {}).items():
                stored[key] = max(stored.get(key, -1), marked)
        member.committed = dict(stored)
        member.positions = {}
        member.replay_until = {}
        for key in partitions:
            low, high = watermarks(member.group_consumer, TopicPartition(*key), _TIMEOUT_S)
            offset = stored.get(key)
            if offset is not None and member.task.stateful and member.state is None and offset:
                # State outside stores is rebuilt from the start; what was written stays unsent.
                member.replay_until[key] = offset
                member.positions[key] = low
            elif offset is not None:
                member.positions[key] = max(offset, low)
            elif member.reset == "latest":
                latest = member.latest or {}
                member.positions[key] = latest.get(key, high)
            else:
                member.positions[key] = low
        if member.replay_until:
            log.info("query %s: rebuilding state from its sources", member.query_id)
        if not self.exactly_once:
            if member.state is not None and self._output is not None:
                # A first marker before any change: a crash before the first commit completes
                # leaves changelog entries that a restore must not take for committed ones.
                member.state.mark(self._output, member.positions)
                self._output.commit()
            unrecorded = {k: o for k, o in member.positions.items() if k not in stored}
            if unrecorded and not member.replay_until:
                # Where auto.offset.reset placed it, recorded at once: a crash before the
                # first commit must not let a restart place it again ("latest" would then
                # skip what arrived meanwhile).
                self._commit_group(member, unrecorded)
                member.committed.update(unrecorded)
        if member.metrics is None:
            member.metrics = QueryMetrics(member.query_id)
        return True

    def _partitions(self, member: Member) -> list[TP] | None:
        assert member.group_consumer is not None
        metadata = member.group_consumer.list_topics(timeout=_TIMEOUT_S)
        found, missing = source_partitions(metadata, member.task.source_topics)
        if not missing:
            return found
        if member.waiting_since is None:
            member.waiting_since = time.monotonic()
        elif time.monotonic() - member.waiting_since > _TOPIC_WAIT_S:
            member.error = KafkaLayerError(f"source topics do not exist: {', '.join(missing)}")
            with self._guard:
                if member in self._pending:
                    self._pending.remove(member)
            member.close()
            member.removed.set()
        return None

    def _restore_state(self, member: Member) -> None:
        """Restores the member's stores from their changelogs when they hold all its state."""
        names: dict[str, Any] = {}
        with self._lock:
            task = member.lookup() or member.task
            bind = getattr(task, "bind_stores", None)
            complete = bind is not None and task.stateful and bind(names.setdefault)
        if not (complete and names):
            member.state = None
            return
        s = self._settings
        state = QueryState(
            s.gateway.get(), s.bootstrap, s.extra, s.service_id, member.query_id, s.replication
        )
        for name, store in names.items():
            state.wrap(name, store)
        started = time.monotonic()
        applied = state.restore()
        log.info(
            "query %s: restored %d state entries in %.1fs",
            member.query_id,
            applied,
            time.monotonic() - started,
        )
        with self._lock:
            task = member.lookup() or member.task
            task.bind_stores(state.wrap)  # type: ignore[attr-defined]
        member.state = state

    def _positions(self) -> dict[str, dict[TP, int]]:
        """The positions topic as the last committed transactions left it (read once)."""
        if self._stored_positions is None:
            self._stored_positions = _read_positions(self._settings)
        return self._stored_positions

    def _reassign(self) -> None:
        """Reads every partition some member needs, from the lowest position any needs."""
        by_topic: dict[str, list[Member]] = {}
        lowest: dict[TP, int] = {}
        for member in self.members.values():
            for topic in member.task.source_topics:
                by_topic.setdefault(topic, []).append(member)
            for key, position in member.positions.items():
                lowest[key] = min(position, lowest.get(key, position))
        self._by_topic = by_topic
        if self._output is not None:
            # Windowed sinks are partitioned by the key without its window, as Kafka Streams
            # does (see output._Producing).
            self._output.windowed = {
                topic: suffix
                for member in self.members.values()
                for topic, suffix in getattr(member.task, "windowed_sinks", {}).items()
            }
            self._output.route_tables(
                frozenset(
                    topic
                    for member in self.members.values()
                    for topic in getattr(member.task, "table_sinks", ())
                )
            )
        assert self._consumer is not None
        # Always from the lowest position again, even onto the same partitions: the consumer
        # has moved on since it was last assigned, and a member that joins at an offset it has
        # passed must see every record from there (the others skip what they have processed).
        self._consumer.assign([TopicPartition(t, p, o) for (t, p), o in lowest.items()])
        self._assigned = lowest
        self._delivered = {}

    # --- failures and shutdown ------------------------------------------------------------------

    def _restart_all(self) -> None:
        """Drops the open work: members are set up again from their last commit."""
        self._in_flight = None
        self._held = []
        if self._output is not None:
            try:
                self._output.abort()
                self._output.close()
            except Exception as exc:  # the next producer fences this one anyway
                log.debug("stream thread %s: closing its producer: %s", self.name, exc)
            self._output = None
        self._stored_positions = None
        self._assigned = {}
        self._delivered = {}
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None
        with self._guard:
            leaving = {q for q in self._leaving if q in self.members}
            self._leaving -= leaving
            members = list(self.members.values())
            self.members = {}
            for member in members:
                if member.query_id in leaving or member.error is not None:
                    member.close()
                    member.removed.set()
                    continue
                self._pending.append(member)
        self._by_topic = {}

    def _close(self) -> None:
        try:
            if self._output is not None:
                self._output.close()
        except Exception as exc:  # closing after a failure: the next run fences it anyway
            log.debug("stream thread %s: closing its producer: %s", self.name, exc)
        if self._consumer is not None:
            self._consumer.close()
        with self._guard:
            members = [*self.members.values(), *self._pending]
        for member in members:
            member.close()
            member.removed.set()


def _read_positions(settings: QuerySettings) -> dict[str, dict[TP, int]]:
    """Every query's last committed positions, from the positions topic (made if missing)."""
    topic = positions_topic(settings.service_id)
    settings.gateway.get().create_topic(
        topic, 1, settings.replication, {"cleanup.policy": "compact"}
    )
    found: dict[str, dict[TP, int]] = {}
    records = read_to_end(
        settings.bootstrap, settings.extra, topic, "positions", _RESTORE_TIMEOUT_S
    )
    for key, value, _offset in records:
        if key is None:
            continue
        if value is None:
            found.pop(key.decode(), None)
        else:
            found[key.decode()] = decode_positions(value)
    return found


def forget_positions(settings: QuerySettings, query_id: str) -> None:
    """A tombstone for a terminated query's positions: a new query under its id starts anew."""
    topic = positions_topic(settings.service_id)
    gateway = settings.gateway.get()
    if gateway.describe_topic(topic) is None:
        return
    gateway.produce(Message(topic, query_id.encode(), None, 0))
