"""Stores that remember what changed since the last commit, for a changelog topic to record.

The runtime keeps state in memory; a `Logged*Store` wraps such a store so the Kafka layer can
write each changed key's latest value (or a tombstone) to the store's changelog once per commit
and rebuild the store from that changelog after a restart. Between commits a key changed many
times is logged once, as Kafka Streams' record cache does. Keys and values are written in
state format 1 (`changelog_format`): data a restore parses, never code it runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from ksql_emulator.runtime.state.base import KeyValueStore, WindowStore
from ksql_emulator.runtime.state.changelog_format import StateFormatError, decode, encode
from ksql_emulator.runtime.state.memory import MemoryKeyValueStore, MemoryWindowStore

__all__ = ["ChangelogEntry", "LoggedKeyValueStore", "LoggedStore", "LoggedWindowStore"]

# (key bytes, value bytes or None for a tombstone)
ChangelogEntry = tuple[bytes, bytes | None]


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
        entries = [(encode(k), _none_or_encode(self.inner.get(k))) for k in self._dirty]
        self._dirty.clear()
        return entries

    def restore(self, key: bytes, value: bytes | None) -> None:
        """Applies one changelog entry (not logged again)."""
        self.inner.put(_store_key(decode(key)), None if value is None else decode(value))

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
        entries = [(encode((k, s)), _none_or_encode(self.inner.get(k, s))) for k, s in self._dirty]
        self._dirty.clear()
        return entries

    def restore(self, key: bytes, value: bytes | None) -> None:
        window_key, start_ms = _store_key(decode(key))
        if not isinstance(start_ms, int):
            raise StateFormatError(f"a window store key ends with a window start, not {start_ms!r}")
        self.inner.put(window_key, start_ms, None if value is None else decode(value))

    def reset(self) -> None:
        self.inner = self._factory()
        self._dirty.clear()


LoggedStore = LoggedKeyValueStore | LoggedWindowStore


def _none_or_encode(value: Any | None) -> bytes | None:
    return None if value is None else encode(value)


def _store_key(key: Any) -> tuple[Any, ...]:
    if not isinstance(key, tuple):
        raise StateFormatError(f"a changelog key holds a tuple, not a {type(key).__name__}")
    return key
