"""The consume loop: validate, enrich, write, dead-letter, and only then commit offsets."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition
from pydantic import ValidationError

from streamguard.blacklist import BlacklistCache
from streamguard.consumer.dlq import DeadLetters
from streamguard.consumer.enrich import Enriched, enrich
from streamguard.consumer.sink import Source, Staged, stage, write_staged
from streamguard.db import create_engine, error_line, head_revision
from streamguard.metrics import (
    ALERTS_CONSUMED,
    BATCH_UPSERT_SECONDS,
    CONSUMER_LAG,
    DETECTION_LATENCY_SECONDS,
    DLQ_MESSAGES,
)
from streamguard.models import Alert

log = logging.getLogger(__name__)
T = TypeVar("T")
# The lag gauge is refreshed at most this often: it reads cached offsets, but per partition.
LAG_EVERY_S = 1.0


@dataclass
class Batch:
    """A prepared batch: enriched alerts with their source, and messages for the DLQ."""

    rows: list[tuple[Enriched, Source, bytes]] = field(default_factory=list)
    row_messages: list[Message] = field(default_factory=list)
    bad: list[tuple[Message, str]] = field(default_factory=list)
    # The rows as COPY text, made with the batch so the writer only waits on PostgreSQL.
    staged: Staged = field(default_factory=lambda: Staged("", []))


class SchemaOutOfDate(Exception):
    """The database schema is not at the newest revision: `streamguard db upgrade` first."""


class StoppedDuringOutage(Exception):
    """Asked to stop while PostgreSQL was unreachable: the batch was not written, nor committed."""


class UnreachableAtStart(StoppedDuringOutage):
    """PostgreSQL did not answer before anything was read: asked to stop, or not there within
    the idle time the consumer was given (`idle_exit_s`)."""


@dataclass
class Stats:
    """What one consumer did, counted in messages of the alerts topic (not in rows).

    `consumed`: messages processed and committed (Kafka's error events are no messages).
    `written`: of those, the alert messages upserted into PostgreSQL; a window alert that grows
    arrives as one message per update, each written, all one row. `dead_lettered`: the others.
    So after a clean stop `consumed == written + dead_lettered`, and consumers of one group
    that each process a message once consume, between them, every message of the topic.
    """

    consumed: int = 0
    written: int = 0
    dead_lettered: int = 0
    batches: int = 0
    # Monotonic times of the first message received and the last batch committed.
    first_message_at: float | None = None
    last_commit_at: float | None = None

    @property
    def rate(self) -> float:
        """Messages a second between the first message and the last commit."""
        if self.first_message_at is None or self.last_commit_at is None:
            return 0.0
        return self.consumed / max(self.last_commit_at - self.first_message_at, 1e-9)


def describe_fatal(error: KafkaError) -> str:
    """What a fatal Kafka error means for this consumer, in the words an operator needs."""
    if error.code() == KafkaError.FENCED_INSTANCE_ID or "same group.instance.id" in error.str():
        return (
            "another consumer joined the group with this consumer's --instance-id and took its "
            "partitions; give each running consumer its own instance id"
        )
    return f"Kafka reported a fatal error: {error.str()}"


def _is_fatal(error: KafkaError) -> bool:
    # librdkafka hands a fatal error to a consumer as an event of code _FATAL whose own flag is
    # unset.
    return bool(error.fatal()) or error.code() == KafkaError._FATAL


def describe_invalid(error: ValidationError) -> str:
    """A short reason for the DLQ header: the first problem, with the field it is in."""
    first = error.errors()[0]
    where = ".".join(str(p) for p in first["loc"]).upper()
    more = f" (+{error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return f"invalid alert: {where + ': ' if where else ''}{first['msg']}{more}"


class AlertConsumer:
    """Reads `fraud_alerts` as a consumer group and writes each batch to PostgreSQL.

    A batch's offsets are committed only after its database transaction has committed and its
    dead letters are acknowledged, so a crash at any point replays the batch, and the upsert on
    the alert identity makes the replay change nothing.
    """

    def __init__(
        self,
        *,
        bootstrap_servers: str,
        database_url: str,
        topic: str,
        dlq_topic: str,
        group_id: str,
        instance_id: str | None = None,
        batch_size: int = 500,
        poll_timeout_s: float = 0.5,
        blacklist_reload_s: float = 2.0,
        max_backoff_s: float = 30.0,
    ) -> None:
        self.topic = topic
        self.batch_size = batch_size
        self.poll_timeout_s = poll_timeout_s
        self.max_backoff_s = max_backoff_s
        self.stats = Stats()
        self.stop_event = threading.Event()
        self.database_url = database_url
        self.engine = create_engine(database_url)
        self.blacklist = BlacklistCache(self.engine, reload_s=blacklist_reload_s)
        self.dead_letters = DeadLetters(bootstrap_servers, dlq_topic)
        config: dict[str, str | int | bool] = {
            "bootstrap.servers": bootstrap_servers,
            "group.id": group_id,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
            # A long database outage must not cost the group its partitions.
            "max.poll.interval.ms": 30 * 60 * 1000,
            # A crashed member's partitions move to the others within seconds.
            "session.timeout.ms": 10_000,
            "heartbeat.interval.ms": 2_000,
        }
        if instance_id:
            # Static membership: a member restarted under the same id takes its partitions
            # back at once, instead of the group waiting out the dead member's session.
            config["group.instance.id"] = instance_id
        self.consumer = Consumer(config)
        self._lag_at = float("-inf")

    def stop(self) -> None:
        """Finish the batch in hand, commit it, and return from `run`."""
        self.stop_event.set()

    def run(self, *, idle_exit_s: float | None = None) -> Stats:
        """Consume until stopped, or with `idle_exit_s` until nothing arrived for that long while
        the consumer held partitions (a rebalance in progress does not count as idle).

        Batch N+1 is validated and enriched while batch N is written: the database and Python
        each get a core. Batch N's offsets are committed once its write has finished.
        """
        try:
            self._retrying(self._check_schema, give_up_s=idle_exit_s, stopped=UnreachableAtStart)
        except BaseException:
            self.consumer.close()
            self.engine.dispose()
            raise
        self.consumer.subscribe([self.topic])
        last_message = time.monotonic()
        pending: tuple[list[Message], Future[None]] | None = None
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="alert-writer") as writer:
            try:
                while not self.stop_event.is_set():
                    messages = self._next_messages()
                    if messages:
                        last_message = time.monotonic()
                        batch = self.prepare(messages)
                        written = self._wait(pending)
                        pending = (messages, writer.submit(self.store, batch))
                        # The commit's round trip to the broker overlaps the next write.
                        self._committed(written)
                        continue
                    self._finish(pending)
                    pending = None
                    self._record_lag()
                    if not self.consumer.assignment():
                        last_message = time.monotonic()
                    elif idle_exit_s is not None and time.monotonic() - last_message > idle_exit_s:
                        break
                self._finish(pending)
            finally:
                self.consumer.close()
                self.engine.dispose()
        return self.stats

    def _next_messages(self) -> list[Message]:
        """What has arrived, up to a batch, without waiting for a batch to fill.

        `consume(n, timeout)` waits until n messages or the timeout, which at a low rate holds
        every alert for the whole timeout. Instead: take what is there; when nothing is, wait
        for the first message only, then take what came with it."""
        messages: list[Message] = self.consumer.consume(self.batch_size, timeout=0)
        if messages:
            return messages
        first = self.consumer.poll(self.poll_timeout_s)
        if first is None or self.batch_size == 1:
            return [first] if first is not None else []
        return [first, *self.consumer.consume(self.batch_size - 1, timeout=0)]

    def _check_schema(self) -> None:
        with self.engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
        head = head_revision(self.database_url)
        if current != head:
            raise SchemaOutOfDate(
                f"the database schema is at revision {current or 'none'}, the consumer needs "
                f"{head}: run `streamguard db upgrade` first"
            )

    def prepare(self, messages: list[Message]) -> Batch:
        """Validate and enrich: the alerts to write, the messages to dead-letter."""
        if self.stats.first_message_at is None:
            self.stats.first_message_at = time.monotonic()
        good: list[tuple[Message, Alert]] = []
        batch = Batch()
        for message in messages:
            error = message.error()
            if error is not None:
                if _is_fatal(error):
                    raise KafkaException(error)
                if error.code() != KafkaError._PARTITION_EOF:
                    log.warning("consumer error: %s", error)
                continue
            value = message.value()
            if value is None:
                batch.bad.append((message, "empty message: no value"))
                continue
            try:
                good.append((message, Alert.from_json(value)))
            except ValidationError as exc:
                batch.bad.append((message, describe_invalid(exc)))
        if good:
            enriched = self._retrying(lambda: [(enrich(a, self.blacklist), m) for m, a in good])
            batch.rows = [(item, _source(m), m.value() or b"") for item, m in enriched]
            batch.row_messages = [m for _, m in enriched]
            batch.staged = stage(batch.rows)
        return batch

    def store(self, batch: Batch) -> None:
        """Write the alerts in one transaction and have the dead letters acknowledged."""
        rows, bad = batch.rows, list(batch.bad)
        refused: dict[int, str] = {}
        if rows:
            with BATCH_UPSERT_SECONDS.time():
                refused = self._retrying(lambda: write_staged(self.engine, batch.staged))
            bad += [(batch.row_messages[position], why) for position, why in refused.items()]
        _count_written(rows, refused)
        for message, reason in bad:
            self.dead_letters.send(message, reason)
        if bad:
            self.dead_letters.flush()
        written = len(rows) - (len(bad) - len(batch.bad))
        self.stats.written += written
        self.stats.dead_lettered += len(bad)
        DLQ_MESSAGES.inc(len(bad))
        log.info("batch: %d alerts written, %d dead-lettered", written, len(bad))

    def _finish(self, pending: tuple[list[Message], Future[None]] | None) -> None:
        """Wait for a batch's write, then commit its offsets."""
        self._committed(self._wait(pending))

    def _wait(self, pending: tuple[list[Message], Future[None]] | None) -> list[Message] | None:
        """Wait for a batch's write; its messages, whose offsets may now be committed."""
        if pending is None:
            return None
        messages, written = pending
        written.result()
        return messages

    def _committed(self, messages: list[Message] | None) -> None:
        """Commit the offsets of a batch whose write has finished."""
        if messages is None:
            return
        self._commit(messages)
        self.stats.last_commit_at = time.monotonic()
        self.stats.batches += 1
        self.stats.consumed += sum(1 for m in messages if m.error() is None)
        self._record_lag()

    def _record_lag(self) -> None:
        """The lag gauge per assigned partition, from offsets librdkafka already holds."""
        now = time.monotonic()
        if now - self._lag_at < LAG_EVERY_S:
            return
        self._lag_at = now
        try:
            for tp in self.consumer.position(self.consumer.assignment()):
                _, high = self.consumer.get_watermark_offsets(tp, cached=True)
                if high >= 0 and tp.offset >= 0:
                    CONSUMER_LAG.labels(tp.topic, str(tp.partition)).set(high - tp.offset)
        except KafkaException as exc:
            log.debug("lag not measured: %s", exc)

    def _commit(self, messages: list[Message]) -> None:
        positions: dict[tuple[str, int], int] = {}
        for m in messages:
            if m.error() is not None:
                # An error event (a broker unreachable, say) is no record to commit past.
                continue
            key = (str(m.topic()), int(m.partition() or 0))
            positions[key] = max(positions.get(key, -1), int(m.offset() or 0) + 1)
        offsets = [TopicPartition(t, p, o) for (t, p), o in positions.items()]
        if not offsets:
            return
        try:
            self.consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            if _is_fatal(exc.args[0]):
                raise
            # Partitions moved to another member during the batch: it replays them, harmlessly.
            log.warning("offset commit failed, the batch will be replayed: %s", exc)

    def _retrying(
        self,
        work: Callable[[], T],
        *,
        give_up_s: float | None = None,
        stopped: type[StoppedDuringOutage] = StoppedDuringOutage,
    ) -> T:
        """Run database work, retrying with backoff while PostgreSQL is unreachable, until
        asked to stop or, with `give_up_s`, for that long at the most."""
        delay = 0.5
        started = time.monotonic()
        while True:
            try:
                return work()
            except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
                said = error_line(exc)
                waited = time.monotonic() - started
                if self.stop_event.is_set() or (give_up_s is not None and waited >= give_up_s):
                    raise stopped(said) from None
                if give_up_s is not None:
                    delay = min(delay, give_up_s - waited)
                log.warning(
                    "PostgreSQL unreachable (%s); retrying in %.1f s, no offset moves", said, delay
                )
                self.stop_event.wait(delay)
                delay = min(delay * 2, self.max_backoff_s)


def _count_written(rows: list[tuple[Enriched, Source, bytes]], refused: dict[int, str]) -> None:
    now_ms = time.time() * 1000
    # A labelled counter costs a lookup and a lock: counted a batch at a time, not an alert.
    counts: Counter[tuple[str, str]] = Counter()
    observe = DETECTION_LATENCY_SECONDS.observe
    for position, (item, _source, _raw) in enumerate(rows):
        if position in refused:
            continue
        alert = item.alert
        counts[alert.rule_id, item.severity] += 1
        if alert.event_time is not None:
            observe(max(0.0, now_ms - alert.event_time) / 1000)
    for (rule_id, severity), n in counts.items():
        ALERTS_CONSUMED.labels(rule_id, severity).inc(n)


def _source(message: Message) -> Source:
    return Source(str(message.topic()), int(message.partition() or 0), int(message.offset() or 0))
