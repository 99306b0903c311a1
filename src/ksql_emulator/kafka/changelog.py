"""A persistent query's state stores, each backed by a compacted changelog topic.

Each commit writes the stores' changed keys to their changelogs in the same transaction as the
sink records and the consumed offsets, so the changelog always matches the committed offsets;
a restarted query reads the changelogs to their end before it consumes a record. Entries are
data in the documented state format (`runtime.state.changelog_format`), never pickles.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from confluent_kafka import Consumer, KafkaError, TopicPartition

from ksql_emulator.contracts.backend import KafkaGateway
from ksql_emulator.kafka.errors import KafkaLayerError
from ksql_emulator.kafka.messages import scan_config, watermarks
from ksql_emulator.kafka.output import QueryOutput
from ksql_emulator.runtime.state.changelog_format import StateFormatError
from ksql_emulator.runtime.state.logged import LoggedKeyValueStore, LoggedStore, LoggedWindowStore

__all__ = ["QueryState", "changelog_topic"]

log = logging.getLogger(__name__)

_RESTORE_TIMEOUT_S = 300.0


def changelog_topic(service_id: str, query_id: str, store: str) -> str:
    """ksqlDB's (Kafka Streams') name for a store's changelog topic."""
    return f"_confluent-ksql-{service_id}query_{query_id}-{store}-changelog"


class QueryState:
    """The logged stores of one query, by store name, and their changelog topics."""

    def __init__(
        self,
        gateway: KafkaGateway,
        bootstrap: str,
        extra: Mapping[str, str],
        service_id: str,
        query_id: str,
        replication: int = 1,
    ) -> None:
        self._gateway = gateway
        self._bootstrap = bootstrap
        self._extra = dict(extra)
        self._service_id = service_id
        self._query_id = query_id
        self._replication = replication
        self.stores: dict[str, LoggedStore] = {}
        self.topics: dict[str, str] = {}

    def wrap(self, name: str, store: Any) -> LoggedStore:
        """The logged store for `name` (`task.bind_stores` installs it in the operator)."""
        existing = self.stores.get(name)
        if existing is not None:
            return existing
        logged: LoggedStore = (
            LoggedWindowStore() if hasattr(store, "fetch") else LoggedKeyValueStore()
        )
        topic = changelog_topic(self._service_id, self._query_id, name)
        # One partition: the query keeps one store for all its source partitions.
        self._gateway.create_topic(topic, 1, self._replication, {"cleanup.policy": "compact"})
        self.stores[name] = logged
        self.topics[name] = topic
        return logged

    def restore(self) -> int:
        """Empties the stores and refills them from their changelogs; the entries applied."""
        applied = 0
        for name, store in self.stores.items():
            store.reset()
            applied += self._restore_one(self.topics[name], store)
        return applied

    def _restore_one(self, topic: str, store: LoggedStore) -> int:
        # Only committed transactions: an aborted one's changes never happened.
        consumer = Consumer(
            scan_config(
                self._bootstrap, "restore", {"isolation.level": "read_committed", **self._extra}
            )
        )
        applied = 0
        try:
            partition = TopicPartition(topic, 0)
            low, high = watermarks(consumer, partition, 30.0)
            if high <= low:
                return 0
            consumer.assign([TopicPartition(topic, 0, low)])
            deadline = time.monotonic() + _RESTORE_TIMEOUT_S
            while True:
                for msg in consumer.consume(1000, timeout=0.1):
                    error = msg.error()
                    if error is None:
                        key = msg.key()
                        if key is not None:
                            try:
                                store.restore(key, msg.value())
                            except StateFormatError as exc:
                                raise KafkaLayerError(
                                    f"cannot restore state from changelog {topic} at offset "
                                    f"{msg.offset()}: {exc}"
                                ) from exc
                            applied += 1
                    elif error.code() == KafkaError._PARTITION_EOF:
                        log.info("restored %d changelog entries from %s", applied, topic)
                        return applied
                    else:
                        raise KafkaLayerError(f"could not read changelog {topic}: {error}")
                if time.monotonic() > deadline:
                    raise KafkaLayerError(f"changelog {topic} not restored in time")
        finally:
            consumer.close()

    def log_changes(self, output: QueryOutput) -> int:
        """Sends each store's changes since the last call to its changelog."""
        sent = 0
        for name, store in self.stores.items():
            topic = self.topics[name]
            for key, value in store.drain():
                output.send(topic, key, value, partition=0)
                sent += 1
        return sent

    def delete(self) -> None:
        """Deletes the changelog topics (the query was terminated)."""
        for topic in self.topics.values():
            try:
                self._gateway.delete_topic(topic)
            except KafkaLayerError as exc:
                log.warning("could not delete changelog %s: %s", topic, exc)
