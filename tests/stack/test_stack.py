"""`streamguard stack`: real processes up, idempotent, on taken ports, and cleanly down."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from streamguard import stack
from streamguard.stack import kafka, processes
from streamguard.stack.state import PartState
from tests.conftest import stack_dir

CLI = [sys.executable, "-m", "streamguard.cli"]


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port held by a listening socket of ours for the test's duration."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def _our_pids(state_dir: Path) -> list[int]:
    marker = str(state_dir.resolve())
    pids = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if marker in cmdline and proc.pid != os.getpid():
            pids.append(proc.pid)
    return pids


@pytest.fixture
def default_kafka_port_taken() -> Iterator[int]:
    """Kafka's default port, held by a socket of ours unless something else holds it already."""
    with socket.socket() as sock:
        # As the stack's own check does: a port a stopped broker left in TIME_WAIT is free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Another test's broker may be letting go of the port just now: then it is ours next.
        deadline = time.monotonic() + 30
        while True:
            try:
                sock.bind(("127.0.0.1", kafka.DEFAULT_PORT))
                sock.listen()
                break
            except OSError:
                if not processes.port_is_free(kafka.DEFAULT_PORT):
                    break
            assert time.monotonic() < deadline, "port 9092 neither free nor held"
            time.sleep(0.1)
        assert not processes.port_is_free(kafka.DEFAULT_PORT)
        yield kafka.DEFAULT_PORT


@pytest.fixture
def state_dir() -> Iterator[Path]:
    """A state dir whose processes are stopped afterwards even when the test fails midway."""
    directory = stack_dir("stack-cli")
    yield directory
    stack.down(directory, purge=True)
    shutil.rmtree(directory, ignore_errors=True)


def test_up_twice_then_down_leaves_nothing_running(
    state_dir: Path, default_kafka_port_taken: int
) -> None:
    # Kafka's default port is taken: the stack picks a free one and records it.
    postgres_port = str(processes.free_port())
    ksqldb_port = str(processes.free_port())
    first = _run(
        "stack", "up", "--state-dir", str(state_dir), "--postgres-port", postgres_port,
        "--ksqldb-port", ksqldb_port,
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    recorded = stack.StackState.load(state_dir)
    kafka_part, pg_part = recorded.part("kafka"), recorded.part("postgres")
    assert kafka_part.port != default_kafka_port_taken
    assert kafka.is_ready(f"127.0.0.1:{kafka_part.port}")
    pids_before = sorted(_our_pids(state_dir))
    ksql_part = recorded.part("ksqldb")
    assert {kafka_part.pid, pg_part.pid, ksql_part.pid} <= set(pids_before)

    second = _run("stack", "up", "--state-dir", str(state_dir))
    assert second.returncode == 0, second.stderr
    again = stack.StackState.load(state_dir)
    assert [again.part(p).pid for p in ("kafka", "postgres", "ksqldb")] == [
        kafka_part.pid,
        pg_part.pid,
        ksql_part.pid,
    ]
    assert sorted(_our_pids(state_dir)) == pids_before

    status = _run("stack", "status", "--state-dir", str(state_dir))
    assert status.returncode == 0
    assert f"127.0.0.1:{kafka_part.port}" in status.stdout
    assert status.stdout.count("healthy") == 3
    assert f"http://127.0.0.1:{recorded.part('ksqldb').port}" in status.stdout

    down = _run("stack", "down", "--state-dir", str(state_dir))
    assert down.returncode == 0, down.stderr
    assert _our_pids(state_dir) == []
    # Data is kept without --purge...
    assert (state_dir / "kafka" / "data" / "meta.properties").exists()
    after = _run("stack", "status", "--state-dir", str(state_dir))
    # Stopped on purpose is not a failure, and says so.
    assert after.returncode == 0 and after.stdout.count("stopped") == 3, after.stdout
    # ...and gone with it.
    assert _run("stack", "down", "--state-dir", str(state_dir), "--purge").returncode == 0
    assert not (state_dir / "kafka").exists()


def test_missing_java_is_a_clear_error(tmp_path: Path) -> None:
    result = _run("stack", "up", "--state-dir", str(tmp_path), env={"PATH": "/nonexistent"})
    assert result.returncode == 1
    assert "Java 17" in result.stderr and "java" in result.stderr


def test_broker_that_cannot_bind_names_its_log(
    tmp_path: Path, taken_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As if the port were taken between our check and the broker's bind, every time.
    choose = processes.choose_port
    monkeypatch.setattr(
        processes,
        "choose_port",
        lambda preferred, avoid=None: choose(preferred, avoid) if avoid else taken_port,
    )
    with pytest.raises(stack.StackError) as error:
        kafka.start(PartState(), tmp_path, timeout_s=60)
    assert str(tmp_path / "kafka" / "logs") in str(error.value)
    assert error.value.log is not None and error.value.log.exists()
    # The cause is quoted from the log, which a purged state dir would take with it.
    assert "Address already in use" in str(error.value)
    assert _our_pids(tmp_path) == []


def test_broker_not_ready_in_time_is_a_clear_error(tmp_path: Path) -> None:
    part = PartState()
    try:
        with pytest.raises(stack.NotReadyError) as error:
            kafka.start(part, tmp_path, port=processes.free_port(), timeout_s=0.1)
        assert "not ready within" in str(error.value)
        assert "server.log" in str(error.value)
    finally:
        kafka.stop(part, tmp_path)


def test_emulator_on_a_taken_port_starts_on_a_free_one_held_from_the_choice_with_our_settings(
    kafka_bootstrap: str, taken_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another program trying for the chosen port before the emulator serves it must fail.
    spawn = processes.spawn
    free_before_spawn: list[bool] = []

    def spawn_after_a_try(argv: list[str], **kwargs: Any) -> int:
        port = int(argv[argv.index("--listeners") + 1].rsplit(":", 1)[1])
        free_before_spawn.append(processes.port_is_free(port))
        return spawn(argv, **kwargs)

    monkeypatch.setattr(processes, "spawn", spawn_after_a_try)
    # The stack's settings reach the emulator as its server properties.
    monkeypatch.setenv("STREAMGUARD_KSQL_TABLE_LINGER_MS", "250")
    directory = stack_dir("ksqldb-bind")
    part = PartState()
    try:
        started = stack.ksqldb.start(
            part, directory, bootstrap_servers=kafka_bootstrap, port=taken_port
        )
        assert started.port != taken_port
        assert started.url and stack.ksqldb.is_ready(started.url)
        assert free_before_spawn == [False]
        shown = httpx.post(f"{started.url}/ksql", json={"ksql": "SHOW PROPERTIES;"}, timeout=30)
        properties = {p["name"]: p["value"] for p in shown.json()[0]["properties"]}
        assert properties["ksql.emulator.table.linger.ms"] == "250"
        assert properties["ksql.streams.processing.guarantee"] == "at_least_once"
    finally:
        stack.ksqldb.stop(part, directory)
        shutil.rmtree(directory, ignore_errors=True)


def test_held_port_is_the_preferred_one_when_free_else_any(taken_port: int) -> None:
    with processes.held_port(taken_port) as moved:
        assert moved.getsockname()[1] != taken_port
    free = processes.free_port()
    with processes.held_port(free) as kept:
        assert kept.getsockname()[1] == free
        assert not processes.port_is_free(free)
    with processes.held_port(0) as any_port:
        assert any_port.getsockname()[1] > 0
