"""In-memory state stores."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["MemoryKeyValueStore", "MemoryWindowStore"]


class MemoryKeyValueStore:
    # The dict's own lookup, not a method around it: an aggregate reads its store for every
    # record, through a changelog's wrapper too (`LoggedKeyValueStore.get` is this).
    get: Callable[[tuple[Any, ...]], Any | None]

    def __init__(self) -> None:
        self._data: dict[tuple[Any, ...], Any] = {}
        self.get = self._data.get

    def put(self, key: tuple[Any, ...], value: Any | None) -> None:
        if value is None:
            self._data.pop(key, None)
        else:
            self._data[key] = value

    def items(self) -> Iterator[tuple[tuple[Any, ...], Any]]:
        return iter(list(self._data.items()))


class MemoryWindowStore:
    def __init__(self) -> None:
        self._data: dict[tuple[Any, ...], dict[int, Any]] = {}

    def get(self, key: tuple[Any, ...], start_ms: int) -> Any | None:
        return self._data.get(key, {}).get(start_ms)

    def put(self, key: tuple[Any, ...], start_ms: int, value: Any | None) -> None:
        windows = self._data.setdefault(key, {})
        if value is None:
            windows.pop(start_ms, None)
        else:
            windows[start_ms] = value

    def fetch(self, key: tuple[Any, ...]) -> Iterator[tuple[int, Any]]:
        return iter(sorted(self._data.get(key, {}).items()))

    def expire_before(self, start_ms: int) -> None:
        for windows in self._data.values():
            for start in [s for s in windows if s < start_ms]:
                del windows[start]
