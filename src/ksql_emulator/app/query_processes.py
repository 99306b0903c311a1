"""Persistent queries in more than one process: one interpreter runs one record at a time.

A server with `ksql.emulator.query.processes` above 1 starts that many minus one query
processes beside itself. Each is a server without a REST endpoint: it builds its engine from the
command topic, as a restarted server does, keeps following that topic, and runs the queries the
server places on it (`QueryRunner` places them; this module carries the messages). ksqlDB
spreads work over servers the same way in spirit: every server reads the command topic, and a
query runs where its partitions are assigned.

What a query process does not do: answer statements, or pull and push queries (those read
topics, wherever the query that writes them runs).

Messages, parent to process: ("run", query id, generation, latest positions, paused), ("stop",
query id), ("pause", query id, paused), ("sync", n), ("close",). Process to parent: ("synced", n)
once it has acted on everything before ("sync", n), which the server waits for before it answers
a TERMINATE or PAUSE; and twice a second ("status", {query id: committed positions}, the
queries' metric samples), so `/metrics` shows every query wherever it runs.

A process dies with its server (the kernel kills it when the server goes, however the server
goes), and the server starts it again when it dies on its own.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import logging
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from ksql_emulator import metrics
from ksql_emulator.app.collector import tune_garbage_collector
from ksql_emulator.app.config import ConfigError
from ksql_emulator.contracts.backend import QueryTask, task_generation, task_paused
from ksql_emulator.kafka.command_log import CommandTopic
from ksql_emulator.kafka.gateway import ConfluentGateway
from ksql_emulator.kafka.query_runner import Positions, QueryRunner
from ksql_emulator.service import KsqlService

__all__ = ["PROCESSES_PROPERTY", "QueryProcesses", "WorkerConfig", "process_count"]

log = logging.getLogger(__name__)

PROCESSES_PROPERTY = "ksql.emulator.query.processes"

_STATUS_S = 0.5
# How long a wait for the command topic, or the server's for its processes, lasts at most. Both
# end as soon as there is something to do (a command, a message, a process gone, a close); the
# bound is a safety net, not a polling rate: polling 20 times a second cost an idle stack 0.8%
# of a core across the server and one query process.
_WAIT_S = 1.0
_SYNC_S = 10.0
_CLOSE_S = 30.0
_RESTART_PAUSE_S = 1.0


def process_count(properties: Mapping[str, str]) -> int:
    """How many processes run persistent queries (this one included); names a bad value."""
    raw = str(properties.get(PROCESSES_PROPERTY, "1")).strip()
    try:
        count = int(raw)
    except ValueError:
        count = 0
    if count < 1:
        raise ConfigError(f"{PROCESSES_PROPERTY} must be a whole number of at least 1, not {raw!r}")
    return count


@dataclass(frozen=True)
class WorkerConfig:
    """What a query process needs to build its own engine (sent to it when it starts)."""

    bootstrap_servers: str
    service_id: str
    properties: dict[str, str]
    client_config: dict[str, str]
    log_level: int


class QueryProcesses:
    """The query processes of one server (`RemoteHosts` for its `QueryRunner`).

    One thread of the server starts, feeds and watches the processes: the kernel's "kill me
    when my parent dies" is tied to the thread that started a process, so that thread lives as
    long as the processes do."""

    def __init__(self, count: int, config: WorkerConfig) -> None:
        self._count = count
        self._config = config
        self._guard = threading.Lock()
        # host -> query id -> (generation, latest, paused): what each host must run, resent
        # when it starts again.
        self._assigned: dict[int, dict[str, tuple[int, Positions | None, bool]]] = {
            host: {} for host in range(1, count + 1)
        }
        self._outbox: queue.SimpleQueue[tuple[int, tuple[Any, ...]]] = queue.SimpleQueue()
        # A byte here wakes the supervising thread for the outbox.
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_w.setblocking(False)
        self._syncs: dict[tuple[int, int], threading.Event] = {}
        self._sync_count = 0
        self._committed: dict[str, Positions] = {}
        self._closing = threading.Event()
        self._ready = threading.Event()
        self._failed: OSError | None = None
        self._thread = threading.Thread(target=self._supervise, name="query-processes", daemon=True)

    @property
    def count(self) -> int:
        return self._count

    def start(self) -> None:
        """Starts the processes; raises `OSError` when one cannot be started."""
        self._thread.start()
        self._ready.wait(_CLOSE_S)
        if self._failed is not None:
            raise OSError(f"cannot start a query process: {self._failed}") from self._failed

    def run(
        self, host: int, query_id: str, generation: int, latest: Positions | None, paused: bool
    ) -> None:
        with self._guard:
            self._assigned[host][query_id] = (generation, latest, paused)
        self._post(host, ("run", query_id, generation, latest, paused))

    def stop(self, host: int, query_id: str) -> None:
        with self._guard:
            self._assigned[host].pop(query_id, None)
            self._committed.pop(query_id, None)
        self._post(host, ("stop", query_id))

    def pause(self, host: int, query_id: str, paused: bool) -> None:
        with self._guard:
            generation, latest, _was = self._assigned[host][query_id]
            self._assigned[host][query_id] = (generation, latest, paused)
        self._post(host, ("pause", query_id, paused))

    def sync(self, hosts: set[int]) -> None:
        with self._guard:
            self._sync_count += 1
            number = self._sync_count
            waits = {
                host: self._syncs.setdefault((host, number), threading.Event()) for host in hosts
            }
        for host in hosts:
            self._post(host, ("sync", number))
        deadline = time.monotonic() + _SYNC_S
        for host, done in waits.items():
            # A process that died meanwhile starts again with what it must run: no answer then.
            if not done.wait(max(0.0, deadline - time.monotonic())):
                log.warning("query process %d did not confirm a change in %.0f s", host, _SYNC_S)
        with self._guard:
            for host in hosts:
                self._syncs.pop((host, number), None)

    def _post(self, host: int, message: tuple[Any, ...]) -> None:
        self._outbox.put((host, message))
        self._wake()

    def _wake(self) -> None:
        """Ends the supervising thread's wait (a full socket means a wake-up is pending)."""
        with contextlib.suppress(BlockingIOError):
            self._wake_w.send(b"!")

    def committed(self, query_id: str) -> Positions:
        with self._guard:
            return dict(self._committed.get(query_id, {}))

    def close(self) -> None:
        self._closing.set()
        with contextlib.suppress(OSError):  # closed already: the thread has ended
            self._wake()
        if self._thread.is_alive():
            self._thread.join(_CLOSE_S + 5)

    # --- the supervising thread -----------------------------------------------------------------

    def _spawn(self, host: int) -> tuple[subprocess.Popen[bytes], Connection]:
        # A fresh interpreter (not multiprocessing's spawn, which imports the parent's main
        # module again: a script that embeds the emulator would start itself over).
        mine, theirs = socket.socketpair()
        process = subprocess.Popen(
            [sys.executable, "-m", __name__, str(host), str(theirs.fileno()), str(os.getpid())],
            pass_fds=[theirs.fileno()],
            env=_same_code_env(),
        )
        theirs.close()
        conn = Connection(mine.detach())
        conn.send(self._config)
        with self._guard:
            assigned = dict(self._assigned[host])
        for query_id, (generation, latest, paused) in assigned.items():
            conn.send(("run", query_id, generation, latest, paused))
        return process, conn

    def _supervise(self) -> None:
        workers: dict[int, tuple[subprocess.Popen[bytes], Connection]] = {}
        try:
            for host in range(1, self._count + 1):
                workers[host] = self._spawn(host)
        except OSError as exc:
            self._failed = exc
            self._shut(workers)
            self._ready.set()
            return
        self._ready.set()
        while not self._closing.is_set():
            while True:
                try:
                    host, message = self._outbox.get_nowait()
                except queue.Empty:
                    break
                with contextlib.suppress(OSError):
                    workers[host][1].send(message)
            # A message, a process's exit (its end of the socket closes) or `_post` and
            # `close` (a byte on the wake socket) end the wait.
            ready = wait([self._wake_r, *(c for _p, c in workers.values())], timeout=_WAIT_S)
            if self._wake_r in ready:
                self._wake_r.recv(4096)
            for host, (_p, conn) in workers.items():
                if conn in ready:
                    self._receive(host, conn)
            for host, (process, conn) in list(workers.items()):
                if process.poll() is not None and not self._closing.is_set():
                    log.error(
                        "query process %d exited (code %s); starting it again",
                        host,
                        process.returncode,
                    )
                    conn.close()
                    time.sleep(_RESTART_PAUSE_S)
                    workers[host] = self._spawn(host)
        self._shut(workers)
        self._wake_r.close()
        self._wake_w.close()

    def _receive(self, host: int, conn: Connection) -> None:
        try:
            while conn.poll():
                message = conn.recv()
                if message[0] == "status":
                    with self._guard:
                        assigned = self._assigned[host]
                        for query_id, positions in message[1].items():
                            if query_id in assigned:
                                self._committed[query_id] = positions
                    metrics.set_remote_samples(host, message[2])
                elif message[0] == "synced":
                    with self._guard:
                        done = self._syncs.get((host, message[1]))
                    if done is not None:
                        done.set()
        except (EOFError, OSError):
            pass  # the process died: the supervisor notices and starts it again

    def _shut(self, workers: dict[int, tuple[subprocess.Popen[bytes], Connection]]) -> None:
        for _process, conn in workers.values():
            with contextlib.suppress(OSError):
                conn.send(("close",))
        deadline = time.monotonic() + _CLOSE_S
        for host, (process, conn) in workers.items():
            try:
                process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("query process %d did not stop in time; killing it", host)
                process.kill()
                process.wait(5)
            conn.close()


def _same_code_env() -> dict[str, str]:
    """The environment, with this server's own copy of the emulator first on the path (it
    may come from a source tree the child would not otherwise find)."""
    package_root = str(Path(__file__).resolve().parents[2])
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": package_root + (os.pathsep + path if path else "")}


# --- inside a query process -----------------------------------------------------------------------


def _die_with_parent(parent: int) -> None:
    """Asks the kernel to kill this process when the server that started it dies (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(1)  # the server died before the request above took effect


def main(argv: Sequence[str]) -> None:
    """`python -m ksql_emulator.app.query_processes HOST FD PARENT_PID`, as the server runs it."""
    host, fd, parent = (int(a) for a in argv)
    _die_with_parent(parent)
    conn = Connection(fd)
    config: WorkerConfig = conn.recv()
    run_worker(config, host, conn)


def run_worker(config: WorkerConfig, host: int, conn: Connection) -> None:
    """A query process's life: follow the command topic, run what the server places here."""
    # The server decides when this process stops (a Ctrl-C reaches the whole process group).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(
        level=config.log_level,
        format=f"%(asctime)s %(levelname)s [query process {host}] %(message)s",
    )
    tune_garbage_collector()
    gateway = ConfluentGateway(config.bootstrap_servers, config.client_config)
    backend = KsqlService(gateway, dict(config.properties))
    lock = threading.RLock()
    # query id -> (generation, latest, paused), as the server placed it here.
    wanted: dict[str, tuple[int, Positions | None, bool]] = {}

    def hosted() -> dict[str, QueryTask]:
        tasks = {}
        for q, task in backend.persistent_queries().items():
            if q not in wanted or wanted[q][0] != task_generation(task):
                continue
            # The server's word on PAUSE holds from its answer; this engine hears it later.
            paused = wanted[q][2]
            if task_paused(task) != paused and dataclasses.is_dataclass(task):
                task = dataclasses.replace(task, paused=paused)
            tasks[q] = task
        return tasks

    def latest(task: QueryTask) -> Positions | None:
        return wanted.get(task.query_id, (0, None, False))[1]

    runner = QueryRunner(
        hosted,
        config.bootstrap_servers,
        config.service_id,
        lock,
        config.properties,
        config.client_config,
        latest=latest,
        thread_suffix=f"-p{host}",
    )
    commands = CommandTopic(
        gateway, config.bootstrap_servers, config.service_id, config.client_config
    )
    follower = commands.follow()
    closing = threading.Event()

    def follow() -> None:
        # Blocked in the consumer until a command comes, beside the loop below that waits for
        # the server: one loop polling both woke the process 20 times a second for nothing.
        while not closing.is_set():
            for offset, command in follower.poll(_WAIT_S):
                with lock:
                    try:
                        backend.replay(command)
                    except Exception as exc:  # as a restarted server skips it
                        log.warning(
                            "command %d (%s) not applied: %s", offset, command.command_id, exc
                        )
                # Reconciling after each command sees every query the server saw.
                runner.reconcile()

    following = threading.Thread(target=follow, name="command-follower", daemon=True)
    following.start()
    status_due = 0.0
    try:
        while True:
            wait([conn], timeout=max(0.0, status_due - time.monotonic()))
            changed = False
            syncs = []
            while conn.poll():
                message = conn.recv()
                kind = message[0]
                if kind == "close":
                    return
                with lock:  # `hosted` reads it in the follower's reconcile
                    if kind == "run":
                        wanted[message[1]] = (message[2], message[3], message[4])
                    elif kind == "stop":
                        wanted.pop(message[1], None)
                    elif kind == "pause" and message[1] in wanted:
                        generation, latest_positions, _was = wanted[message[1]]
                        wanted[message[1]] = (generation, latest_positions, message[2])
                if kind == "sync":
                    syncs.append(message[1])
                changed = True
            if changed:
                runner.reconcile()
            for number in syncs:
                conn.send(("synced", number))
            now = time.monotonic()
            if now >= status_due:
                status_due = now + _STATUS_S
                positions = {q: runner.committed(q) for q in wanted}
                conn.send(("status", positions, metrics.query_samples(wanted)))
    except (EOFError, OSError):
        pass  # the server went away
    finally:
        closing.set()
        following.join(_WAIT_S + _CLOSE_S)
        follower.close()
        runner.close()
        with lock:
            backend.close()
        gateway.close()


if __name__ == "__main__":
    main(sys.argv[1:])
