"""Objects built once for every caller that asks for an equal one."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["SharedByShape"]

T = TypeVar("T")


class SharedByShape(Generic[T]):
    """One object per shape (a tuple of everything that makes two such objects alike).

    Queries come and go for the life of a server, so the table is bounded: once full it starts
    afresh, and callers holding an object keep it. A shape that cannot be a dict key (a value
    of an unhashable type) gets an object of its own."""

    def __init__(self, most: int = 512) -> None:
        self._most = most
        self._objects: dict[Hashable, T] = {}

    def get(self, shape: tuple[object, ...], make: Callable[[], T]) -> T:
        try:
            found = self._objects.get(shape)
        except TypeError:
            return make()
        if found is None:
            if len(self._objects) >= self._most:
                self._objects.clear()
            found = self._objects[shape] = make()
        return found
