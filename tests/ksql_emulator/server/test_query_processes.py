"""Persistent queries spread over query processes (`ksql.emulator.query.processes`), over Kafka."""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from confluent_kafka import Consumer

from ksql_emulator.app.query_processes import QueryProcesses, WorkerConfig
from ksql_emulator.kafka.query_runner import Positions, QueryRunner
from tests.ksql_emulator.server.test_query_lifecycle import wait_until
from tests.ksql_emulator.server.test_real_engine import emulator_process, ksql, pull_until

pytestmark = pytest.mark.slow

EXACTLY_ONCE = {
    "ksql.emulator.query.processes": "2",
    "ksql.streams.processing.guarantee": "exactly_once_v2",
}

# Two stateful and two stateless queries: the placement puts one of each in each process.
QUERIES = """
CREATE STREAM S (K STRING KEY, V INT) WITH (kafka_topic='{source}', value_format='JSON');
CREATE TABLE COUNTS WITH (kafka_topic='{prefix}counts') AS
  SELECT K, COUNT(*) AS N FROM S GROUP BY K;
CREATE STREAM BIG WITH (kafka_topic='{prefix}big') AS SELECT K, V FROM S WHERE V > 10;
CREATE TABLE SUMS WITH (kafka_topic='{prefix}sums') AS SELECT K, SUM(V) AS T FROM S GROUP BY K;
CREATE STREAM SMALL WITH (kafka_topic='{prefix}small') AS SELECT K, V FROM S WHERE V <= 10;
"""
SINKS = ("counts", "big", "sums", "small")


def read_committed(bootstrap: str, topic: str, *, settle_s: float = 1.5) -> list[Any]:
    """Every committed record of `topic` now, as (key, value) with the value parsed."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"reader-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
        }
    )
    consumer.subscribe([topic])
    records: list[Any] = []
    quiet_until = time.monotonic() + settle_s + 3  # the first fetch includes joining the group
    try:
        while time.monotonic() < quiet_until:
            batch = [m for m in consumer.consume(100, 0.2) if m.error() is None]
            if batch:
                quiet_until = time.monotonic() + settle_s
            records += [(m.key().decode(), json.loads(m.value())) for m in batch]
    finally:
        consumer.close()
    return records


def query_processes(server: subprocess.Popen[bytes]) -> list[psutil.Process]:
    """The live query processes of a server (not one that died and is not yet reaped)."""
    found = []
    try:
        children = psutil.Process(server.pid).children()
    except psutil.NoSuchProcess:
        return []
    for child in children:
        try:
            if "ksql_emulator.app.query_processes" in " ".join(child.cmdline()):
                found.append(child)
        except psutil.Error:
            pass  # gone, or a zombie
    return found


def insert(client: httpx.Client, rows: list[tuple[str, int]]) -> None:
    text = " ".join(f"INSERT INTO S (K, V) VALUES ('{k}', {v});" for k, v in rows)
    response = ksql(client, text)
    assert response.status_code == 200, response.text


def outputs(bootstrap: str, prefix: str) -> dict[str, list[Any]]:
    return {sink: read_committed(bootstrap, f"{prefix}{sink}") for sink in SINKS}


def expected(rows: list[tuple[str, int]]) -> dict[str, list[Any]]:
    """What the four queries write for `rows`, inserted in order."""
    counts: dict[str, int] = {}
    sums: dict[str, int] = {}
    out: dict[str, list[Any]] = {sink: [] for sink in SINKS}
    for k, v in rows:
        counts[k] = counts.get(k, 0) + 1
        sums[k] = sums.get(k, 0) + v
        out["counts"].append((k, {"N": counts[k]}))
        out["sums"].append((k, {"T": sums[k]}))
        out["big" if v > 10 else "small"].append((k, {"V": v}))
    return out


@contextmanager
def four_queries(
    bootstrap: str, source: str, tmp_path: Path, rows: list[tuple[str, int]]
) -> Iterator[tuple[httpx.Client, str, subprocess.Popen[bytes]]]:
    """A server with two query processes (exactly-once) running QUERIES over `source`, once they
    have written what `rows` cause: its client, its sinks' prefix and its process."""
    prefix = f"qp-{uuid.uuid4().hex[:8]}-"
    started: list[subprocess.Popen[bytes]] = []
    with (
        emulator_process(
            bootstrap, f"t_{uuid.uuid4().hex[:8]}_", tmp_path, EXACTLY_ONCE, started
        ) as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        created = ksql(client, QUERIES.format(source=source, prefix=prefix))
        assert created.status_code == 200, created.text
        insert(client, rows)
        wait_until(lambda: outputs(bootstrap, prefix) == expected(rows), "the first rows")
        yield client, prefix, started[0]


@pytest.fixture
def source(new_topic: Callable[..., str]) -> str:
    return new_topic("spread")


def test_queries_in_two_processes_write_exactly_what_one_process_writes(
    kafka_bootstrap: str, source: str, tmp_path: Path
) -> None:
    rows = [("a", 5), ("b", 20), ("a", 30), ("c", 1)]
    with four_queries(kafka_bootstrap, source, tmp_path, rows) as (client, prefix, server):
        (worker,) = query_processes(server)

        # A stopped query process holds up the queries placed on it, and only those: so
        # each process runs some of them.
        worker.suspend()
        try:
            insert(client, [("d", 50), ("d", 2)])
            time.sleep(3)
            moved = outputs(kafka_bootstrap, prefix)
            advanced = {s for s in SINKS if moved[s] != expected(rows)[s]}
            assert advanced and advanced != set(SINKS), moved
        finally:
            worker.resume()
        rows += [("d", 50), ("d", 2)]
        wait_until(lambda: outputs(kafka_bootstrap, prefix) == expected(rows), "the held rows")

        # Every query's counters reach /metrics, wherever it runs.
        def counted() -> set[str]:
            text = client.get("/metrics").text
            return {
                line.split('query_id="')[1].split('"')[0]
                for line in text.splitlines()
                if line.startswith("ksql_emulator_query_records_in_total")
                and not line.endswith(" 0.0")
            }

        ids = {q["id"] for q in ksql(client, "SHOW QUERIES;").json()[0]["queries"]}
        assert len(ids) == 4
        wait_until(lambda: counted() >= ids, "every query's metrics", timeout_s=10)

        # A pull query reads a table wherever the query that writes it runs.
        body = pull_until(client, "SELECT * FROM SUMS WHERE K = 'd';", 1)
        assert [item["row"]["columns"] for item in body[1:]] == [["d", 52]]


def test_pause_and_terminate_take_effect_on_their_answer_in_whichever_process(
    kafka_bootstrap: str, source: str, tmp_path: Path
) -> None:
    rows = [("a", 5), ("b", 20)]
    with four_queries(kafka_bootstrap, source, tmp_path, rows) as (client, prefix, _server):
        ids = [q["id"] for q in ksql(client, "SHOW QUERIES;").json()[0]["queries"]]

        # Paused from the answer on, wherever a query runs, and resumed where it stopped.
        for query_id in ids:
            assert ksql(client, f"PAUSE {query_id};").status_code == 200
        insert(client, [("a", 7)])
        time.sleep(3)
        assert outputs(kafka_bootstrap, prefix) == expected(rows)
        for query_id in ids:
            assert ksql(client, f"RESUME {query_id};").status_code == 200
        rows += [("a", 7)]
        wait_until(lambda: outputs(kafka_bootstrap, prefix) == expected(rows), "the resumed rows")

        # Terminated from the answer on, wherever a query runs.
        for query_id in ids:
            stopped = ksql(client, f"TERMINATE {query_id};")
            assert stopped.status_code == 200, stopped.text
        insert(client, [("c", 1), ("c", 50)])
        time.sleep(3)
        assert outputs(kafka_bootstrap, prefix) == expected(rows)
        # Created again, each query starts over from the source's beginning.
        again = ksql(
            client, "DROP TABLE COUNTS; DROP STREAM BIG; DROP TABLE SUMS; DROP STREAM SMALL;"
        )
        assert again.status_code == 200, again.text
        recreated = QUERIES.format(source=source, prefix=f"{prefix}2-").split(";", 1)[1]
        response = client.post(
            "/ksql",
            json={"ksql": recreated, "streamsProperties": {"auto.offset.reset": "earliest"}},
        )
        assert response.status_code == 200, response.text
        everything = [*rows, ("c", 1), ("c", 50)]
        wait_until(
            lambda: outputs(kafka_bootstrap, f"{prefix}2-") == expected(everything),
            "the re-created queries' output",
        )


def test_a_killed_query_process_starts_again_and_its_queries_resume_exactly(
    kafka_bootstrap: str, source: str, tmp_path: Path
) -> None:
    rows = [("a", 5), ("b", 20)]
    with four_queries(kafka_bootstrap, source, tmp_path, rows) as (client, prefix, server):
        (first,) = query_processes(server)
        first.kill()
        wait_until(
            lambda: (
                len(query_processes(server)) == 1
                and first.pid not in [p.pid for p in query_processes(server)]
            ),
            "a new query process",
        )
        more = [("a", 40), ("c", 3), ("b", 1)]
        insert(client, more)
        wait_until(
            lambda: outputs(kafka_bootstrap, prefix) == expected(rows + more), "the later rows"
        )
    log = "".join(p.read_text() for p in tmp_path.glob("ksql-emulator-*.log"))
    assert "query process 1 exited (code -9); starting it again" in log


def test_query_processes_end_with_their_server_however_it_ends(
    kafka_bootstrap: str, source: str, tmp_path: Path
) -> None:
    started: list[subprocess.Popen[bytes]] = []
    defines = {"ksql.emulator.query.processes": "3"}
    with emulator_process(
        kafka_bootstrap, f"t_{uuid.uuid4().hex[:8]}_", tmp_path, defines, started
    ):
        workers = query_processes(started[0])
        assert len(workers) == 2
        started[0].send_signal(signal.SIGKILL)
        started[0].wait(10)
        _gone, alive = psutil.wait_procs(workers, timeout=10)
        assert alive == [], "query processes outlived their server"


def test_a_bad_process_count_is_refused_by_name() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ksql_emulator",
            "--bootstrap-servers",
            "127.0.0.1:1",
            "-Dksql.emulator.query.processes=two",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "ksql-emulator: ksql.emulator.query.processes must be a whole number of at least 1, "
        "not 'two'"
    )


# --- placement, the runner alone ------------------------------------------------------------


@dataclass
class _Task:
    query_id: str
    stateful: bool
    generation: int = 0
    paused: bool = False
    properties: dict[str, str] = field(default_factory=dict)
    source_topics: tuple[str, ...] = ("placement-test-no-such-topic",)
    windowed_sinks: dict[str, int] = field(default_factory=dict)


@dataclass
class _Hosts:
    count: int = 1
    calls: list[tuple[Any, ...]] = field(default_factory=list)

    def run(
        self, host: int, query_id: str, generation: int, latest: Positions | None, paused: bool
    ) -> None:
        self.calls.append(("run", host, query_id, generation))

    def stop(self, host: int, query_id: str) -> None:
        self.calls.append(("stop", host, query_id))

    def pause(self, host: int, query_id: str, paused: bool) -> None:
        self.calls.append(("pause", host, query_id, paused))

    def sync(self, hosts: set[int]) -> None:
        self.calls.append(("sync", sorted(hosts)))

    def committed(self, query_id: str) -> Positions:
        return {}


@pytest.fixture
def placed(kafka_bootstrap: str) -> Iterator[tuple[dict[str, Any], _Hosts, QueryRunner]]:
    tasks: dict[str, Any] = {}
    hosts = _Hosts()
    runner = QueryRunner(
        lambda: dict(tasks),
        kafka_bootstrap,
        f"t_{uuid.uuid4().hex[:8]}_",
        threading.RLock(),
        {"auto.offset.reset": "earliest"},
        remote=hosts,
    )
    try:
        yield tasks, hosts, runner
    finally:
        runner.close()


def test_each_query_goes_to_the_least_loaded_process_and_stays_there(
    placed: tuple[dict[str, Any], _Hosts, QueryRunner],
) -> None:
    tasks, hosts, runner = placed
    for query_id, stateful in [("AGG1", True), ("F1", False), ("AGG2", True), ("F2", False)]:
        tasks[query_id] = _Task(query_id, stateful)
        runner.reconcile()
    # A stateful query weighs three: AGG1 here; F1 and AGG2 there (1 + 3 against 3); F2 here.
    assert runner.hosts() == {"AGG1": 0, "F1": 1, "AGG2": 1, "F2": 0}
    assert hosts.calls == [("run", 1, "F1", 0), ("run", 1, "AGG2", 0)]

    # Created again (a new generation), a query goes back where it ran, whatever the load.
    del tasks["AGG1"]
    tasks["F3"] = _Task("F3", False)
    runner.reconcile()
    assert runner.hosts()["F3"] == 0
    tasks["AGG2"] = _Task("AGG2", True, generation=1)
    runner.reconcile()
    assert hosts.calls[2:] == [("stop", 1, "AGG2"), ("sync", [1]), ("run", 1, "AGG2", 1)]
    assert runner.hosts()["AGG2"] == 1


def test_a_server_without_query_processes_runs_every_query_itself(
    kafka_bootstrap: str,
) -> None:
    tasks = {q: _Task(q, s) for q, s in [("AGG1", True), ("F1", False)]}
    runner = QueryRunner(
        lambda: dict(tasks), kafka_bootstrap, f"t_{uuid.uuid4().hex[:8]}_", threading.RLock()
    )
    try:
        runner.reconcile()
        assert runner.hosts() == {"AGG1": 0, "F1": 0}
    finally:
        runner.close()


def test_a_query_process_that_cannot_start_fails_the_server_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(subprocess, "Popen", refuse)
    processes = QueryProcesses(1, WorkerConfig("127.0.0.1:1", "t_", {}, {}, logging.INFO))
    with pytest.raises(OSError, match=r"cannot start a query process: .*Permission denied"):
        processes.start()
    processes.close()
