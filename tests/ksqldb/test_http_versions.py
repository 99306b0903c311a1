"""Over a real socket: `/query-stream` and `/inserts-stream` go over HTTP/2 (h2c with prior
knowledge, as ksqlDB's clients do), the other endpoints over HTTP/1.1."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from hypercorn.asyncio import serve
from hypercorn.config import Config

from streamguard.ksqldb import KsqlClient

Scope = dict[str, Any]


async def echo_protocol_app(scope: Scope, receive: Any, send: Any) -> None:
    """Answers each endpoint in ksqlDB's shape, naming the HTTP version it was asked over."""
    if scope["type"] != "http":
        return
    version = scope["http_version"]
    path = scope["path"]
    while (await receive()).get("more_body"):
        pass
    if path == "/query-stream":
        lines = [
            {"queryId": "q", "columnNames": ["HTTP"], "columnTypes": ["STRING"]},
            [version],
        ]
        body = "".join(json.dumps(line) + "\n" for line in lines)
    elif path == "/inserts-stream":
        # ksqlDB accepts inserts only over HTTP/2.
        ok = {"status": "ok", "seq": 0}
        refused = {"status": "error", "seq": 0, "error_code": 40000, "message": "HTTP/2 only"}
        body = json.dumps(ok if version == "2" else refused) + "\n"
    else:
        body = json.dumps([{"@type": "warning_entity", "statementText": version}])
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body.encode()})


@pytest.fixture
def server_url() -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.loglevel = "WARNING"
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    ready = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.call_soon(ready.set)
        loop.run_until_complete(serve(echo_protocol_app, config, shutdown_trigger=stop.wait))  # type: ignore[arg-type]

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ready.wait(5)
    for _ in range(100):
        with socket.socket() as attempt:
            if attempt.connect_ex(("127.0.0.1", port)) == 0:
                break
        threading.Event().wait(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)


def test_streams_over_http2_and_statements_over_http1(server_url: str) -> None:
    with KsqlClient(server_url) as client:
        assert client.pull_query("SELECT 1;") == [{"HTTP": "2"}]
        assert [ack.seq for ack in client.insert_into("S", [{"A": 1}])] == [0]
        (entity,) = client.execute("LIST STREAMS;")
        assert entity.statement_text == "1.1"
