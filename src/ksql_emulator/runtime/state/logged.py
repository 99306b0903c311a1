"""Stores that remember what changed since they were last drained, for a changelog to record.

The runtime keeps state in memory; a `Logged*Store` wraps such a store so the Kafka layer can
write each changed key's latest value (or a tombstone) to the store's changelog whenever it
drains the store (at each commit, or after a batch once many keys wait) and rebuild the store
from that changelog after a restart. Between drains a key changed many times is logged once.
Keys and values are written in state format 1 (`changelog_format`): data a restore parses, never
code it runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from ksql_emulator.runtime.state.base import KeyValueStore, WindowStore
from ksql_emulator.runtime.state.changelog_format import (
    StateFormatError,
    decode,
    encode,
    encode_group_key,
)
from ksql_emulator.runtime.state.memory import MemoryKeyValueStore, MemoryWindowStore

__all__ = ["ChangelogEntry", "LoggedKeyValueStore", "LoggedStore", "LoggedWindowStore"]

# (key bytes, value bytes or None for a tombstone)
ChangelogEntry = tuple[bytes, bytes | None]

# Keys encoded lately, kept: a window's key is written again each time its window changes.
_KEY_CACHE_SIZE = 100_000
_EXACT = frozenset({str, int, type(None)})


class _KeyBytes:
    """`encode(key)`, remembered for the keys written lately.

    Only keys of strings, integers and nulls (in tuples) are remembered: among those, equal
    keys encode alike, where 1, 1.0 and True, or Decimal 1.0 and 1.00, are equal and do not."""

    def __init__(self) -> None:
        self._known: dict[Any, bytes] = {}

    def __call__(self, key: tuple[Any, ...]) -> bytes:
        written = encode_group_key(key)
        if written is not None:  # the usual key, new more often than not: no use keeping it
            return written
        if not _exact(key):
            return encode(key)
        known = self._known.get(key)
        if known is None:
            if len(self._known) >= _KEY_CACHE_SIZE:
                self._known.clear()
            known = self._known[key] = encode(key)
        return known


def _exact(key: tuple[Any, ...]) -> bool:
    for part in key:
        kind = type(part)
        if kind is tuple:
            if not _exact(part):
                return False
        elif kind not in _EXACT:
            return False
    return True


class LoggedKeyValueStore:
    """A `KeyValueStore` whose changes since the last `drain` can be read as changelog entries."""

    # The inner store's own `get`: reads need nothing from the changelog.
    get: Callable[[tuple[Any, ...]], Any | None]

    def __init__(self, inner: KeyValueStore | None = None) -> None:
        self._factory: Callable[[], KeyValueStore] = MemoryKeyValueStore
        self._set_inner(inner if inner is not None else self._factory())
        # Each changed key with its latest value, in the order keys first changed: a drain
        # reads the values from here, not by a look-up in the (large) store each.
        self._dirty: dict[tuple[Any, ...], Any] = {}
        self._key_bytes = _KeyBytes()
        # How a value is written: the store's owner may know a faster way for its values'
        # shape (changelog_format.encode_native_tuple); it must give the same bytes.
        self.encode_value: Callable[[Any], bytes] = encode

    def _set_inner(self, inner: KeyValueStore) -> None:
        self.inner = inner
        self.get = inner.get

    def put(self, key: tuple[Any, ...], value: Any | None) -> None:
        self.inner.put(key, value)
        self._dirty[key] = value

    def items(self) -> Iterator[tuple[tuple[Any, ...], Any]]:
        return self.inner.items()

    def pending(self) -> int:
        """How many keys changed since the last drain."""
        return len(self._dirty)

    def drain(self) -> list[ChangelogEntry]:
        """The changed keys' current values, serialized; forgets them."""
        key_bytes, encode_value = self._key_bytes, self.encode_value
        entries = [
            (key_bytes(k), None if value is None else encode_value(value))
            for k, value in self._dirty.items()
        ]
        self._dirty.clear()
        return entries

    def restore(self, key: bytes, value: bytes | None) -> None:
        """Applies one changelog entry (not logged again)."""
        self.inner.put(_store_key(decode(key)), None if value is None else decode(value))

    def reset(self) -> None:
        """Forgets everything, as before a restore from the changelog."""
        self._set_inner(self._factory())
        self._dirty.clear()


class LoggedWindowStore:
    """A `WindowStore` whose changes since the last `drain` can be read as changelog entries."""

    def __init__(self, inner: WindowStore | None = None) -> None:
        self._factory: Callable[[], WindowStore] = MemoryWindowStore
        self.inner: WindowStore = inner if inner is not None else self._factory()
        self._dirty: set[tuple[tuple[Any, ...], int]] = set()
        self._key_bytes = _KeyBytes()

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

    def pending(self) -> int:
        return len(self._dirty)

    def drain(self) -> list[ChangelogEntry]:
        key_bytes = self._key_bytes
        entries = [
            (key_bytes((k, s)), _none_or_encode(self.inner.get(k, s))) for k, s in self._dirty
        ]
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
