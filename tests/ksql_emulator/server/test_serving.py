"""The emulator's ports are held from the moment they are chosen, never picked and hoped for."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from ksql_emulator.app.cli import main
from ksql_emulator.server.serving import BackgroundServer, listening_socket


def _app() -> Starlette:
    return Starlette(routes=[Route("/", lambda request: PlainTextResponse("ok"))])


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@pytest.fixture
def taken_port() -> Iterator[int]:
    with listening_socket("127.0.0.1", 0) as sock:
        yield int(sock.getsockname()[1])


def test_a_background_server_holds_its_port_from_construction_to_stop() -> None:
    server = BackgroundServer(_app())
    assert not _bindable(server.port)  # chosen and held before serving
    with server:
        assert httpx.get(server.url, timeout=5).text == "ok"
    assert _bindable(server.port)


def test_a_background_server_never_started_lets_its_port_go() -> None:
    server = BackgroundServer(_app())
    server.stop()
    assert _bindable(server.port)


def test_the_cli_refuses_a_taken_port_at_once_and_says_which(
    taken_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    # No Kafka needed: the port is bound before the engine starts.
    status = main(
        ["--bootstrap-servers", "127.0.0.1:1", "--listeners", f"http://127.0.0.1:{taken_port}"]
    )
    assert status == 2
    assert f"cannot listen on 127.0.0.1:{taken_port}" in capsys.readouterr().err


def test_the_cli_says_when_its_inherited_socket_is_none(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status = main(["--bootstrap-servers", "127.0.0.1:1", "--listener-fd", "987"])
    assert status == 2
    assert "--listener-fd 987 is no socket" in capsys.readouterr().err
