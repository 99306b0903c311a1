"""`python -m ksql_emulator.qtt --rest`: hand-written REST tests in QTT's shape through a real
ksql_emulator server process over the session's real Kafka."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow

ORDERS = (
    "CREATE STREAM ORDERS (ID INT KEY, ITEM STRING, QTY INT) "
    "WITH (kafka_topic='orders', value_format='JSON', partitions=1);"
)
PER_ID = "CREATE TABLE PER_ID AS SELECT ID, SUM(QTY) AS TOTAL FROM ORDERS GROUP BY ID;"
INPUTS = [
    {"topic": "orders", "key": 7, "value": {"ITEM": "tea", "QTY": 2}, "timestamp": 10},
    {"topic": "orders", "key": 7, "value": {"ITEM": "cake", "QTY": 3}, "timestamp": 20},
    {"topic": "orders", "key": 8, "value": {"ITEM": "tea", "QTY": 1}, "timestamp": 30},
]


def write_suite(root: Path) -> None:
    tests = [
        {
            "name": "push query sees inserted rows",
            "statements": [
                ORDERS,
                "INSERT INTO ORDERS (ID, ITEM, QTY) VALUES (1, 'jam', 4);",
                "SELECT ITEM, QTY FROM ORDERS EMIT CHANGES LIMIT 1;",
            ],
            "responses": [
                {"admin": {"@type": "currentStatus"}},
                {
                    "query": [
                        {"header": {"schema": "`ITEM` STRING, `QTY` INTEGER"}},
                        {"row": {"columns": ["jam", 4]}},
                        {"finalMessage": "Limit Reached"},
                    ]
                },
            ],
        },
        {
            "name": "pull query reads the aggregate",
            "statements": [ORDERS, PER_ID, "SELECT * FROM PER_ID WHERE ID = 7;"],
            "inputs": INPUTS,
            "responses": [
                {"admin": {"@type": "currentStatus"}},
                {"admin": {"@type": "currentStatus"}},
                {
                    "query": [
                        {"header": {"schema": "`ID` INTEGER KEY, `TOTAL` INTEGER"}},
                        {"row": {"columns": [7, 5]}},
                    ]
                },
            ],
        },
        {
            "name": "a wrong expectation fails",
            "statements": [ORDERS, PER_ID, "SELECT * FROM PER_ID WHERE ID = 8;"],
            "inputs": INPUTS,
            "responses": [
                {"admin": {"@type": "currentStatus"}},
                {"admin": {"@type": "currentStatus"}},
                {"query": [{"header": {}}, {"row": {"columns": [8, 99]}}]},
            ],
        },
        {
            "name": "an expected error passes",
            "statements": [ORDERS, "SELECT * FROM NO_SUCH_STREAM EMIT CHANGES;"],
            "expectedError": {
                "type": "io.confluent.ksql.rest.entity.KsqlStatementErrorMessage",
                "message": "NO_SUCH_STREAM does not exist",
                "status": 400,
            },
        },
        {"name": "a disabled test is skipped", "enabled": False, "statements": [ORDERS]},
    ]
    folder = root / "rest-query-validation-tests"
    folder.mkdir(parents=True)
    (folder / "orders.json").write_text(json.dumps({"tests": tests}))
    # A non-REST file: --rest leaves it out.
    other = root / "query-validation-tests"
    other.mkdir()
    (other / "plain.json").write_text(
        json.dumps({"tests": [{"name": "x", "statements": [ORDERS]}]})
    )


def run_cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ksql_emulator.qtt", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "KAFKA_BOOTSTRAP_SERVERS"}


def test_rest_runs_through_a_real_server(tmp_path: Path, kafka_bootstrap: str) -> None:
    write_suite(tmp_path / "qtt")
    report = tmp_path / "report.json"
    done = run_cli(
        [
            str(tmp_path / "qtt"),
            "--rest",
            "--tier",
            "1",
            "--bootstrap-servers",
            kafka_bootstrap,
            "--report",
            str(report),
            "-v",
        ],
        clean_env(),
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    [row] = [line for line in lines if line.startswith("rest-query-validation-tests/orders.json")]
    assert row.split()[1:] == ["3", "passed", "1", "failed", "1", "skipped"], done.stdout
    assert lines[-1] == "3 passed, 1 failed, 1 skipped"
    assert not any("plain.json" in line for line in lines)
    assert any("FAIL a wrong expectation fails" in line for line in lines)
    results = {r["name"]: r["status"] for r in json.loads(report.read_text())}
    assert results == {
        "push query sees inserted rows": "passed",
        "pull query reads the aggregate": "passed",
        "a wrong expectation fails": "failed",
        "an expected error passes": "passed",
        "a disabled test is skipped": "skipped",
    }


def test_rest_without_kafka_says_how_to_get_one(tmp_path: Path) -> None:
    write_suite(tmp_path / "qtt")
    done = run_cli([str(tmp_path / "qtt"), "--rest"], clean_env())
    assert done.returncode == 2
    assert "--bootstrap-servers" in done.stderr
    assert "streamguard stack up" in done.stderr
    assert "passed" not in done.stdout


def test_rest_with_no_broker_at_the_address_says_so(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{sock.getsockname()[1]}"
    write_suite(tmp_path / "qtt")
    done = run_cli([str(tmp_path / "qtt"), "--rest", "--bootstrap-servers", address], clean_env())
    assert done.returncode == 2
    assert f"no Kafka broker answers at {address}" in done.stderr


def endless_suite(root: Path) -> Path:
    """A REST file whose push query has no LIMIT: its response never ends by itself."""
    tests = [
        {
            "name": "push query without a limit",
            "statements": [ORDERS, "SELECT ITEM, QTY FROM ORDERS EMIT CHANGES;"],
            "inputs": INPUTS,
            "responses": [
                {"admin": {"@type": "currentStatus"}},
                {
                    "query": [
                        {"header": {"schema": "`ITEM` STRING, `QTY` INTEGER"}},
                        {"row": {"columns": ["tea", 2]}},
                        {"row": {"columns": ["cake", 3]}},
                        {"row": {"columns": ["tea", 1]}},
                    ]
                },
            ],
        },
        {
            "name": "inputs after the push query runs",
            "statements": [ORDERS, "SELECT ITEM FROM ORDERS EMIT CHANGES LIMIT 2;"],
            "properties": {"auto.offset.reset": "latest"},
            "inputConditions": {"waitForActivePushQuery": True},
            "inputs": INPUTS,
            "responses": [
                {"admin": {"@type": "currentStatus"}},
                {
                    "query": [
                        {"header": {"schema": "`ITEM` STRING"}},
                        {"row": {"columns": ["tea"]}},
                        {"row": {"columns": ["cake"]}},
                        {"finalMessage": "Limit Reached"},
                    ]
                },
            ],
        },
    ]
    folder = root / "rest-query-validation-tests"
    folder.mkdir(parents=True)
    path = folder / "endless.json"
    path.write_text(json.dumps({"tests": tests}))
    return path


def test_a_push_query_that_never_ends_fails_as_a_timeout_within_the_limit(
    tmp_path: Path, kafka_bootstrap: str
) -> None:
    from ksql_emulator.qtt.loader import load_file
    from ksql_emulator.qtt.rest_run import emulator_server
    from ksql_emulator.qtt.rest_server import driving

    endless, after_start = load_file(endless_suite(tmp_path / "qtt"))
    limit = 4.0
    with emulator_server(kafka_bootstrap) as url, driving(url, kafka_bootstrap, None, limit) as run:
        began = time.monotonic()
        status, reason = run(endless)
        took = time.monotonic() - began
        # The rows all came: only the never-ending response fails it.
        assert (status, reason.split(":")[0]) == ("failed", "timeout"), reason
        # The limit, plus stopping the query and dropping the test's sources and topics.
        assert took < limit + 5.0, took
        # The server is still usable: the next test runs, its inputs sent once its query runs.
        status, reason = run(after_start)
        assert status == "passed", reason


def test_ctrl_c_stops_the_server_and_removes_its_state(
    tmp_path: Path, kafka_bootstrap: str
) -> None:
    endless_suite(tmp_path / "qtt")
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**clean_env(), "TMPDIR": str(temp)}
    command = [sys.executable, "-m", "ksql_emulator.qtt", str(tmp_path / "qtt"), "--rest"]
    args = ["--bootstrap-servers", kafka_bootstrap, "--time-limit", "120"]
    with subprocess.Popen(
        [*command, *args],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        # As at a terminal, even when this test runs where SIGINT is ignored (a background job).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    ) as cli:
        server, url = wait_for_server(temp)
        wait_for_stream(url, "ORDERS")  # into the first test, whose push query never ends
        cli.send_signal(signal.SIGINT)
        out, _ = cli.communicate(timeout=60)
    assert cli.returncode == 130
    assert "passed" not in out
    assert not Path(f"/proc/{server}").exists() or zombie(server)
    assert list(temp.iterdir()) == []


def wait_for_stream(url: str, name: str) -> None:
    """Until the server at `url` lists the stream `name`."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            body = httpx.post(f"{url}/ksql", json={"ksql": "SHOW STREAMS;"}, timeout=5).json()
            if any(s.get("name") == name for entity in body for s in entity.get("streams", [])):
                return
        time.sleep(0.1)
    raise AssertionError(f"no stream {name} on {url}")


def wait_for_server(temp: Path) -> tuple[int, str]:
    """The pid and URL of the ksql_emulator server whose state is under `temp`, once it
    answers."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for proc in Path("/proc").iterdir():
            try:
                cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"ksql_emulator" in cmdline and any(str(temp).encode() in c for c in cmdline):
                listeners = cmdline[cmdline.index(b"--listeners") + 1].decode()
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{listeners}/info", timeout=2).status_code == 200:
                        return int(proc.name), listeners
        time.sleep(0.2)
    raise AssertionError("no server started")


def zombie(pid: int) -> bool:
    try:
        return (Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]) == "Z"
    except OSError:
        return True
