"""A push query whose client goes away is closed on the server at once, over HTTP/1.1 and HTTP/2,
whether its rows were flowing (the response waiting to send) or not (waiting for a row).

A client that stops reading and then leaves is what a browser closing a tab, or the console
stopping a query, looks like to the server. The query must stop at once: its feed holds a Kafka
consumer and a thread, and its id stays in the server's list until then.
"""

from __future__ import annotations

import gc
import json
import logging
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import h2.config
import h2.connection
import h2.events
import h11
import pytest

from ksql_emulator.contracts.backend import Row
from tests.ksql_emulator.server.stubs import StubPush, StubServer

SQL = "SELECT * FROM S EMIT CHANGES;"
# 10 MB of rows: more than HTTP/2's flow-control window and the sockets' buffers together.
ROWS, WIDTH = 5000, 2000


def wait_for(predicate: Callable[[], Any], timeout_s: float = 10.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, what or "condition not met in time"
        time.sleep(0.01)


@contextmanager
def no_cyclic_gc() -> Iterator[None]:
    """The cyclic garbage collector would finalize an abandoned response at a moment nobody
    controls (seconds later, or never on a quiet server); off here, the test sees whether the
    server closes the query by itself."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _body() -> bytes:
    return json.dumps({"sql": SQL, "properties": {}}).encode()


def _h1_open(port: int) -> socket.socket:
    """A POST /query-stream over HTTP/1.1, its header line read, nothing more."""
    conn = h11.Connection(h11.CLIENT)
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    request = h11.Request(
        method="POST",
        target="/query-stream",
        headers=[
            ("Host", f"127.0.0.1:{port}"),
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(_body()))),
        ],
    )
    sock.sendall(
        conn.send(request) + conn.send(h11.Data(data=_body())) + conn.send(h11.EndOfMessage())
    )
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(sock.recv(65536))
        elif isinstance(event, h11.Response):
            assert event.status_code == 200
        elif isinstance(event, h11.Data):
            assert b"queryId" in event.data
            return sock


def _h2_open(port: int) -> tuple[socket.socket, h2.connection.H2Connection, int]:
    """A POST /query-stream over h2c, its header line read, nothing more."""
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    conn.initiate_connection()
    stream_id = conn.get_next_available_stream_id()
    conn.send_headers(
        stream_id,
        [
            (":method", "POST"),
            (":path", "/query-stream"),
            (":scheme", "http"),
            (":authority", f"127.0.0.1:{port}"),
            ("content-type", "application/json"),
            ("content-length", str(len(_body()))),
        ],
    )
    conn.send_data(stream_id, _body(), end_stream=True)
    sock.sendall(conn.data_to_send())
    while True:
        for event in conn.receive_data(sock.recv(65536)):
            if isinstance(event, h2.events.DataReceived) and event.data:
                assert b"queryId" in event.data
                return sock, conn, stream_id
        sock.sendall(conn.data_to_send())


def _flood_until_stalled(push: StubPush) -> None:
    """Rows the client never reads, until the server can send no more of them: its response
    waits to send (window or socket full), and the feed waits for the response."""
    for i in range(ROWS):
        push.incoming.put(Row(["x" * WIDTH, i]))
    sizes: list[int] = []

    def stalled() -> bool:
        sizes.append(push.incoming.qsize())
        return len(sizes) > 20 and sizes[-1] == sizes[-21] and sizes[-1] > 0

    wait_for(stalled, what="the rows never stopped flowing to a client that reads none")


def _leave(server: StubServer, how: str) -> None:
    port = urlsplit(server.url).port or 80
    if how.startswith("h1"):
        sock = _h1_open(port)
        push = server.backend.pushes[-1]
        if how.endswith("flowing"):
            _flood_until_stalled(push)
        sock.close()
        return
    sock, conn, stream_id = _h2_open(port)
    push = server.backend.pushes[-1]
    if "flowing" in how:
        _flood_until_stalled(push)
    if "reset" in how:
        # The stream is cancelled; the connection, which may carry other queries, stays.
        conn.reset_stream(stream_id)
        sock.sendall(conn.data_to_send())
        _closed_on_the_server(server, push)
    sock.close()


def _closed_on_the_server(server: StubServer, push: StubPush) -> None:
    query_id = push.header.query_id
    wait_for(push.closed.is_set, what=f"push query {query_id} was not closed")
    wait_for(lambda: query_id not in server.state.push_queries)


@pytest.mark.parametrize(
    "how",
    [
        "h1 quiet",
        "h1 flowing",
        "h2 quiet",
        "h2 flowing",
        "h2 reset quiet",
        "h2 reset flowing",
    ],
)
def test_a_push_client_that_goes_away_has_its_query_closed(
    stub_server: StubServer, caplog: pytest.LogCaptureFixture, how: str
) -> None:
    caplog.set_level(logging.INFO, logger="ksql_emulator")
    with no_cyclic_gc():
        _leave(stub_server, how)
        push = stub_server.backend.pushes[-1]
        _closed_on_the_server(stub_server, push)
    # The operator sees it in the server's log too.
    wait_for(lambda: f"push query {push.header.query_id} closed" in caplog.text)
