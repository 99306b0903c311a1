"""The `ksql-emulator` process with the real engine over real Kafka, as clients see it."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from confluent_kafka import Consumer

from streamguard.ksqldb import CurrentStatus, KsqlClient, KsqlStatementError, StreamsList
from streamguard.stack.processes import held_port

pytestmark = pytest.mark.slow


@contextmanager
def emulator_process(
    bootstrap: str,
    service_id: str,
    state_dir: Path,
    defines: dict[str, str] | None = None,
    started: list[subprocess.Popen[bytes]] | None = None,
) -> Iterator[str]:
    """`python -m ksql_emulator` on a free port until the block ends (then SIGTERM); the port
    is bound here and the listening socket inherited, so it cannot be lost in between.
    `defines`: server properties (-D); `started` receives the process."""
    sock = held_port(0)
    port = sock.getsockname()[1]
    log_path = state_dir / f"ksql-emulator-{port}.log"
    state_dir.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log, sock:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ksql_emulator",
                "--bootstrap-servers",
                bootstrap,
                "--listeners",
                f"http://127.0.0.1:{port}",
                "--listener-fd",
                str(sock.fileno()),
                "--service-id",
                service_id,
                "--state-dir",
                str(state_dir / "state"),
                *(f"-D{k}={v}" for k, v in (defines or {}).items()),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            pass_fds=(sock.fileno(),),
        )
    if started is not None:
        started.append(process)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log_path.read_text()[-3000:]
            try:
                if httpx.get(f"{url}/healthcheck", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the emulator did not come up in 60s"
            time.sleep(0.2)
        yield url
    finally:
        if process.poll() is None:  # else the test killed it
            process.send_signal(signal.SIGTERM)
            try:
                # Stopping commits every query's final positions (a round trip per consumer
                # group, slow on a loaded machine): seconds, not the 20 it was given.
                assert process.wait(60) == 0, log_path.read_text()[-3000:]
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
                raise


@pytest.fixture
def emulator_url(kafka_bootstrap: str, tmp_path: Path) -> Iterator[str]:
    with emulator_process(kafka_bootstrap, f"t_{uuid.uuid4().hex[:8]}_", tmp_path) as url:
        yield url


def ksql(client: httpx.Client, statements: str) -> httpx.Response:
    return client.post("/ksql", json={"ksql": statements, "streamsProperties": {}})


def test_insert_values_then_a_push_query_sees_the_row_as_it_is_inserted(
    emulator_url: str, new_topic: Callable[..., str]
) -> None:
    topic = new_topic("rows")
    with httpx.Client(base_url=emulator_url, http1=False, http2=True, timeout=30) as client:
        created = ksql(
            client,
            f"CREATE STREAM S (K STRING KEY, V INT) WITH (kafka_topic='{topic}', "
            "value_format='JSON');",
        )
        assert created.status_code == 200, created.text
        assert created.json()[0]["@type"] == "currentStatus"
        with client.stream(
            "POST", "/query-stream", json={"sql": "SELECT * FROM S EMIT CHANGES LIMIT 1;"}
        ) as response:
            lines = response.iter_lines()
            header = json.loads(next(lines))
            assert header["columnNames"] == ["K", "V"]
            inserted = ksql(client, "INSERT INTO S (K, V) VALUES ('a', 1);")
            assert inserted.status_code == 200, inserted.text
            assert json.loads(next(lines)) == ["a", 1]


def test_ksql_errors_are_shaped_as_ksqldb_shapes_them(emulator_url: str) -> None:
    with httpx.Client(base_url=emulator_url, http1=False, http2=True, timeout=30) as client:
        response = ksql(client, "CREATE STREAM;")
    assert response.status_code == 400
    body = response.json()
    assert body["@type"] == "statement_error"
    assert body["error_code"] == 40001
    assert body["message"].startswith("line 1:")
    assert body["statementText"] == "CREATE STREAM;"
    assert body["entities"] == []


def test_twenty_concurrent_clients(emulator_url: str, new_topic: Callable[..., str]) -> None:
    topic = new_topic("many")
    with httpx.Client(base_url=emulator_url, timeout=30) as client:
        created = ksql(
            client,
            f"CREATE STREAM M (K STRING KEY, V INT) WITH (kafka_topic='{topic}', "
            "value_format='JSON');",
        )
        assert created.status_code == 200, created.text
    results: dict[int, list[Any]] = {}
    ready = threading.Barrier(21)

    def client_run(n: int) -> None:
        with (
            httpx.Client(base_url=emulator_url, http1=False, http2=True, timeout=30) as c,
            c.stream(
                "POST", "/query-stream", json={"sql": "SELECT * FROM M EMIT CHANGES LIMIT 2;"}
            ) as response,
        ):
            lines = response.iter_lines()
            next(lines)
            ready.wait(30)
            results[n] = [json.loads(line) for line in lines]

    threads = [threading.Thread(target=client_run, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    ready.wait(30)
    with httpx.Client(base_url=emulator_url, timeout=30) as client:
        ksql(client, "INSERT INTO M (K, V) VALUES ('x', 1); INSERT INTO M (K, V) VALUES ('y', 2);")
    for t in threads:
        t.join(30)
    assert len(results) == 20
    assert all(rows == [["x", 1], ["y", 2]] for rows in results.values())


def sink_records(bootstrap: str, topic: str, expected: int) -> list[tuple[Any, Any]]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"reader-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    records: list[tuple[Any, Any]] = []
    deadline = time.monotonic() + 20
    try:
        while len(records) < expected and time.monotonic() < deadline:
            records += [
                (m.key(), json.loads(m.value()))
                for m in consumer.consume(100, 0.2)
                if m.error() is None
            ]
        records += [
            (m.key(), json.loads(m.value()))
            for m in consumer.consume(100, 1.0)
            if m.error() is None
        ]
    finally:
        consumer.close()
    return records


def test_a_persistent_query_writes_its_sink_and_survives_a_restart(
    kafka_bootstrap: str, new_topic: Callable[..., str], tmp_path: Path
) -> None:
    source = new_topic("orders")
    sink = f"doubled-{uuid.uuid4().hex[:8]}"
    service_id = f"t_{uuid.uuid4().hex[:8]}_"
    with (
        emulator_process(kafka_bootstrap, service_id, tmp_path) as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        created = client.post(
            "/ksql",
            json={
                "ksql": f"CREATE STREAM O (K STRING KEY, V INT) WITH (kafka_topic='{source}', "
                "value_format='JSON'); "
                f"CREATE STREAM D WITH (kafka_topic='{sink}') AS SELECT K, V * 2 AS V2 FROM O;",
                "streamsProperties": {"auto.offset.reset": "earliest"},
            },
        )
        assert created.status_code == 200, created.text
        assert [e["commandSequenceNumber"] for e in created.json()] == [0, 1]
        assert ksql(client, "INSERT INTO O (K, V) VALUES ('a', 1);").status_code == 200
        assert sink_records(kafka_bootstrap, sink, 1) == [(b"a", {"V2": 2})]

    with (
        emulator_process(kafka_bootstrap, service_id, tmp_path) as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        shown = ksql(client, "SHOW STREAMS;").json()[0]["streams"]
        assert {"O", "D"} <= {s["name"] for s in shown}
        assert ksql(client, "INSERT INTO O (K, V) VALUES ('b', 5);").status_code == 200
        assert sink_records(kafka_bootstrap, sink, 2) == [(b"a", {"V2": 2}), (b"b", {"V2": 10})]


def test_the_apps_own_client_cannot_tell_the_emulator_from_ksqldb(
    emulator_url: str, new_topic: Callable[..., str]
) -> None:
    topic = new_topic("app")
    with KsqlClient(emulator_url) as client:
        assert client.info().ksql_service_id.startswith("t_")
        assert client.healthcheck().is_healthy
        (created,) = client.execute(
            f"CREATE STREAM P (K STRING KEY, AMOUNT DECIMAL(12, 2)) WITH (kafka_topic='{topic}', "
            "value_format='JSON');"
        )
        assert isinstance(created, CurrentStatus)
        assert created.command_status.status == "SUCCESS"
        (streams,) = client.execute("SHOW STREAMS;")
        assert isinstance(streams, StreamsList)
        assert "P" in [s.name for s in streams.streams]
        with pytest.raises(KsqlStatementError) as refused:
            client.execute("DROP STREAM NOT_THERE;")
        assert refused.value.error_code == 40001
        with client.stream_query("SELECT * FROM P EMIT CHANGES;") as stream:
            assert stream.column_names == ["K", "AMOUNT"]
            acks = client.insert_into("P", [{"K": "a", "AMOUNT": Decimal("12.50")}])
            assert [a.seq for a in acks] == [0]
            assert next(stream) == ["a", Decimal("12.50")]
            assert stream.query_id is not None
            client.close_query(stream.query_id)
            assert list(stream) == []
        assert client.pull_query("SELECT * FROM P;") == [{"K": "a", "AMOUNT": Decimal("12.50")}]


def test_a_push_query_client_sees_each_row_as_it_is_inserted(
    emulator_url: str, new_topic: Callable[..., str]
) -> None:
    topic = new_topic("each")
    with httpx.Client(base_url=emulator_url, http1=False, http2=True, timeout=30) as client:
        created = ksql(
            client,
            f"CREATE STREAM E (K STRING KEY, V INT) WITH (kafka_topic='{topic}', "
            "value_format='JSON');",
        )
        assert created.status_code == 200, created.text
        with client.stream(
            "POST", "/query-stream", json={"sql": "SELECT * FROM E EMIT CHANGES LIMIT 3;"}
        ) as response:
            lines = response.iter_lines()
            next(lines)
            for n in range(3):
                inserted = ksql(client, f"INSERT INTO E (K, V) VALUES ('k{n}', {n});")
                assert inserted.status_code == 200, inserted.text
                assert json.loads(next(lines)) == [f"k{n}", n]


def pull_until(client: httpx.Client, sql: str, rows: int) -> list[Any]:
    """A pull query's /query response once it has `rows` rows (the table fills asynchronously)."""
    deadline = time.monotonic() + 20
    while True:
        response = client.post("/query", json={"ksql": sql, "streamsProperties": {}})
        assert response.status_code == 200, response.text
        body: list[Any] = response.json()
        if len([item for item in body if "row" in item]) >= rows:
            return body
        assert time.monotonic() < deadline, f"{sql} returned {body}"
        time.sleep(0.2)


def test_a_pull_query_returns_the_materialized_rows(
    emulator_url: str, new_topic: Callable[..., str]
) -> None:
    topic = new_topic("counted")
    with httpx.Client(base_url=emulator_url, timeout=30) as client:
        created = ksql(
            client,
            f"CREATE STREAM C (K STRING KEY, V INT) WITH (kafka_topic='{topic}', "
            "value_format='JSON'); "
            "CREATE TABLE TOTALS AS SELECT K, COUNT(*) AS N, SUM(V) AS S FROM C GROUP BY K; "
            "CREATE TABLE PER_SECOND AS SELECT K, COUNT(*) AS N FROM C "
            "WINDOW TUMBLING (SIZE 1 SECOND) GROUP BY K;",
        )
        assert created.status_code == 200, created.text
        inserted = ksql(
            client,
            "INSERT INTO C (ROWTIME, K, V) VALUES (1000, 'a', 1); "
            "INSERT INTO C (ROWTIME, K, V) VALUES (1500, 'a', 2); "
            "INSERT INTO C (ROWTIME, K, V) VALUES (2500, 'b', 5);",
        )
        assert inserted.status_code == 200, inserted.text

        body = pull_until(client, "SELECT * FROM TOTALS WHERE K = 'a';", 1)
        assert body[0]["header"]["schema"] == "`K` STRING KEY, `N` BIGINT, `S` INTEGER"
        assert [item["row"]["columns"] for item in body[1:]] == [["a", 2, 3]]

        # Window bounds survive the round trip through the sink topic's windowed keys.
        body = pull_until(client, "SELECT * FROM PER_SECOND WHERE WINDOWSTART >= 1000;", 2)
        rows = sorted(item["row"]["columns"] for item in body[1:])
        assert rows == [["a", 1000, 2000, 2], ["b", 2000, 3000, 1]]

        refused = client.post("/query", json={"ksql": "SELECT * FROM TOTALS WHERE K = 1;"})
        assert refused.status_code == 400
        assert refused.json()["message"].startswith(
            "Error in WHERE expression: Cannot compare K (STRING) to 1 (INTEGER) with EQUAL."
        )


def test_query_stream_sends_one_line_per_http2_frame_over_real_kafka(
    emulator_url: str, new_topic: Callable[..., str], kafka_bootstrap: str
) -> None:
    from confluent_kafka import Producer

    from tests.ksql_emulator.server.test_query_stream_framing import h2_data_frames

    topic = new_topic("framed")
    rows = 2000
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    for i in range(rows):
        producer.produce(topic, key=f"k{i}", value=json.dumps({"V": i}))
    assert producer.flush(30) == 0
    with httpx.Client(base_url=emulator_url, timeout=30) as client:
        created = ksql(
            client,
            f"CREATE STREAM F (K STRING KEY, V INT) WITH (kafka_topic='{topic}', "
            "value_format='JSON');",
        )
        assert created.status_code == 200, created.text

    # Every row is in Kafka before the queries start: they are ready all at once.
    for sql in (f"SELECT * FROM F EMIT CHANGES LIMIT {rows};", "SELECT * FROM F;"):
        frames = h2_data_frames(emulator_url, sql)
        assert all(f.endswith(b"\n") and f.count(b"\n") == 1 for f in frames), sql
        decoded = [json.loads(frame) for frame in frames]
        assert decoded[0]["columnNames"] == ["K", "V"], sql
        assert sorted(row[1] for row in decoded[1:]) == list(range(rows)), sql


def test_a_statement_too_large_to_parse_is_a_400_not_a_500(
    emulator_url: str, new_topic: Callable[..., str]
) -> None:
    topic = new_topic("large")
    too_large = (
        "Error processing statement: Statement is too large to parse. "
        "This may be caused by having too many nested expressions in the statement."
    )
    with httpx.Client(base_url=emulator_url, timeout=60) as client:
        created = ksql(
            client,
            f"CREATE STREAM L (K STRING KEY, V INT) WITH (kafka_topic='{topic}', "
            "value_format='JSON');",
        )
        assert created.status_code == 200, created.text
        sums = ksql(client, "CREATE STREAM L2 AS SELECT " + " + ".join(["V"] * 20_000) + " FROM L;")
        nested = client.post(
            "/query-stream",
            json={"sql": "SELECT " + "(" * 5000 + "V" + ")" * 5000 + " FROM L EMIT CHANGES;"},
        )
        for response in (sums, nested):
            assert response.status_code == 400, response.text[:300]
            assert response.json() == {
                "@type": "generic_error",
                "error_code": 40000,
                "message": too_large,
            }
        # The server still answers.
        assert ksql(client, "SHOW STREAMS;").status_code == 200


def _count_of(client: httpx.Client, key: str) -> int | None:
    response = client.post(
        "/query",
        json={"ksql": f"SELECT N FROM PAUSABLE WHERE K = '{key}';", "streamsProperties": {}},
    )
    assert response.status_code == 200, response.text
    rows = [item["row"]["columns"] for item in response.json() if "row" in item]
    return rows[0][0] if rows else None


def _wait_for_count(client: httpx.Client, key: str, expected: int) -> None:
    deadline = time.monotonic() + 30
    while _count_of(client, key) != expected:
        assert time.monotonic() < deadline, f"count of {key} stayed {_count_of(client, key)}"
        time.sleep(0.2)


def _query_state(client: httpx.Client, query_id: str) -> str:
    queries = ksql(client, "SHOW QUERIES;").json()[0]["queries"]
    return next(q["state"] for q in queries if q["id"] == query_id)


def test_a_paused_query_stops_and_resumes_from_where_it_stopped_over_kafka(
    emulator_url: str, new_topic: Callable[..., str]
) -> None:
    topic = new_topic("pausable")
    with httpx.Client(base_url=emulator_url, timeout=30) as client:
        created = client.post(
            "/ksql",
            json={
                "ksql": f"CREATE STREAM P (K STRING KEY, V INT) WITH (kafka_topic='{topic}', "
                "value_format='JSON'); CREATE TABLE PAUSABLE AS SELECT K, COUNT(*) AS N FROM P "
                "GROUP BY K;",
                "streamsProperties": {"auto.offset.reset": "earliest"},
            },
        )
        assert created.status_code == 200, created.text
        query_id = created.json()[1]["commandStatus"]["queryId"]
        assert ksql(client, "INSERT INTO P (K, V) VALUES ('a', 1);").status_code == 200
        _wait_for_count(client, "a", 1)

        paused = ksql(client, f"PAUSE {query_id};")
        assert paused.status_code == 200, paused.text
        assert paused.json()[0]["commandStatus"]["message"] == "Query paused."
        assert _query_state(client, query_id) == "PAUSED"
        for v in (2, 3):
            assert ksql(client, f"INSERT INTO P (K, V) VALUES ('a', {v});").status_code == 200
        # Long enough for a running query to have counted them many times over.
        time.sleep(3)
        assert _count_of(client, "a") == 1

        resumed = ksql(client, "RESUME ALL;")
        assert resumed.json()[0]["commandStatus"]["message"] == "Query resumed."
        assert _query_state(client, query_id) == "RUNNING"
        # Each record that arrived while paused is counted, exactly once.
        _wait_for_count(client, "a", 3)
        time.sleep(1)
        assert _count_of(client, "a") == 3

        unknown = ksql(client, "PAUSE CTAS_NOPE_1;")
        assert unknown.status_code == 400
        assert unknown.json()["message"] == "Unknown queryId: CTAS_NOPE_1"
        connectors = ksql(client, "SHOW CONNECTORS;")
        assert connectors.status_code == 400
        assert connectors.json()["@type"] == "generic_error"
        assert "Connection refused" in connectors.json()["message"]
        asserted = ksql(client, f"ASSERT TOPIC '{topic}' WITH (PARTITIONS=1);")
        assert asserted.status_code == 200, asserted.text
        assert asserted.json()[0] | {"statementText": ""} == {
            "@type": "assert_topic",
            "statementText": "",
            "topicName": topic,
            "exists": True,
            "warnings": [],
        }


def test_a_query_created_while_another_reads_its_source_sees_every_record(
    emulator_url: str, kafka_bootstrap: str, new_topic: Callable[..., str]
) -> None:
    # Queries over one topic share a consumer; the second joins at offset 0 ("earliest") after
    # the first has read past it, and must still be offered every record from there.
    topic = new_topic("shared")
    first, second = f"first-{uuid.uuid4().hex[:8]}", f"second-{uuid.uuid4().hex[:8]}"
    earliest = {"auto.offset.reset": "earliest"}
    with httpx.Client(base_url=emulator_url, timeout=30) as client:
        created = client.post(
            "/ksql",
            json={
                "ksql": f"CREATE STREAM SH (K STRING KEY, V INT) WITH (kafka_topic='{topic}', "
                f"value_format='JSON'); CREATE STREAM FIRST WITH (kafka_topic='{first}') AS "
                "SELECT * FROM SH;",
                "streamsProperties": earliest,
            },
        )
        assert created.status_code == 200, created.text
        for n in range(30):
            assert ksql(client, f"INSERT INTO SH (K, V) VALUES ('k', {n});").status_code == 200
        assert len(sink_records(kafka_bootstrap, first, 30)) == 30
        created = client.post(
            "/ksql",
            json={
                "ksql": f"CREATE STREAM SECOND WITH (kafka_topic='{second}') AS SELECT * FROM SH;",
                "streamsProperties": earliest,
            },
        )
        assert created.status_code == 200, created.text
        assert ksql(client, "INSERT INTO SH (K, V) VALUES ('k', 30);").status_code == 200
        values = sorted(value["V"] for _key, value in sink_records(kafka_bootstrap, second, 31))
        assert values == list(range(31))


def test_a_stream_over_a_windowed_tables_topic_reads_keys_as_its_window_type_says(
    kafka_bootstrap: str, emulator_url: str, new_topic: Callable[..., str]
) -> None:
    """As in ksqlDB: a source declared without WINDOW_TYPE takes a windowed topic's key bytes
    as they are (window start included); one declared with it gets the key and the window."""
    source = new_topic("clicks")
    counts, raw_out, windowed_out = (f"{n}-{uuid.uuid4().hex[:8]}" for n in ("c", "r", "w"))
    with httpx.Client(base_url=emulator_url, timeout=30) as client:
        created = client.post(
            "/ksql",
            json={
                "ksql": f"""
CREATE STREAM O (K STRING KEY, V INT) WITH (kafka_topic='{source}', value_format='JSON');
CREATE TABLE C WITH (kafka_topic='{counts}') AS SELECT K, COUNT(*) AS N FROM O
  WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY K;
CREATE STREAM RAW (K BYTES KEY, N BIGINT) WITH (kafka_topic='{counts}', value_format='JSON');
CREATE STREAM W (K STRING KEY, N BIGINT) WITH (kafka_topic='{counts}', value_format='JSON',
  WINDOW_TYPE='TUMBLING', WINDOW_SIZE='1 MINUTE');
CREATE STREAM RAW_OUT WITH (kafka_topic='{raw_out}') AS SELECT K, N FROM RAW;
CREATE STREAM W_OUT WITH (kafka_topic='{windowed_out}') AS
  SELECT K, N, WINDOWSTART AS WS FROM W;""",
                "streamsProperties": {"auto.offset.reset": "earliest"},
            },
        )
        assert created.status_code == 200, created.text
        inserted = ksql(client, "INSERT INTO O (ROWTIME, K, V) VALUES (120000, 'a', 1);")
        assert inserted.status_code == 200, inserted.text
    windowed_key = b"a" + (120000).to_bytes(8, "big")
    assert sink_records(kafka_bootstrap, raw_out, 1) == [(windowed_key, {"N": 1})]
    assert sink_records(kafka_bootstrap, windowed_out, 1) == [
        (windowed_key, {"N": 1, "WS": 120000})
    ]
    # A push query reads its source the same way.
    with (
        httpx.Client(base_url=emulator_url, http1=False, http2=True, timeout=30) as client,
        client.stream(
            "POST",
            "/query-stream",
            json={
                "sql": "SELECT K, N FROM RAW EMIT CHANGES LIMIT 1;",
                "properties": {"auto.offset.reset": "earliest"},
            },
        ) as response,
    ):
        lines = response.iter_lines()
        assert json.loads(next(lines))["columnNames"] == ["K", "N"]
        assert json.loads(next(lines)) == [base64.b64encode(windowed_key).decode(), 1]
