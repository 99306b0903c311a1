"""What every route shares: the backend behind its lock, running push queries, command statuses."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio.to_thread

from ksql_emulator.contracts.backend import Command, KsqlBackend, PushQuery
from ksql_emulator.contracts.hosting import CommandLog, FeedHandle, PushFeeder, QueryReconciler
from ksql_emulator.server._push import RowChannel

__all__ = ["KSQL_VERSION", "RunningPush", "ServerConfig", "ServerState"]

T = TypeVar("T")

KSQL_VERSION = "0.29.0"


@dataclass
class ServerConfig:
    service_id: str = "default_"
    host: str = "127.0.0.1"
    port: int = 8088
    properties: Mapping[str, str] = field(default_factory=dict)
    push_buffer_rows: int = 1000
    keepalive_s: float = 1.0
    kafka_cluster_id: str = ""


@dataclass
class RunningPush:
    query: PushQuery
    channel: RowChannel
    feed: FeedHandle | None = None


class ServerState:
    """Owns the backend: every backend call goes through `call`, one at a time."""

    def __init__(
        self,
        backend: KsqlBackend,
        config: ServerConfig,
        *,
        feeder: PushFeeder | None = None,
        command_log: CommandLog | None = None,
        reconciler: QueryReconciler | None = None,
        engine_lock: AbstractContextManager[Any] | None = None,
    ) -> None:
        self.backend = backend
        self.config = config
        self.feeder = feeder
        self.command_log = command_log
        self.reconciler = reconciler
        self.engine_lock: AbstractContextManager[Any] = engine_lock or threading.RLock()
        self.started_ms = int(time.time() * 1000)
        self.push_queries: dict[str, RunningPush] = {}
        self.command_statuses: dict[str, dict[str, Any]] = {}
        self._next_sequence = 0
        self._sequence_lock = threading.Lock()

    async def call(self, fn: Callable[[], T]) -> T:
        """Runs `fn` (a backend call) in a worker thread under the engine lock."""

        def locked() -> T:
            with self.engine_lock:
                return fn()

        return await anyio.to_thread.run_sync(locked)

    def record_command(self, command: Command, status: Mapping[str, Any]) -> int:
        """Appends `command` to the command log; returns its sequence number."""
        if self.command_log is not None:
            sequence = self.command_log.append(command)
        else:
            with self._sequence_lock:
                sequence = self._next_sequence
                self._next_sequence += 1
        self.command_statuses[command.command_id] = dict(status)
        return sequence

    def reconcile(self) -> None:
        if self.reconciler is not None:
            self.reconciler.reconcile()
