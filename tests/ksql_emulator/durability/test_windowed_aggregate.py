"""A windowed aggregate through the `ksql-emulator` process on real Kafka, exact across SIGKILL.

100,000 transactions are counted and summed per account in 1-minute tumbling windows; the sink
topic's final row per windowed key must equal what the test computes from what it produced, with
the server running throughout and with the server killed twice while the query is mid-stream
(exactly-once, the emulator's default), and uninterrupted under at-least-once.
"""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
import pytest
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

from streamguard.stack.processes import held_port

pytestmark = pytest.mark.slow

RECORDS = 100_000
ACCOUNTS = 97
WINDOW_MS = 60_000
STEP_MS = 7  # 100,000 records span about 12 one-minute windows


class Server:
    """`python -m ksql_emulator` as an operator runs it, to be killed and started again."""

    def __init__(self, bootstrap: str, service_id: str, state_dir: Path, *defines: str) -> None:
        self.bootstrap = bootstrap
        self.defines = [arg for define in defines for arg in ("-D", define)]
        self.service_id = service_id
        self.state_dir = state_dir
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.log_path = state_dir / "ksql-emulator.log"

    def start(self) -> str:
        # The server inherits the listening socket: its port cannot be taken in between.
        sock = held_port(0)
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        with self.log_path.open("ab") as log, sock:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "ksql_emulator",
                    "--bootstrap-servers",
                    self.bootstrap,
                    "--listeners",
                    self.url,
                    "--listener-fd",
                    str(sock.fileno()),
                    "--service-id",
                    self.service_id,
                    "--state-dir",
                    str(self.state_dir / "state"),
                    *self.defines,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
                pass_fds=(sock.fileno(),),
            )
        deadline = time.monotonic() + 60
        while True:
            assert self.process.poll() is None, self.log()
            try:
                if httpx.get(f"{self.url}/healthcheck", timeout=1).status_code == 200:
                    return self.url
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the emulator did not come up in 60s"
            time.sleep(0.1)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            assert self.process.wait(30) == 0, self.log()
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
            raise

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def ksql(self, statements: str, **properties: str) -> list[dict[str, Any]]:
        response = httpx.post(
            f"{self.url}/ksql",
            json={"ksql": statements, "streamsProperties": properties},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        body: list[dict[str, Any]] = response.json()
        return body


def transactions(base_ms: int) -> list[tuple[str, int, int]]:
    """(account, amount, timestamp) for every record the test produces."""
    return [(f"acct-{i % ACCOUNTS:02d}", i % 1000, base_ms + i * STEP_MS) for i in range(RECORDS)]


def produce(bootstrap: str, topic: str, rows: list[tuple[str, int, int]]) -> None:
    producer = Producer(
        {"bootstrap.servers": bootstrap, "partitioner": "murmur2_random", "linger.ms": 20}
    )
    for account, amount, ts in rows:
        value = json.dumps({"AMOUNT": amount}).encode()
        while True:
            try:
                producer.produce(topic, key=account.encode(), value=value, timestamp=ts)
                break
            except BufferError:
                producer.poll(0.05)
    assert producer.flush(60) == 0


def committed(bootstrap: str, group: str, topic: str, partitions: int) -> int:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        offsets = consumer.committed(
            [TopicPartition(topic, p) for p in range(partitions)], timeout=10
        )
    finally:
        consumer.close()
    return sum(max(0, tp.offset) for tp in offsets)


def wait_committed(
    bootstrap: str, group: str, topic: str, partitions: int, at_least: int, timeout_s: float
) -> int:
    deadline = time.monotonic() + timeout_s
    while True:
        done = committed(bootstrap, group, topic, partitions)
        if done >= at_least:
            return done
        assert time.monotonic() < deadline, f"the query committed {done} of {at_least} records"
        time.sleep(0.05)


def final_rows(bootstrap: str, topic: str) -> tuple[dict[tuple[str, int], Any], list[str]]:
    """The last value per windowed key in `topic`, and any key whose count ever went back."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"reader-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.partition.eof": True,
            "isolation.level": "read_committed",
        }
    )
    consumer.subscribe([topic])
    latest: dict[tuple[str, int], Any] = {}
    regressions: list[str] = []
    partitions = len(consumer.list_topics(topic, timeout=10).topics[topic].partitions)
    at_end: set[int] = set()
    deadline = time.monotonic() + 60
    try:
        while len(at_end) < partitions:
            assert time.monotonic() < deadline, "the sink topic was not read to its end"
            for msg in consumer.consume(1000, 1.0):
                error = msg.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        at_end.add(msg.partition())
                    continue
                at_end.discard(msg.partition())
                key = msg.key()
                (start,) = struct.unpack(">q", key[-8:])
                windowed = (key[:-8].decode(), start)
                value = json.loads(msg.value())
                previous = latest.get(windowed)
                # Every update counts one more record: a repeat or a step back is a record
                # counted twice, or state lost on a restart.
                if previous is not None and value["N"] <= previous["N"]:
                    regressions.append(f"{windowed}: {previous} then {value}")
                latest[windowed] = value
    finally:
        consumer.close()
    return latest, regressions


def expected_rows(rows: list[tuple[str, int, int]]) -> dict[tuple[str, int], dict[str, int]]:
    totals: dict[tuple[str, int], dict[str, int]] = defaultdict(lambda: {"N": 0, "TOTAL": 0})
    for account, amount, ts in rows:
        window = totals[(account, ts - ts % WINDOW_MS)]
        window["N"] += 1
        window["TOTAL"] += amount
    return dict(totals)


@pytest.mark.parametrize(
    ("kills", "guarantee"),
    [(0, "exactly_once_v2"), (2, "exactly_once_v2"), (0, "at_least_once"), (2, "at_least_once")],
    ids=[
        "uninterrupted",
        "killed-twice",
        "uninterrupted-at-least-once",
        "killed-twice-at-least-once",
    ],
)
def test_a_windowed_count_and_sum_is_exact(
    kills: int,
    guarantee: str,
    kafka_bootstrap: str,
    new_topic: Callable[..., str],
    tmp_path: Path,
) -> None:
    partitions = 4
    source = new_topic("txns", partitions=partitions)
    sink = f"totals-{uuid.uuid4().hex[:8]}"
    server = Server(
        kafka_bootstrap,
        f"dur_{uuid.uuid4().hex[:8]}_",
        tmp_path,
        f"ksql.streams.processing.guarantee={guarantee}",
    )
    now = int(time.time() * 1000)
    rows = transactions(now - now % WINDOW_MS - 15 * WINDOW_MS)
    try:
        server.start()
        created = server.ksql(
            f"CREATE STREAM TXNS (ACCOUNT STRING KEY, AMOUNT BIGINT) "
            f"WITH (kafka_topic='{source}', value_format='JSON'); "
            f"CREATE TABLE TOTALS WITH (kafka_topic='{sink}') AS "
            "SELECT ACCOUNT, COUNT(*) AS N, SUM(AMOUNT) AS TOTAL FROM TXNS "
            "WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY ACCOUNT EMIT CHANGES;",
            **{"auto.offset.reset": "earliest"},
        )
        query_id = created[1]["commandStatus"]["queryId"]
        group = f"_confluent-ksql-{server.service_id}query_{query_id}"

        # Chunks produced while the server runs; in each but the last, a SIGKILL.
        bounds = [0, 40_000, 75_000, RECORDS] if kills else [0, RECORDS]
        for n, (low, high) in enumerate(pairwise(bounds)):
            if n >= kills:
                produce(kafka_bootstrap, source, rows[low:high])
                continue
            # Half the chunk, a SIGKILL once the query has committed part of it, the other
            # half to the restarted server: the kill always lands mid-stream, whatever the
            # query's speed and however often its offsets are committed.
            middle = (low + high) // 2
            produce(kafka_bootstrap, source, rows[low:middle])
            wait_committed(kafka_bootstrap, group, source, partitions, low + 1, 60)
            server.kill()
            server.start()
            produce(kafka_bootstrap, source, rows[middle:high])
        started = time.monotonic()
        wait_committed(kafka_bootstrap, group, source, partitions, RECORDS, timeout_s=90)
        print(f"caught up {time.monotonic() - started:.1f}s after the last chunk")

        latest, regressions = final_rows(kafka_bootstrap, sink)
        if guarantee == "exactly_once_v2" or not kills:
            assert regressions == []
        # At-least-once after a kill: the replay repeats updates (a count goes back, then up
        # again through the same values), but no record is counted twice in the state, so
        # every window's last update is exact.
        expected = expected_rows(rows)
        assert len(latest) == len(expected)
        assert latest == expected

        # The catalog and the query came back from the command topic on each restart.
        (streams,) = server.ksql("SHOW STREAMS;")
        assert "TXNS" in {s["name"] for s in streams["streams"]}
        (tables,) = server.ksql("SHOW TABLES;")
        assert "TOTALS" in {t["name"] for t in tables["tables"]}
        (queries,) = server.ksql("SHOW QUERIES;")
        assert [q["id"] for q in queries["queries"]] == [query_id]
    except BaseException:
        print(server.log())
        raise
    finally:
        server.stop()
