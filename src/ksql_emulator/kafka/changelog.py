"""A persistent query's state stores, each backed by a compacted changelog topic.

Each commit writes the stores' changed keys to their changelogs; a restarted query reads the
changelogs before it consumes a record. Entries are data in the documented state format
(`runtime.state.changelog_format`), never pickles. How the changelog matches the source offsets
the query resumes from depends on the guarantee:

- exactly-once: the entries go into the commit's transaction with the sink records and the
  positions, so a restore (read_committed) sees exactly the committed state.
- at-least-once: Kafka Streams would restore whatever reached the changelog, so a crash between
  writing it and committing the offsets makes a window count replayed records twice. Here each
  commit ends, once all its records are acknowledged, with a position marker in every
  changelog: the source offsets the state reflects. A restore applies the entries up to the
  last marker and drops the ones after it (a commit that never completed), and the query
  resumes from the marker's offsets. Replayed records then meet the state they met the first
  time and produce the same outputs again, which downstream upserts absorb: at-least-once
  delivery, exactly-once state.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from ksql_emulator.contracts.backend import KafkaGateway
from ksql_emulator.kafka.errors import KafkaLayerError
from ksql_emulator.kafka.messages import (
    decode_positions,
    encode_positions,
    read_to_end,
)
from ksql_emulator.kafka.output import QueryOutput
from ksql_emulator.runtime.state.changelog_format import StateFormatError
from ksql_emulator.runtime.state.logged import LoggedKeyValueStore, LoggedStore, LoggedWindowStore

__all__ = ["QueryState", "changelog_topic"]

log = logging.getLogger(__name__)

_RESTORE_TIMEOUT_S = 300.0
# The key of position markers: no state entry's key (a state-format document) is this.
MARKER_KEY = b'{"position_marker":1}'


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
        # The source offsets of the last position marker every changelog agreed on, from the
        # last restore; None when no changelog had one (exactly-once, or nothing written yet).
        self.marked_positions: dict[tuple[str, int], int] | None = None

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
        marked: list[dict[tuple[str, int], int] | None] = []
        for name, store in self.stores.items():
            store.reset()
            count, positions = self._restore_one(self.topics[name], store)
            applied += count
            marked.append(positions)
        found = [m for m in marked if m is not None]
        # Markers are written to every changelog after the same flush; should a crash have
        # left some without the last one, the lowest offsets are the ones all states reflect
        # (a replay then reaches the others' records again, which is at-least-once).
        self.marked_positions = (
            {tp: min(m.get(tp, 0) for m in found) for tp in found[0]} if found else None
        )
        return applied

    def _restore_one(
        self, topic: str, store: LoggedStore
    ) -> tuple[int, dict[tuple[str, int], int] | None]:
        applied = 0
        # Entries since the last marker: applied when the next marker confirms them.
        held: list[tuple[bytes, bytes | None, int]] = []
        positions: dict[tuple[str, int], int] | None = None

        def apply(key: bytes, value: bytes | None, offset: int) -> None:
            try:
                store.restore(key, value)
            except StateFormatError as exc:
                raise KafkaLayerError(
                    f"cannot restore state from changelog {topic} at offset {offset}: {exc}"
                ) from exc

        # Only committed transactions: an aborted one's changes never happened.
        entries = read_to_end(self._bootstrap, self._extra, topic, "restore", _RESTORE_TIMEOUT_S)
        for key, value, offset in entries:
            if key == MARKER_KEY:
                positions = decode_positions(value or b"")
                for entry in held:
                    apply(*entry)
                applied += len(held)
                held = []
            elif key is not None:
                held.append((key, value, offset))
        if positions is None:  # never marked: every entry is committed
            for entry in held:
                apply(*entry)
            applied += len(held)
        elif held:
            log.info(
                "changelog %s: %d entries after the last position marker (a commit that did "
                "not complete) are not restored",
                topic,
                len(held),
            )
        log.info("restored %d changelog entries from %s", applied, topic)
        return applied, positions

    def mark(self, output: QueryOutput, positions: Mapping[tuple[str, int], int]) -> None:
        """Writes a position marker to every changelog: its state reflects the records before
        `positions`. Call it once everything the state's changes caused is acknowledged."""
        value = encode_positions(positions)
        for topic in self.topics.values():
            output.send(topic, MARKER_KEY, value, partition=0)

    def pending(self) -> int:
        """How many changed keys wait to be logged, over all stores."""
        return sum(store.pending() for store in self.stores.values())

    def log_changes(self, output: QueryOutput) -> int:
        """Sends each store's changes since the last call to its changelog."""
        sent = 0
        for name, store in self.stores.items():
            entries = store.drain()
            output.send_entries(self.topics[name], entries)
            sent += len(entries)
        return sent

    def delete(self) -> None:
        """Deletes the changelog topics (the query was terminated)."""
        for topic in self.topics.values():
            try:
                self._gateway.delete_topic(topic)
            except KafkaLayerError as exc:
                log.warning("could not delete changelog %s: %s", topic, exc)
