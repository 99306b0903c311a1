"""The REST layer through a real hypercorn server over a stub engine: ksqlDB's shapes, framing."""

from __future__ import annotations

import json
import threading
import time
from decimal import Decimal
from typing import Any

import httpx
import pytest

from ksql_emulator.contracts.backend import Row
from ksql_emulator.server import _json
from tests.ksql_emulator.server.stubs import StubServer

KSQL_V1 = "application/vnd.ksql.v1+json"
DELIMITED = "application/vnd.ksqlapi.delimited.v1"


def h2(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, http1=False, http2=True, timeout=10)


def h1(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, timeout=10)


def wait_for(predicate: Any, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


# -- /ksql ----------------------------------------------------------------------------------


def test_ksql_answers_one_entity_per_statement_with_growing_sequence_numbers(
    stub_server: StubServer,
) -> None:
    with h1(stub_server.url) as client:
        response = client.post(
            "/ksql",
            json={
                "ksql": "CREATE STREAM A (X INT) WITH (kafka_topic='a');"
                " CREATE STREAM B (X INT) WITH (kafka_topic='b'); SET 'x'='y'; SHOW STREAMS;",
                "streamsProperties": {"auto.offset.reset": "earliest"},
            },
        )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(KSQL_V1)
    entities = response.json()
    assert [e["@type"] for e in entities] == ["currentStatus", "currentStatus", "streams"]
    assert entities[0]["commandId"] == "stream/`A`/create"
    assert entities[0]["commandStatus"] == {"status": "SUCCESS", "message": "Stream created"}
    assert [e["commandSequenceNumber"] for e in entities[:2]] == [0, 1]
    assert entities[0]["statementText"].startswith("CREATE STREAM A")
    assert entities[0]["warnings"] == []
    assert [s["name"] for s in entities[2]["streams"]] == ["A", "B"]
    assert stub_server.backend.seen_properties[-1] == {"auto.offset.reset": "earliest"}


def test_ksql_honours_an_accept_of_plain_json(stub_server: StubServer) -> None:
    with h1(stub_server.url) as client:
        response = client.post(
            "/ksql", json={"ksql": "SHOW STREAMS;"}, headers={"Accept": "application/json"}
        )
    assert response.headers["content-type"].startswith("application/json")


def test_ksql_error_is_a_statement_error_with_earlier_entities(stub_server: StubServer) -> None:
    with h2(stub_server.url) as client:
        response = client.post("/ksql", json={"ksql": "CREATE STREAM A (X INT); SELEKT 1;"})
    assert response.http_version == "HTTP/2"
    assert response.status_code == 400
    body = response.json()
    assert body["@type"] == "statement_error"
    assert body["error_code"] == 40001
    assert body["message"].startswith("line 1:1: Syntax Error")
    assert body["statementText"] == "SELEKT 1;"
    assert [e["@type"] for e in body["entities"]] == ["currentStatus"]


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        (b"{not json", "Invalid JSON"),
        (b'{"streamsProperties": {}}', "'ksql'"),
        (b'{"ksql": "SHOW STREAMS;", "streamsProperties": []}', "streamsProperties"),
    ],
)
def test_ksql_rejects_a_malformed_request_naming_the_problem(
    stub_server: StubServer, payload: bytes, fragment: str
) -> None:
    with h1(stub_server.url) as client:
        response = client.post("/ksql", content=payload)
    assert response.status_code == 400
    body = response.json()
    assert body["@type"] == "generic_error"
    assert body["error_code"] == 40000
    assert fragment in body["message"]


def test_command_status_is_served_for_executed_commands(stub_server: StubServer) -> None:
    with h1(stub_server.url) as client:
        client.post("/ksql", json={"ksql": "CREATE STREAM A (X INT);"})
        found = client.get("/status/stream/`A`/create")
        missing = client.get("/status/stream/`Z`/create")
        every = client.get("/status")
    assert found.json() == {"status": "SUCCESS", "message": "Stream created"}
    assert missing.status_code == 404
    assert missing.json()["error_code"] == 40400
    assert every.json() == {"commandStatuses": {"stream/`A`/create": "SUCCESS"}}


# -- server info ----------------------------------------------------------------------------


def test_info_healthcheck_and_cluster_status(stub_server: StubServer) -> None:
    with h2(stub_server.url) as client:
        info = client.get("/info").json()
        health = client.get("/healthcheck").json()
        cluster = client.get("/clusterStatus").json()
    assert info["KsqlServerInfo"]["ksqlServiceId"] == "stub_"
    assert info["KsqlServerInfo"]["serverStatus"] == "RUNNING"
    assert health["isHealthy"] is True
    assert set(health["details"]) == {"metastore", "kafka", "commandRunner"}
    (host,) = cluster["clusterStatus"]
    assert host.endswith(f":{stub_server.state.config.port}")
    assert cluster["clusterStatus"][host]["hostAlive"] is True


# -- /query-stream --------------------------------------------------------------------------


def test_pull_query_stream_is_a_header_line_then_one_line_per_row(
    stub_server: StubServer,
) -> None:
    with h2(stub_server.url) as client:
        response = client.post("/query-stream", json={"sql": "SELECT * FROM T;"})
    assert response.headers["content-type"].startswith(DELIMITED)
    lines = response.text.split("\n")
    assert lines[-1] == ""  # every line, the last too, ends with a newline; no blank lines
    assert [json.loads(line) for line in lines[:-1]] == [
        {
            "queryId": "transient_S_1",
            "columnNames": ["K", "V"],
            "columnTypes": ["STRING", "DECIMAL(4, 2)"],
        },
        ["a", 1.5],
        ["b", None],
    ]
    assert lines[1] == '["a",1.50]'  # decimals keep their scale


def test_query_stream_as_json_is_one_array(stub_server: StubServer) -> None:
    with h1(stub_server.url) as client:
        response = client.post(
            "/query-stream",
            json={"sql": "SELECT * FROM T;"},
            headers={"Accept": "application/json"},
        )
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body[0]["columnNames"] == ["K", "V"]
    assert body[1:] == [["a", 1.5], ["b", None]]


def test_query_stream_statement_error_is_400(stub_server: StubServer) -> None:
    with h2(stub_server.url) as client:
        response = client.post("/query-stream", json={"sql": "DROP STREAM X;"})
    assert response.status_code == 400
    assert response.json()["@type"] == "statement_error"
    assert response.json()["statementText"] == "DROP STREAM X;"


def test_push_query_streams_rows_as_they_come_and_ends_at_its_limit(
    stub_server: StubServer,
) -> None:
    with (
        h2(stub_server.url) as client,
        client.stream(
            "POST",
            "/query-stream",
            json={
                "sql": "SELECT * FROM S EMIT CHANGES LIMIT 2;",
                "properties": {"auto.offset.reset": "earliest"},
            },
        ) as response,
    ):
        lines = response.iter_lines()
        header = json.loads(next(lines))
        assert header["queryId"] == "transient_S_1"
        push = stub_server.backend.pushes[0]
        push.incoming.put(Row(["a", 1]))
        assert json.loads(next(lines)) == ["a", 1]  # sent as it comes, not at the end
        push.incoming.put(Row(["b", 2]))
        push.incoming.put(Row(["c", 3]))
        assert [json.loads(line) for line in lines] == [["b", 2]]
    assert stub_server.feeder.offset_resets == ["earliest"]
    wait_for(push.closed.is_set)
    assert stub_server.state.push_queries == {}


def test_close_query_from_another_connection_ends_the_push_query(
    stub_server: StubServer,
) -> None:
    with (
        h2(stub_server.url) as client,
        h1(stub_server.url) as other,
        client.stream(
            "POST", "/query-stream", json={"sql": "SELECT * FROM S EMIT CHANGES;"}
        ) as response,
    ):
        lines = response.iter_lines()
        query_id = json.loads(next(lines))["queryId"]
        closed = other.post("/close-query", json={"queryId": query_id})
        assert closed.status_code == 200
        assert list(lines) == []
        again = other.post("/close-query", json={"queryId": query_id})
    assert again.status_code == 400
    assert again.json()["message"] == f"No query with id {query_id}"
    wait_for(stub_server.backend.pushes[0].closed.is_set)


def test_client_going_away_closes_its_push_query(stub_server: StubServer) -> None:
    with (
        h2(stub_server.url) as client,
        client.stream(
            "POST", "/query-stream", json={"sql": "SELECT * FROM S EMIT CHANGES;"}
        ) as response,
    ):
        next(response.iter_lines())
    wait_for(stub_server.backend.pushes[0].closed.is_set)
    wait_for(lambda: not stub_server.state.push_queries)


def test_a_stalled_push_client_does_not_stall_the_server(stub_server: StubServer) -> None:
    """The stalled client's rows pile up to its bound (5 here); everyone else carries on."""
    with (
        h2(stub_server.url) as slow,
        slow.stream(
            "POST", "/query-stream", json={"sql": "SELECT * FROM S EMIT CHANGES;"}
        ) as response,
    ):
        next(response.iter_lines())
        push = stub_server.backend.pushes[0]
        for i in range(5000):
            push.incoming.put(Row(["x" * 2000, i]))  # 10 MB: more than any window or buffer
        time.sleep(0.3)
        assert push.incoming.qsize() > 1000  # its feed is held back, not buffered unboundedly
        # A server stalled by the slow client would time these out (h1's 10 s).
        with h1(stub_server.url) as other:
            assert other.get("/info").status_code == 200
            pulled = other.post("/query-stream", json={"sql": "SELECT * FROM T;"})
            assert len(pulled.text.splitlines()) == 3


def test_twenty_concurrent_push_clients_each_get_their_rows(stub_server: StubServer) -> None:
    results: dict[int, list[Any]] = {}

    def client_run(n: int) -> None:
        with (
            h2(stub_server.url) as client,
            client.stream(
                "POST", "/query-stream", json={"sql": f"SELECT * FROM S{n} EMIT CHANGES LIMIT 3;"}
            ) as response,
        ):
            results[n] = [json.loads(line) for line in response.iter_lines()]

    threads = [threading.Thread(target=client_run, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    wait_for(lambda: len(stub_server.backend.pushes) == 20)
    for push in stub_server.backend.pushes:
        for i in range(3):
            push.incoming.put(Row([push.header.query_id, i]))
    for t in threads:
        t.join(10)
    assert len(results) == 20
    for lines in results.values():
        query_id = lines[0]["queryId"]
        assert lines[1:] == [[query_id, 0], [query_id, 1], [query_id, 2]]


# -- /query ---------------------------------------------------------------------------------


def test_old_query_endpoint_streams_one_json_array_with_keepalives(
    stub_server: StubServer,
) -> None:
    chunks: list[str] = []
    with (
        h1(stub_server.url) as client,
        client.stream(
            "POST", "/query", json={"ksql": "SELECT * FROM S EMIT CHANGES LIMIT 2;"}
        ) as response,
    ):
        assert response.http_version == "HTTP/1.1"
        stream = response.iter_text()
        chunks.append(next(stream))
        push = stub_server.backend.pushes[0]
        chunks.append(next(stream))  # a keep-alive arrives before any row
        push.incoming.put(Row(["a", 1]))
        push.incoming.put(Row(["b", 2]))
        chunks.extend(stream)
    assert "\n" in chunks
    body = json.loads("".join(chunks))
    assert body[0] == {
        "header": {"queryId": "transient_S_1", "schema": "`K` STRING KEY, `V` DECIMAL(4, 2)"}
    }
    assert body[1:] == [
        {"row": {"columns": ["a", 1]}},
        {"row": {"columns": ["b", 2]}},
        {"finalMessage": "Limit Reached"},
    ]


def test_old_query_endpoint_pull_over_a_stream_completes(stub_server: StubServer) -> None:
    with h1(stub_server.url) as client:
        stream_body = client.post("/query", json={"ksql": "SELECT * FROM STREAMY;"}).json()
        table_body = client.post("/query", json={"ksql": "SELECT * FROM T;"}).json()
    assert stream_body[-1] == {"finalMessage": "Query Completed"}
    assert stream_body[1] == {"row": {"columns": ["a", 1.5]}}
    assert table_body[-1] == {"row": {"columns": ["b", None]}}


# -- /inserts-stream ------------------------------------------------------------------------


def test_inserts_stream_acks_each_row(stub_server: StubServer) -> None:
    body = "\n".join(
        [json.dumps({"target": "S"}), json.dumps({"K": "a", "V": 1}), json.dumps({"K": "b"})]
    )
    with h2(stub_server.url) as client:
        response = client.post("/inserts-stream", content=body.encode())
    assert response.status_code == 200
    acks = [json.loads(line) for line in response.text.splitlines()]
    assert acks == [{"status": "ok", "seq": 0}, {"status": "ok", "seq": 1}]
    assert stub_server.backend.inserted == [("S", {"K": "a", "V": 1}), ("S", {"K": "b"})]


def test_inserts_stream_reports_a_bad_row_and_stops(stub_server: StubServer) -> None:
    body = "\n".join([json.dumps({"target": "S"}), '{"K": "a"}', '{"BAD": 1}', '{"K": "c"}'])
    with h2(stub_server.url) as client:
        response = client.post("/inserts-stream", content=body.encode())
    acks = [json.loads(line) for line in response.text.splitlines()]
    assert acks[0] == {"status": "ok", "seq": 0}
    assert acks[1]["status"] == "error"
    assert acks[1]["seq"] == 1
    assert "bad row" in acks[1]["message"]
    assert len(acks) == 2


def test_inserts_stream_needs_http2(stub_server: StubServer) -> None:
    with h1(stub_server.url) as client:
        response = client.post("/inserts-stream", content=b'{"target": "S"}\n')
    assert response.status_code == 405
    assert response.json()["error_code"] == 40004


def test_unknown_paths_and_wrong_methods_are_refused(stub_server: StubServer) -> None:
    with h2(stub_server.url) as client:
        assert client.get("/inserts-stream").status_code == 405
        assert client.get("/ksql").status_code == 405
        assert client.get("/nope").status_code == 404


def test_rows_write_a_decimal_zero_without_a_sign() -> None:
    # Python's -0.00 (a negative amount rounded to cents) is ksqlDB's BigDecimal 0.00.
    assert (
        _json.dumps([Decimal("-0.00"), Decimal("-0.01"), Decimal("12.50")]) == "[0.00,-0.01,12.50]"
    )
