"""Stores that remember what changed since the last commit, for a changelog topic to record.

The runtime keeps state in memory; a `Logged*Store` wraps such a store so the Kafka layer can
write each changed key's latest value (or a tombstone) to the store's changelog once per commit
and rebuild the store from that changelog after a restart. Between commits a key changed many
times is logged once, as Kafka Streams' record cache does.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterator
from typing import Any

from ksql_emulator.runtime.state.base import KeyValueStore, WindowStore
from ksql_emulator.runtime.state.memory import MemoryKeyValueStore, MemoryWindowStore

__all__ = ["ChangelogEntry", "LoggedKeyValueStore", "LoggedStore", "LoggedWindowStore"]

# (key bytes, value bytes or None for a tombstone)
ChangelogEntry = tuple[bytes, bytes | None]

# Accumulators are arbitrary Python values (Decimals, lists, sets, nested tuples): pickle keeps
# them exact. The changelog is an internal topic only this service writes, as in ksqlDB.
_PROTOCOL = 5


def _dump(value: Any) -> bytes:
    return pickle.dumps(value, protocol=_PROTOCOL)


def _load(data: bytes) -> Any:
    # Only this service writes its changelog topics, as in ksqlDB.
    return pickle.loads(data)


class LoggedKeyValueStore:
    """A `KeyValueStore` whose changes since the last `drain` can be read as changelog entries."""

    def __init__(self, inner: KeyValueStore | None = None) -> None:
        self._factory: Callable[[], KeyValueStore] = MemoryKeyValueStore
        self.inner: KeyValueStore = inner if inner is not None else self._factory()
        self._dirty: set[tuple[Any, ...]] = set()

    def get(self, key: tuple[Any, ...]) -> Any | None:
        return self.inner.get(key)

    def put(self, key: tuple[Any, ...], value: Any | None) -> None:
        self.inner.put(key, value)
        self._dirty.add(key)

    def items(self) -> Iterator[tuple[tuple[Any, ...], Any]]:
        return self.inner.items()

    def drain(self) -> list[ChangelogEntry]:
        """The changed keys' current values, serialized; forgets them."""
        entries = [(_dump(k), _none_or_dump(self.inner.get(k))) for k in self._dirty]
        self._dirty.clear()
        return entries

    def restore(self, key: bytes, value: bytes | None) -> None:
        """Applies one changelog entry (not logged again)."""
        self.inner.put(_load(key), None if value is None else _load(value))

    def reset(self) -> None:
        """Forgets everything, as before a restore from the changelog."""
        self.inner = self._factory()
        self._dirty.clear()


class LoggedWindowStore:
    """A `WindowStore` whose changes since the last `drain` can be read as changelog entries."""

    def __init__(self, inner: WindowStore | None = None) -> None:
        self._factory: Callable[[], WindowStore] = MemoryWindowStore
        self.inner: WindowStore = inner if inner is not None else self._factory()
        self._dirty: set[tuple[tuple[Any, ...], int]] = set()

    def get(self, key: tuple[Any, ...], start_ms: int) -> Any | None:
        return self.inner.get(key, start_ms)

    def put(self, key: tuple[Any, ...], start_ms: int, value: Any | None) -> None:
        self.inner.put(key, start_ms, value)
        self._dirty.add((key, start_ms))

    def fetch(self, key: tuple[Any, ...]) -> Iterator[tuple[int, Any]]:
        return self.inner.fetch(key)

    def expire_before(self, start_ms: int) -> None:
        # Expiry is a function of stream time, which restoring replays: not logged, as Kafka
        # Streams' segments expire without changelog tombstones.
        self.inner.expire_before(start_ms)
        self._dirty = {(k, s) for k, s in self._dirty if s >= start_ms}

    def drain(self) -> list[ChangelogEntry]:
        entries = [(_dump((k, s)), _none_or_dump(self.inner.get(k, s))) for k, s in self._dirty]
        self._dirty.clear()
        return entries

    def restore(self, key: bytes, value: bytes | None) -> None:
        window_key, start_ms = _load(key)
        self.inner.put(window_key, start_ms, None if value is None else _load(value))

    def reset(self) -> None:
        self.inner = self._factory()
        self._dirty.clear()


LoggedStore = LoggedKeyValueStore | LoggedWindowStore


def _none_or_dump(value: Any | None) -> bytes | None:
    return None if value is None else _dump(value)
