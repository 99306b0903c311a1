"""/query-stream as clients that read it frame by frame see it: over HTTP/2 every DATA frame holds
exactly one line (the most used Python client decodes each frame as one JSON document), over
HTTP/1.1 every chunk does; under load too, when many rows are ready at once."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import h2.config
import h2.connection
import h2.events
import h11
import pytest

from ksql_emulator.contracts.backend import PullQueryResult, PushQuery, Row
from tests.ksql_emulator.server.stubs import StubServer

ROWS = 3000


def _request_body(sql: str) -> bytes:
    return json.dumps({"sql": sql, "properties": {"auto.offset.reset": "earliest"}}).encode()


def h2_data_frames(
    url: str, sql: str, while_waiting: Callable[[], None] = lambda: None
) -> list[bytes]:
    """The payload of every DATA frame of the response to a POST /query-stream over h2c (prior
    knowledge), read with the h2 library over a plain socket. `while_waiting` runs once the
    request is sent and before anything is read, so the server has many rows ready at once."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    frames: list[bytes] = []
    with socket.create_connection((host, port), timeout=30) as sock:
        conn.initiate_connection()
        stream_id = conn.get_next_available_stream_id()
        body = _request_body(sql)
        conn.send_headers(
            stream_id,
            [
                (":method", "POST"),
                (":path", "/query-stream"),
                (":scheme", "http"),
                (":authority", f"{host}:{port}"),
                ("content-type", "application/json"),
                ("content-length", str(len(body))),
            ],
        )
        conn.send_data(stream_id, body, end_stream=True)
        sock.sendall(conn.data_to_send())
        while_waiting()
        ended = False
        while not ended:
            data = sock.recv(65536)
            assert data, "the server closed the connection before the stream ended"
            for event in conn.receive_data(data):
                if isinstance(event, h2.events.ResponseReceived):
                    assert dict(event.headers)[b":status"] == b"200", event.headers
                elif isinstance(event, h2.events.DataReceived):
                    # h2 reports each DATA frame as one event, never two frames as one.
                    frames.append(event.data)
                    conn.acknowledge_received_data(event.flow_controlled_length, stream_id)
                elif isinstance(event, h2.events.StreamEnded):
                    ended = True
                elif isinstance(event, h2.events.StreamReset):
                    pytest.fail(f"the server reset the stream: {event}")
            sock.sendall(conn.data_to_send())
    # An empty DATA frame may carry END_STREAM; it holds no line.
    return [frame for frame in frames if frame]


def h1_chunks(url: str, sql: str, while_waiting: Callable[[], None] = lambda: None) -> list[bytes]:
    """Each chunk of the chunked response to a POST /query-stream over HTTP/1.1."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    conn = h11.Connection(h11.CLIENT)
    body = _request_body(sql)
    chunks: list[bytes] = []
    current = bytearray()
    with socket.create_connection((host, port), timeout=30) as sock:
        request = h11.Request(
            method="POST",
            target="/query-stream",
            headers=[
                ("Host", f"{host}:{port}"),
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(body))),
            ],
        )
        sock.sendall(
            conn.send(request) + conn.send(h11.Data(data=body)) + conn.send(h11.EndOfMessage())
        )
        while_waiting()
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(sock.recv(65536))
            elif isinstance(event, h11.Response):
                assert event.status_code == 200
                assert (b"transfer-encoding", b"chunked") in list(event.headers)
            elif isinstance(event, h11.Data):
                if event.chunk_start:
                    current = bytearray()
                current += event.data
                if event.chunk_end:
                    chunks.append(bytes(current))
            elif isinstance(event, h11.EndOfMessage):
                return chunks


def _assert_one_line_each(pieces: list[bytes], rows: int) -> list[Any]:
    """Every piece is exactly one newline-terminated JSON document; returns them decoded."""
    decoded = []
    for index, piece in enumerate(pieces):
        lines = piece.count(b"\n")
        assert piece.endswith(b"\n") and lines == 1, (
            f"piece {index} of {len(pieces)} holds {lines} line ends: {piece[:120]!r}"
        )
        decoded.append(json.loads(piece))
    assert len(decoded) == rows + 1  # the header line, then one per row
    assert "queryId" in decoded[0]
    return decoded


@pytest.fixture
def many_row_pulls(stub_server: StubServer, monkeypatch: pytest.MonkeyPatch) -> StubServer:
    """The stub backend answers a pull query with ROWS rows."""
    backend = stub_server.backend
    query = backend.query

    def many(
        sql: str, properties: Mapping[str, Any], session_variables: Mapping[str, Any]
    ) -> PullQueryResult | PushQuery:
        result = query(sql, properties, session_variables)
        if isinstance(result, PullQueryResult):
            rows = [Row([f"k{i}", Decimal(i % 100) / 100]) for i in range(ROWS)]
            return PullQueryResult(result.header, rows, result.source_kind)
        return result

    monkeypatch.setattr(backend, "query", many)
    return stub_server


def _feed_many(server: StubServer) -> Callable[[], None]:
    """Once the push query exists, ROWS rows arrive at once (before the client reads any)."""

    def feed() -> None:
        deadline = time.monotonic() + 10
        while not server.backend.pushes:
            assert time.monotonic() < deadline, "the push query did not start"
            time.sleep(0.01)
        push = server.backend.pushes[-1]
        for i in range(ROWS):
            push.incoming.put(Row([f"k{i}", i]))

    return feed


def test_pull_query_over_http2_is_one_line_per_data_frame(many_row_pulls: StubServer) -> None:
    frames = h2_data_frames(many_row_pulls.url, "SELECT * FROM T;")
    rows = _assert_one_line_each(frames, ROWS)
    assert rows[-1] == [f"k{ROWS - 1}", 0.99]


def test_push_query_over_http2_is_one_line_per_data_frame(stub_server: StubServer) -> None:
    sql = f"SELECT * FROM S EMIT CHANGES LIMIT {ROWS};"
    frames = h2_data_frames(stub_server.url, sql, _feed_many(stub_server))
    rows = _assert_one_line_each(frames, ROWS)
    assert rows[1:] == [[f"k{i}", i] for i in range(ROWS)]


def test_pull_query_over_http1_is_one_line_per_chunk(many_row_pulls: StubServer) -> None:
    chunks = h1_chunks(many_row_pulls.url, "SELECT * FROM T;")
    _assert_one_line_each(chunks, ROWS)


def test_push_query_over_http1_is_one_line_per_chunk(stub_server: StubServer) -> None:
    sql = f"SELECT * FROM S EMIT CHANGES LIMIT {ROWS};"
    chunks = h1_chunks(stub_server.url, sql, _feed_many(stub_server))
    rows = _assert_one_line_each(chunks, ROWS)
    assert rows[-1] == [f"k{ROWS - 1}", ROWS - 1]
