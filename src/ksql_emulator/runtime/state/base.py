"""The Protocols a state store offers; operators depend on these, not on an implementation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

__all__ = ["KeyValueStore", "WindowStore"]


class KeyValueStore(Protocol):
    def get(self, key: tuple[Any, ...]) -> Any | None: ...

    def put(self, key: tuple[Any, ...], value: Any | None) -> None: ...

    def items(self) -> Iterator[tuple[tuple[Any, ...], Any]]: ...


class WindowStore(Protocol):
    def get(self, key: tuple[Any, ...], start_ms: int) -> Any | None: ...

    def put(self, key: tuple[Any, ...], start_ms: int, value: Any | None) -> None: ...

    def fetch(self, key: tuple[Any, ...]) -> Iterator[tuple[int, Any]]: ...

    def expire_before(self, start_ms: int) -> None: ...
