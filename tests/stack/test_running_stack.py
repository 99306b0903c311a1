"""A whole local stack as start.sh runs it: what it listens on, and what `stack status` says
after parts die or are stopped on purpose."""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from streamguard import stack
from streamguard.migrations.local_config import write_local_config
from tests.conftest import ROOT, project_migrations_turn, run_cli, stack_dir


def _cli(state_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # Every address comes from the state dir, none from the environment of this test run.
    env = {k: "" for k in ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL", "KSQLDB_URL")}
    return run_cli("--state-dir", str(state_dir), *args, env=env)


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def _status_rows(state_dir: Path) -> tuple[int, dict[str, str]]:
    """`stack status`'s exit code and, per part, its row's text."""
    result = _cli(state_dir, "stack", "status")
    rows = {}
    for line in result.stdout.splitlines():
        cells = [cell.strip() for cell in line.split("│")]
        if len(cells) > 2 and cells[1] in ("kafka", "postgres", "ksqldb", "producer", "consumer"):
            rows[cells[1]] = line
    return result.returncode, rows


@pytest.fixture(scope="module")
def running_stack() -> Iterator[Path]:
    """start.sh's steps on the local stack: servers, schema, rules, then consumer and producer."""
    state_dir = stack_dir("running")
    try:
        _ok(_cli(state_dir, "stack", "up"))
        _ok(_cli(state_dir, "db", "upgrade"))
        # As start.sh: the project's file names localhost:8088, which another test's stack
        # may hold, so the emulator may listen elsewhere; the copy names where it does.
        url = stack.StackState.load(state_dir).part("ksqldb").url
        assert url, "the stack recorded no ksqlDB address"
        config = str(write_local_config(state_dir / "ksql-migrations.properties", url, ROOT))
        with project_migrations_turn():
            _ok(_cli(state_dir, "migrate", "-c", config, "initialize-metadata"))
            _ok(_cli(state_dir, "migrate", "-c", config, "apply", "--all"))
        _ok(_cli(state_dir, "stack", "apps", "--rate", "5"))
        yield state_dir
    finally:
        stack.down(state_dir, purge=True)
        shutil.rmtree(state_dir, ignore_errors=True)


def _stack_processes(state_dir: Path) -> dict[str, list[psutil.Process]]:
    """Per part, the process the stack recorded and every process it started in turn."""
    state = stack.StackState.load(state_dir)
    found: dict[str, list[psutil.Process]] = {}
    for name, part in state.parts.items():
        if part.pid and psutil.pid_exists(part.pid):
            proc = psutil.Process(part.pid)
            found[name] = [proc, *proc.children(recursive=True)]
    return found


def _is_ipv4_loopback(address: str) -> bool:
    """127.0.0.1, also as a dual-stack socket (Java's) shows it: ::ffff:127.0.0.1."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip == ipaddress.IPv4Address("127.0.0.1")


def _everything_runs(state_dir: Path) -> None:
    """The servers and the apps as the fixture started them: pytest-xdist may hand this module's
    tests to a worker after one that stopped them (./stop.sh, a killed part)."""
    _ok(_cli(state_dir, "stack", "up"))
    _ok(_cli(state_dir, "stack", "apps", "--rate", "5"))


def test_every_server_of_the_stack_listens_on_loopback_only(running_stack: Path) -> None:
    _everything_runs(running_stack)
    processes = _stack_processes(running_stack)
    assert {"kafka", "postgres", "ksqldb", "consumer", "producer"} <= set(processes)
    pids = {proc.pid: name for name, procs in processes.items() for proc in procs}
    listening: dict[str, list[str]] = {name: [] for name in processes}
    for conn in psutil.net_connections(kind="inet"):
        if conn.pid not in pids or conn.raddr:
            continue
        # A TCP socket that listens, or a UDP socket bound to receive from anyone.
        if conn.type == socket.SOCK_STREAM and conn.status != psutil.CONN_LISTEN:
            continue
        listening[pids[conn.pid]].append(conn.laddr.ip)
    # Each server is seen listening (so the check below looks at something)...
    for server in ("kafka", "postgres", "ksqldb"):
        assert listening[server], f"{server} listens on nothing that was found"
    # ...and nothing anywhere listens beyond this machine.
    exposed = {
        name: [a for a in addresses if not _is_ipv4_loopback(a)]
        for name, addresses in listening.items()
    }
    assert not any(exposed.values()), f"listening beyond 127.0.0.1: {exposed}"


def _sent(truth: Path) -> list[bytes]:
    """The lines of the ground-truth file, in order (a torn last line left out)."""
    return [line for line in truth.read_bytes().splitlines(keepends=True) if line.endswith(b"\n")]


def _wait_for(check: Callable[[], bool], what: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.5)


def test_a_restarted_producer_sends_new_transactions_and_adds_to_its_truth(
    running_stack: Path,
) -> None:
    truth = running_stack / "apps" / "ground-truth.jsonl"
    _everything_runs(running_stack)
    # Asked again with other values, it says the running producer keeps its own.
    again = _ok(_cli(running_stack, "stack", "apps", "--rate", "50"))
    assert "the producer runs already, at the rate and fraud share it was started with" in again
    _wait_for(lambda: truth.exists() and len(_sent(truth)) >= 10, "the producer sent nothing")
    producer = stack.StackState.load(running_stack).part("producer")
    assert producer.pid
    os.kill(producer.pid, signal.SIGKILL)
    psutil.Process(producer.pid).wait(30)
    before = _sent(truth)

    _ok(_cli(running_stack, "stack", "apps", "--rate", "20"))
    _wait_for(lambda: len(_sent(truth)) >= len(before) + 10, "the restarted producer sent nothing")
    after = _sent(truth)
    # What the first start sent is still there as it was, and the second start sent none of it
    # again (the same seed would send the same transactions, with new event times).
    assert after[: len(before)] == before
    ids = [json.loads(line)["transaction_id"] for line in after]
    assert len(set(ids)) == len(ids), "a transaction was sent twice"


def test_status_tells_a_part_that_died_from_parts_stopped_on_purpose(running_stack: Path) -> None:
    _everything_runs(running_stack)
    code, rows = _status_rows(running_stack)
    assert code == 0, rows
    assert all("healthy" in row for row in rows.values()), rows

    # A part that was started and died fails the status.
    consumer = stack.StackState.load(running_stack).part("consumer")
    assert consumer.pid
    os.kill(consumer.pid, signal.SIGKILL)
    psutil.Process(consumer.pid).wait(30)
    code, rows = _status_rows(running_stack)
    assert code == 1
    assert "died" in rows["consumer"] and "healthy" in rows["producer"]
    # The pipeline's own status (start.sh names it) says so too, where it said all healthy.
    pipeline = _cli(running_stack, "status")
    assert pipeline.returncode == 1
    assert "down: died" in pipeline.stdout and "consumer of the local stack died" in " ".join(
        pipeline.stderr.split()
    )

    # ./stop.sh stops everything on purpose; `stack up` brings the servers back, not the apps.
    stopped = subprocess.run(
        [str(ROOT / "stop.sh"), "--state-dir", str(running_stack)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "DOCKER_HOST": "unix:///nonexistent/docker.sock"},
    )
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    code, rows = _status_rows(running_stack)
    assert code == 0, rows
    assert all("stopped" in row for row in rows.values()), rows

    _ok(_cli(running_stack, "stack", "up"))
    code, rows = _status_rows(running_stack)
    assert code == 0, rows
    for server in ("kafka", "postgres", "ksqldb"):
        assert "healthy" in rows[server]
    assert "stopped" in rows["consumer"] and "stopped" in rows["producer"]


def test_a_restarted_server_that_lost_its_port_or_its_data(tmp_path: Path) -> None:
    """A restarted PostgreSQL whose recorded port was taken came back on another; the consumer
    went on asking the old one while every status said healthy. Its clients are now started
    again; a deleted data dir is said, not silently made anew."""
    state_dir = stack_dir("moved")
    try:
        _ok(_cli(state_dir, "stack", "up", "--no-ksqldb"))
        _ok(_cli(state_dir, "db", "upgrade"))
        _ok(_cli(state_dir, "stack", "apps", "--no-producer", "--no-console"))
        state = stack.StackState.load(state_dir)
        old_port, consumer_pid = state.part("postgres").port, state.part("consumer").pid
        assert old_port and consumer_pid
        postgres = psutil.Process(state.part("postgres").pid)
        postgres.kill()
        postgres.wait(30)
        with socket.create_server(("127.0.0.1", old_port)):  # someone else took the port
            up = _cli(state_dir, "stack", "up", "--no-ksqldb")
        assert up.returncode == 0, up.stderr
        assert "came back on another port" in " ".join(up.stderr.split())
        assert not psutil.pid_exists(consumer_pid) or psutil.Process(consumer_pid).status() == (
            psutil.STATUS_ZOMBIE
        )
        _ok(_cli(state_dir, "stack", "apps", "--no-producer", "--no-console"))
        state = stack.StackState.load(state_dir)
        assert state.part("postgres").port != old_port
        assert state.part("consumer").pid not in (None, consumer_pid)

        # Its data deleted while it was down: it starts empty, and says what was lost and how
        # the alerts Kafka holds are written again (it said nothing).
        postgres = psutil.Process(state.part("postgres").pid)
        postgres.kill()
        postgres.wait(30)
        shutil.rmtree(state_dir / "postgres" / "data")
        up = _cli(state_dir, "stack", "up", "--no-ksqldb")
        assert up.returncode == 0, up.stderr
        said = " ".join(up.stderr.split())
        assert "data under" in said and "is gone (it ran here before)" in said
        assert "streamguard consume --group" in said
    finally:
        stack.down(state_dir, purge=True)
        shutil.rmtree(state_dir, ignore_errors=True)


def test_status_of_a_state_dir_without_a_stack_says_so(tmp_path: Path) -> None:
    result = _cli(tmp_path / "typo", "status")
    assert "no local stack in" in result.stderr and "typo" in result.stderr


def test_parts_nobody_started_are_not_a_failure(tmp_path: Path) -> None:
    code, rows = _status_rows(tmp_path)
    assert code == 0
    assert "not started" in rows["kafka"] and "not started" in rows["postgres"]


def test_the_broker_keeps_old_event_times_it_was_sent(running_stack: Path) -> None:
    # Traffic with event times months old (`produce --start-time`, the benchmarks) must not be
    # taken for expired: the broker keeps records by size, never by their timestamps' age.
    from confluent_kafka.admin import AdminClient, ConfigResource

    state = stack.StackState.load(running_stack)
    admin = AdminClient({"bootstrap.servers": state.part("kafka").url or ""})
    (future,) = admin.describe_configs([ConfigResource("TOPIC", "transactions")]).values()
    configs = future.result(10)
    assert configs["retention.ms"].value == "-1"
    assert int(configs["retention.bytes"].value) >= 1 << 30


def test_an_address_asked_of_a_part_names_what_is_wrong(tmp_path: Path) -> None:
    """Both said "has started no part named ...": a typo and a stack not up alike."""
    typo = run_cli("stack", "address", "kafak", "--state-dir", str(tmp_path))
    assert typo.returncode == 1
    assert "no part is named 'kafak'; the parts are: kafka, postgres" in typo.stderr
    down = run_cli("stack", "address", "kafka", "--state-dir", str(tmp_path))
    assert down.returncode == 1
    assert "has not started kafka" in down.stderr and "streamguard stack up" in down.stderr


def test_a_state_dir_that_is_a_file_or_a_port_out_of_range_is_a_usage_error(
    tmp_path: Path,
) -> None:
    """They were tracebacks, or a broker started on port 99999 that died."""
    afile = tmp_path / "afile"
    afile.write_text("")
    for args in (["stack", "up"], ["stack", "status"], ["stack", "down"], ["status"],
                 ["alerts"], ["db", "current"]):  # fmt: skip
        done = run_cli("--state-dir", str(afile), *args)
        assert done.returncode == 2, (args, done.stderr)
        assert "is a file, not a folder" in " ".join(done.stderr.split()), args
        assert "Traceback" not in done.stderr
    port = run_cli("stack", "up", "--kafka-port", "99999", "--state-dir", str(tmp_path / "s"))
    assert port.returncode == 2
    assert "--kafka-port" in port.stderr and not (tmp_path / "s").exists()
    # 0 stays what it was, any free port (the tests' stacks use it): past the option's check,
    # these stop at the state dir.
    for args in (["stack", "up", "--kafka-port", "0"], ["stack", "apps", "--console-port", "0"]):
        free = run_cli("--state-dir", str(afile), *args)
        assert "is a file, not a folder" in " ".join(free.stderr.split()), args
