"""Building frozen dataclasses on the hot path.

A frozen dataclass's __init__ sets each field through object.__setattr__; a query builds a
message and a record or two per record it consumes, so the builders fill the instance's
__dict__ directly. The result is equal in every way to one the constructor builds.
"""

from __future__ import annotations

from typing import Any, TypeVar

__all__ = ["filled"]

T = TypeVar("T")


def filled(cls: type[T], fields: dict[str, Any]) -> T:
    """An instance of `cls` (a frozen dataclass without __post_init__) with exactly `fields`."""
    instance = object.__new__(cls)
    instance.__dict__.update(fields)
    return instance
