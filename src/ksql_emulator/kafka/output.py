"""A stream thread's writes, under ksqlDB's two processing guarantees.

exactly_once_v2: everything sent between two commits (sink records, changelog records and the
queries' positions, see `stream_thread`) is one Kafka transaction, so a crash leaves either all
of a commit's effects or none; a restarted instance with the same transactional id fences and
aborts the old one.

at_least_once: records are produced as they come; a commit waits until every one is acked, so
what is recorded after it (positions, markers) never runs ahead of what was written. A table's
updates may wait a little longer to be sent (`TABLE_LINGER_PROPERTY`), gathered into fewer
requests as ksqlDB's record cache gathers them; a stream's records do not.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from typing import Any, Protocol

from confluent_kafka import KafkaError, KafkaException, Producer

from ksql_emulator.contracts.message import Message
from ksql_emulator.contracts.partitioner import partition_for
from ksql_emulator.kafka.errors import KafkaLayerError
from ksql_emulator.kafka.messages import producer_config

__all__ = [
    "DEFAULT_TABLE_LINGER_MS",
    "TABLE_LINGER_PROPERTY",
    "AtLeastOnceOutput",
    "ExactlyOnceOutput",
    "QueryOutput",
    "is_exactly_once",
    "processing_guarantee",
]

_TIMEOUT_S = 30.0

# How long an at-least-once thread's producer may hold a table sink's updates to send them
# together: ksqlDB's record cache holds a table's updates until the commit, 100 ms under
# exactly-once, and emits each key's last. Here every update is sent, only later. At a light
# load each window table's update was a produce request of its own and woke a fetch of the
# queries reading it: held, the idle stack's CPU fell by a fifth (README, "Benchmarks"). A
# stream's records (alerts) keep the producer's own 5 ms.
TABLE_LINGER_PROPERTY = "ksql.emulator.table.linger.ms"
DEFAULT_TABLE_LINGER_MS = 100
_EXACTLY_ONCE = ("exactly_once", "exactly_once_v2", "exactly_once_beta")


def processing_guarantee(*sources: Mapping[str, Any]) -> str:
    """The guarantee the first source names; exactly_once_v2 when none does.

    ksqlDB's own default is at_least_once. The emulator defaults to exactly-once because its
    promise is that a restarted query neither loses nor repeats a record; set
    `processing.guarantee=at_least_once` for ksqlDB's default behaviour."""
    for source in sources:
        for key in ("processing.guarantee", "ksql.streams.processing.guarantee"):
            value = source.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip().lower()
    return "exactly_once_v2"


def is_exactly_once(guarantee: str) -> bool:
    return guarantee in _EXACTLY_ONCE


class QueryOutput(Protocol):
    def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        timestamp: int = 0,
        headers: Sequence[tuple[str, bytes | None]] = (),
        partition: int | None = None,
    ) -> None: ...

    def send_messages(self, messages: Sequence[Message]) -> None:
        """`send` for each of `messages`, in order."""
        ...

    def send_entries(self, topic: str, entries: Sequence[tuple[bytes, bytes | None]]) -> None:
        """Keyed records without timestamp or headers to partition 0 of `topic`, in order (a
        changelog's entries)."""
        ...

    def commit(self) -> None:
        """Makes everything sent so far durable; raises if it could not."""
        ...

    def abort(self) -> None:
        """Discards what was sent since the last commit, where the guarantee allows it."""
        ...

    def close(self) -> None: ...


class _Producing:
    """Producing with back-pressure: a full local queue waits for deliveries instead of failing.

    `windowed` maps a windowed sink topic to the bytes its window adds to each key. Kafka
    Streams partitions windowed records by the key without its window (WindowedStreamPartitioner),
    where the default partitioner would hash the whole key; so those records get an explicit
    partition from the base key's bytes, which decides where a window's rows land (and the
    order a pull query's table scan returns them in)."""

    def __init__(self, config: dict[str, Any], windowed: Mapping[str, int] | None = None) -> None:
        self.producer = self._reporting(config)
        self.failures: list[Any] = []
        self.windowed = dict(windowed or {})
        # Sink topics of tables, and the producer their records go through.
        self.tables: frozenset[str] = frozenset()
        self._tables_producer: Any = self.producer
        self._partition_counts: dict[str, int] = {}

    def _reporting(self, config: dict[str, Any]) -> Any:
        """A producer whose failed deliveries land in `failures`."""
        # Only failed deliveries call back: a callback per record acknowledged would be a
        # Python call for every record every query writes.
        return Producer(
            {**config, "on_delivery": self._delivered, "delivery.report.only.error": True}
        )

    def _partitions(self, topic: str) -> int:
        count = self._partition_counts.get(topic)
        if count is None:
            try:
                meta = self.producer.list_topics(topic, timeout=_TIMEOUT_S).topics.get(topic)
            except KafkaException as exc:
                raise KafkaLayerError(f"no metadata for topic {topic}: {exc}") from exc
            if meta is None or meta.error is not None or not meta.partitions:
                raise KafkaLayerError(f"no partitions known for topic {topic}")
            count = self._partition_counts[topic] = len(meta.partitions)
        return count

    def route_tables(self, topics: frozenset[str]) -> None:
        """Names the sink topics that are tables' (a guarantee may send them apart)."""
        self.tables = topics

    def _delivered(self, error: Any, _msg: Any) -> None:
        if error is not None:
            self.failures.append(error)

    def _begin(self) -> None:
        """Called before each write: where a guarantee opens what the write belongs to."""

    def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        timestamp: int = 0,
        headers: Sequence[tuple[str, bytes | None]] = (),
        partition: int | None = None,
    ) -> None:
        self._begin()
        if partition is None:
            partition = self._window_partition(topic, key)
        self._produce(
            topic,
            value,
            key,
            partition,
            timestamp,
            list(headers) if headers else None,
            self._tables_producer if topic in self.tables else self.producer,
        )

    def _window_partition(self, topic: str, key: bytes | None) -> int:
        """The partition of a windowed sink's record (its key without the window decides), or
        -1: the producer's partitioner decides."""
        suffix = self.windowed.get(topic)
        if suffix and key is not None and len(key) >= suffix:
            return partition_for(key[:-suffix], self._partitions(topic))
        return -1

    def send_messages(self, messages: Sequence[Message]) -> None:
        """`send` for each of `messages`, in order: a batch's sink records. Every record a
        query writes passes here, so the guarantee's bookkeeping is done once for all of them
        and each record goes straight to its producer."""
        if not messages:
            return
        self._begin()
        windowed, tables = self.windowed, self.tables
        main, held = self.producer.produce, self._tables_producer.produce
        for m in messages:
            topic, key = m.topic, m.key
            partition = self._window_partition(topic, key) if windowed else -1
            produce = held if topic in tables else main
            try:
                if m.headers:
                    produce(
                        topic, m.value, key, partition, timestamp=m.timestamp,
                        headers=list(m.headers),
                    )  # fmt: skip
                elif m.timestamp:
                    produce(topic, m.value, key, partition, timestamp=m.timestamp)
                else:
                    produce(topic, m.value, key, partition)
            except BufferError:
                self._produce(
                    topic, m.value, key, partition, m.timestamp, list(m.headers) or None,
                    self._tables_producer if topic in tables else self.producer,
                )  # fmt: skip

    def send_entries(self, topic: str, entries: Sequence[tuple[bytes, bytes | None]]) -> None:
        # A busy aggregate logs a changed window per record: the guarantee's bookkeeping and
        # the partition once for all of them.
        if not entries:
            return
        self._begin()
        produce = self.producer.produce
        for key, value in entries:
            try:
                produce(topic, value, key, 0)
            except BufferError:
                self._produce(topic, value, key, 0)

    def _produce(
        self,
        topic: str,
        value: bytes | None,
        key: bytes | None,
        partition: int,
        timestamp: int = 0,
        headers: list[tuple[str, str | bytes | None]] | None = None,
        producer: Any = None,
    ) -> None:
        """`producer.produce` (this output's own producer unless another is named), waiting
        for deliveries while the local queue is full."""
        producer = self.producer if producer is None else producer
        # Arguments by position where they can be: each keyword costs the call a look-up, and
        # every record a query writes, and every state change, is a call here.
        produce = producer.produce
        while True:
            try:
                if headers:
                    produce(topic, value, key, partition, timestamp=timestamp, headers=headers)
                elif timestamp:
                    produce(topic, value, key, partition, timestamp=timestamp)
                else:
                    produce(topic, value, key, partition)
                return
            except BufferError:
                producer.poll(0.05)


class ExactlyOnceOutput(_Producing):
    """One open transaction at a time, begun by the first write after a commit.

    A commit may go on in the background (`commit_soon`): it waits for the broker's
    acknowledgements of the transaction's records and then for its end, several milliseconds
    in which the stream thread can read and process what comes next. A write waits for it."""

    def __init__(
        self,
        bootstrap: str,
        extra: Mapping[str, str],
        transactional_id: str,
        windowed: Mapping[str, int] | None = None,
    ) -> None:
        # Kafka Streams' EOS timeout: a killed instance's open transaction holds back
        # read_committed readers of its sinks for at most this long if nothing restarts it.
        config = {
            "transactional.id": transactional_id,
            "transaction.timeout.ms": "10000",
            # The coordinator answers a transaction that follows a commit at once with "concurrent
            # transactions" until the last one's markers are written (a few ms); librdkafka's
            # default 100 ms back-off would add that to every record of back-to-back commits.
            "retry.backoff.ms": "5",
            "retry.backoff.max.ms": "250",
        }
        super().__init__(producer_config(bootstrap, {**config, **extra}), windowed)
        self._open = False
        self._committing: Future[None] | None = None
        self._committer: ThreadPoolExecutor | None = None
        # Fences any earlier instance with this id and aborts its unfinished transaction.
        self.producer.init_transactions(_TIMEOUT_S)

    def _begin(self) -> None:
        if self._committing is not None:
            self.settle()
        if not self._open:
            self.producer.begin_transaction()
            self._open = True

    @property
    def committing(self) -> bool:
        """True while a commit begun by `commit_soon` has not ended."""
        return self._committing is not None and not self._committing.done()

    def commit_soon(self) -> bool:
        """Begins committing the open transaction (False: none is open, or one is committing
        already); `settle` ends it."""
        if not self._open or self._committing is not None:
            return False
        if self._committer is None:
            self._committer = ThreadPoolExecutor(1, thread_name_prefix="transaction-commit")
        # librdkafka lets go of the GIL while it waits for the broker.
        self._committing = self._committer.submit(self.producer.commit_transaction, _TIMEOUT_S)
        return True

    def settle(self) -> None:
        """Waits for the commit `commit_soon` began, if any; raises if it failed (the
        transaction is then still open, for `abort`)."""
        committing, self._committing = self._committing, None
        if committing is None:
            return
        try:
            committing.result()
        except KafkaException as exc:
            raise KafkaLayerError(f"could not commit a transaction: {exc}") from exc
        self._open = False
        self.failures.clear()

    def commit(self) -> None:
        self.commit_soon()
        self.settle()

    def abort(self) -> None:
        # A failed commit leaves its transaction open: aborted below.
        with suppress(KafkaLayerError):
            self.settle()
        if not self._open:
            return
        self._open = False
        try:
            self.producer.abort_transaction(_TIMEOUT_S)
        except KafkaException as exc:
            error = exc.args[0] if exc.args else None
            # A fenced or fatally failed producer has nothing left to abort.
            if not (isinstance(error, KafkaError) and error.fatal()):
                raise

    def close(self) -> None:
        self.abort()
        self.producer.flush(_TIMEOUT_S)
        if self._committer is not None:
            self._committer.shutdown()


class AtLeastOnceOutput(_Producing):
    """Tables' updates go through a second producer that lingers `table_linger_ms` (None: as
    long as the first), created when a table sink first appears."""

    def __init__(
        self,
        bootstrap: str,
        extra: Mapping[str, str],
        windowed: Mapping[str, int] | None = None,
        table_linger_ms: int | None = None,
    ) -> None:
        config = producer_config(bootstrap, dict(extra))
        super().__init__(config, windowed)
        self._table_config: dict[str, Any] | None = None
        if table_linger_ms is not None and table_linger_ms > int(config["linger.ms"]):
            self._table_config = {**config, "linger.ms": table_linger_ms}

    def route_tables(self, topics: frozenset[str]) -> None:
        super().route_tables(topics)
        if topics and self._table_config is not None and self._tables_producer is self.producer:
            self._tables_producer = self._reporting(self._table_config)

    def _flush(self) -> int:
        """Sends everything held and waits for its acknowledgements: what is left unacked."""
        remaining = int(self.producer.flush(_TIMEOUT_S))
        if self._tables_producer is not self.producer:
            remaining += int(self._tables_producer.flush(_TIMEOUT_S))
        return remaining

    def commit(self) -> None:
        remaining = self._flush()
        if remaining or self.failures:
            cause = self.failures[0] if self.failures else f"{remaining} pending"
            self.failures.clear()
            raise KafkaLayerError(f"writes were not acknowledged ({cause}); offsets not committed")

    def abort(self) -> None:
        # What was produced cannot be taken back; it is repeated after the restart.
        self.failures.clear()

    def close(self) -> None:
        self._flush()
