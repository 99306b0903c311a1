"""A real hypercorn server on a free port around the stub backend."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ksql_emulator.server._state import ServerConfig, ServerState
from ksql_emulator.server.asgi import create_app
from ksql_emulator.server.serving import BackgroundServer
from tests.ksql_emulator.server.stubs import StubBackend, StubFeeder, StubServer


@pytest.fixture
def stub_server() -> Iterator[StubServer]:
    backend = StubBackend()
    feeder = StubFeeder()
    config = ServerConfig(service_id="stub_", push_buffer_rows=5, keepalive_s=0.2)
    state = ServerState(backend, config, feeder=feeder)
    server = BackgroundServer(create_app(state))
    config.port = server.port
    with server:
        yield StubServer(server.url, backend, feeder, state)
