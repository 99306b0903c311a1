"""What the REST server needs from the Kafka layer: push feeds, the command log, query runs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ksql_emulator.contracts.backend import Command, PushQuery, Row

__all__ = ["CommandLog", "FeedHandle", "PushFeeder", "QueryReconciler", "RowSink"]


class RowSink(Protocol):
    def put(self, rows: Sequence[Row]) -> bool: ...

    def fail(self, exc: BaseException) -> None: ...

    def finish(self) -> None: ...


class FeedHandle(Protocol):
    def stop(self) -> None: ...


class PushFeeder(Protocol):
    """Feeds a push query from its source topics (the Kafka layer implements this)."""

    def start(self, query: PushQuery, offset_reset: str, sink: RowSink) -> FeedHandle: ...


class CommandLog(Protocol):
    """The command topic: `append` returns the command's sequence number once it is durable."""

    def append(self, command: Command) -> int: ...


class QueryReconciler(Protocol):
    """Starts and stops persistent queries to match `engine.persistent_queries()`."""

    def reconcile(self) -> None: ...
