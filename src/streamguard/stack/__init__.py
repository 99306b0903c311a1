"""The local stack of real parts, for machines without Docker: Kafka, PostgreSQL and ksqlDB.

`up` starts what is not running, `status` reports each part, `down` stops exactly the processes
that `up` started (by the pids it recorded) and keeps their data unless asked to purge it.
"""

from __future__ import annotations

import fcntl
import functools
import logging
import shutil
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import httpx

from streamguard.stack import apps, kafka, ksqldb, postgres, processes
from streamguard.stack.errors import MissingToolError, NotReadyError, StackError
from streamguard.stack.state import PartState, StackState

log = logging.getLogger(__name__)

__all__ = [
    "Health",
    "MissingToolError",
    "NotReadyError",
    "PartStatus",
    "StackError",
    "StackState",
    "address",
    "down",
    "status",
    "up",
]


Health = Literal["healthy", "not ready", "died", "stopped", "not started"]


@dataclass(frozen=True)
class PartStatus:
    """One part as `status` reports it."""

    name: str
    address: str | None
    pid: int | None
    health: Health
    log: str | None

    @property
    def running(self) -> bool:
        return self.health in ("healthy", "not ready")

    @property
    def healthy(self) -> bool:
        return self.health == "healthy"

    @property
    def failed(self) -> bool:
        """Started and not serving: it died, or it runs and does not answer. A part nobody
        started, or one stopped on purpose, has not failed."""
        return self.health in ("died", "not ready")


def _to_run(state: StackState, name: str) -> PartState:
    """The part, marked as meant to run before it starts: one that fails to start has failed."""
    part = state.part(name)
    part.intent = "run"
    return part


@contextmanager
def _locked(state_dir: Path) -> Iterator[StackState]:
    """The state, held under a file lock so two `up`s at once do not start two brokers."""
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        lock = (state_dir / ".lock").open("w")
    except OSError as exc:
        raise StackError(
            f"cannot use {state_dir} as the stack's state dir: {exc.strerror or exc}"
        ) from None
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        state = StackState.load(state_dir)
        try:
            yield state
        finally:
            state.save()


def up(
    state_dir: Path,
    *,
    kafka_port: int = kafka.DEFAULT_PORT,
    postgres_port: int = postgres.DEFAULT_PORT,
    ksqldb_port: int = ksqldb.DEFAULT_PORT,
    with_ksqldb: bool = True,
) -> StackState:
    """Start every part that is not running yet; a part already running is left as it is.

    `with_ksqldb=False` leaves out the ksqlDB emulator (tests of Kafka and PostgreSQL alone).
    """
    with _locked(state_dir) as state:
        was = {name: state.part(name).port for name in ("kafka", "postgres")}
        broker = kafka.start(_to_run(state, "kafka"), state_dir, port=kafka_port)
        state.save()
        postgres.start(_to_run(state, "postgres"), state_dir, port=postgres_port)
        state.save()
        _stop_clients_of_moved(state, state_dir, was)
        if with_ksqldb:
            ksqldb.start(
                _to_run(state, "ksqldb"),
                state_dir,
                bootstrap_servers=broker.url or "",
                port=ksqldb_port,
            )
        return state


def _stop_clients_of_moved(state: StackState, state_dir: Path, was: dict[str, int | None]) -> None:
    """Stops the running parts that were given the old address of a server that came back on
    another port (its recorded one was taken): they would go on asking the old one while every
    status said healthy. The next steps (`up`'s emulator, `start_apps`, both of ./start.sh)
    start them again with the new address."""
    moved = [
        name for name, port in was.items() if port is not None and state.part(name).port != port
    ]
    if not moved:
        return
    clients = [*apps.APPS] + (["ksqldb"] if "kafka" in moved else [])
    for name in clients:
        part = state.part(name)
        stopped = (
            ksqldb.stop(part, state_dir) if name == "ksqldb" else apps.stop(name, part, state_dir)
        )
        if stopped:
            part.intent = "stop"
            log.warning(
                "%s came back on another port (%s was taken): %s stopped, to start again with "
                "the new address (./start.sh does)",
                " and ".join(moved),
                ", ".join(str(was[m]) for m in moved),
                name,
            )
    state.save()


# Per part: is our process alive, and does it answer as it should.
_CHECKS: dict[str, tuple[Callable[[PartState, Path], bool], Callable[[PartState], bool]]] = {
    "kafka": (kafka.is_running, lambda p: kafka.is_ready(p.url or "")),
    "postgres": (postgres.is_running, lambda p: p.port is not None and postgres.is_ready(p.port)),
    "ksqldb": (ksqldb.is_running, lambda p: ksqldb.is_ready(p.url or "")),
    # The consumer and producer have no address to ask: running is all there is to know.
    **{name: (functools.partial(apps.is_running, name), lambda p: True) for name in apps.APPS},
    "console": (functools.partial(apps.is_running, "console"), lambda p: _answers(p.url)),
}

CONSOLE_PORT = 8090
CONSOLE_START_S = 30.0


def _answers(url: str | None) -> bool:
    if not url:
        return False
    try:
        return httpx.get(f"{url}/healthz", timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def _start_with_metrics(name: str, state: StackState, state_dir: Path, args: list[str]) -> None:
    """Start an app serving Prometheus metrics on a free port, recorded as `metrics_url`."""
    part = _to_run(state, name)
    if apps.is_running(name, part, state_dir):
        return
    port = processes.free_port()
    apps.start(name, part, state_dir, [*args, "--metrics-port", str(port)])
    part.extra["metrics_url"] = f"http://127.0.0.1:{port}/metrics"


def start_apps(
    state_dir: Path,
    *,
    producer_args: list[str] | None,
    console: bool = True,
    console_port: int = CONSOLE_PORT,
) -> StackState:
    """Start the consumer, the console unless `console` is false, and the producer unless
    `producer_args` is None, in the background. The consumer and producer serve metrics."""
    with _locked(state_dir) as state:
        _start_with_metrics("consumer", state, state_dir, [])
        if console:
            part = _to_run(state, "console")
            if not apps.is_running("console", part, state_dir):
                port = (
                    processes.choose_port(console_port) if console_port else processes.free_port()
                )
                apps.start("console", part, state_dir, ["--port", str(port)])
                part.port, part.url = port, f"http://127.0.0.1:{port}"
                state.save()
                if not processes.wait_until(lambda: _answers(part.url), CONSOLE_START_S):
                    raise StackError(
                        f"the console did not answer on {part.url} within {CONSOLE_START_S:.0f} s",
                        log=apps.log_path(state_dir, "console"),
                    )
        if producer_args is not None:
            _start_with_metrics("producer", state, state_dir, producer_args)
        return state


def _status(name: str, part: PartState, state_dir: Path) -> PartStatus:
    is_running, is_ready = _CHECKS[name]
    health: Health
    if is_running(part, state_dir):
        health = "healthy" if is_ready(part) else "not ready"
    elif part.intent == "run":
        health = "died"
    elif part.intent == "stop":
        health = "stopped"
    else:
        health = "not started"
    return PartStatus(
        name,
        part.url,
        part.pid if health in ("healthy", "not ready") else None,
        health,
        part.extra.get("log"),
    )


def status(state_dir: Path, only: Collection[str] | None = None) -> list[PartStatus]:
    """Kafka and PostgreSQL, and ksqlDB and the apps once the stack has started them; `only`:
    just those of these parts (each part's checks ask its own server, so a caller that wants the
    apps does not wait for the servers' answers)."""
    state = StackState.load(state_dir)
    names = ["kafka", "postgres"] + [name for name in ("ksqldb", *apps.APPS) if name in state.parts]
    if only is not None:
        names = [name for name in names if name in only]
    return [_status(name, state.part(name), state_dir) for name in names]


def address(state_dir: Path, name: str, *, metrics: bool = False) -> str:
    """Where a running part answers, or its Prometheus metrics URL; StackError when it does not
    run or has no such address recorded."""
    state = StackState.load(state_dir)
    if name not in _CHECKS:
        raise StackError(f"no part is named {name!r}; the parts are: {', '.join(_CHECKS)}")
    if name not in state.parts:
        raise StackError(
            f"the stack at {state_dir} has not started {name} (./start.sh, or streamguard "
            "stack up, starts the stack)"
        )
    part = state.part(name)
    if not _CHECKS[name][0](part, state_dir):
        raise StackError(f"{name} is not running in the stack at {state_dir}")
    found = part.extra.get("metrics_url") if metrics else part.url
    if not found:
        what = "metrics URL" if metrics else "address"
        raise StackError(f"{name} has no {what} recorded in {state_dir}")
    return str(found)


def down(state_dir: Path, *, purge: bool = False) -> list[str]:
    """Stop the parts this stack started; with `purge`, delete their data too. Names the stopped."""
    if not state_dir.exists():
        return []
    stopped: list[str] = []
    with _locked(state_dir) as state:
        for part in state.parts.values():
            # Whatever ran, or was meant to, is now stopped on purpose; a part never started
            # stays "not started".
            if part.intent is not None:
                part.intent = "stop"
        # Clients of Kafka and PostgreSQL go first, so nothing loses its server mid-write.
        for name in apps.APPS:
            if apps.stop(name, state.part(name), state_dir):
                stopped.append(name)
        if ksqldb.stop(state.part("ksqldb"), state_dir):
            stopped.append("ksqldb")
        if postgres.stop(state.part("postgres"), state_dir):
            stopped.append("postgres")
        if kafka.stop(state.part("kafka"), state_dir):
            stopped.append("kafka")
    if purge:
        for name in ("kafka", "postgres", "ksqldb", "apps", "stack.json", ".lock"):
            path = state_dir / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
    return stopped
