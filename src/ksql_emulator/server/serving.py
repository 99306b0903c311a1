"""Serving the app with hypercorn (HTTP/1.1 and h2c on one port), in the foreground or a thread."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections import deque
from typing import Any

import hypercorn.protocol.h2
from hypercorn.asyncio import serve
from hypercorn.config import Config

__all__ = ["BackgroundServer", "hypercorn_config", "listening_socket", "serve_forever"]


class _WritesApartBuffer(hypercorn.protocol.h2.StreamBuffer):
    """hypercorn's per-stream HTTP/2 send buffer, keeping each of the app's writes apart.

    hypercorn joins whatever the app wrote since its sender last ran into one DATA frame, so
    several /query-stream lines shared a frame under load; clients that decode each frame as one
    JSON document (as ksqlDB, one write per frame, lets them) then fail. Here each write leaves
    as its own frame, split only where the frame size or the peer's flow-control window forces
    it, as ksqlDB's own server splits one.
    """

    def __init__(self, event_class: Any) -> None:
        super().__init__(event_class)
        self._writes: deque[bytes] = deque()
        self._size = 0

    @property
    def complete(self) -> bool:
        return self._complete and self._size == 0

    async def push(self, data: bytes) -> None:
        if self._complete:
            raise hypercorn.protocol.h2.BufferCompleteError()
        if not data:
            return
        self._writes.append(bytes(data))
        self._size += len(data)
        await self._is_empty.clear()
        # The app waits while two frames' worth is queued, as hypercorn's own buffer makes it.
        if self._size >= hypercorn.protocol.h2.BUFFER_HIGH_WATER:
            await self._paused.wait()
            await self._paused.clear()

    async def pop(self, max_length: int) -> bytes:
        data = b""
        if self._writes and max_length > 0:
            data = self._writes.popleft()
            if len(data) > max_length:
                data, rest = data[:max_length], data[max_length:]
                self._writes.appendleft(rest)
            self._size -= len(data)
        if self._size < hypercorn.protocol.h2.BUFFER_LOW_WATER:
            await self._paused.set()
        if self._size == 0:
            await self._is_empty.set()
        return data

    async def close(self) -> None:
        self._writes.clear()
        self._size = 0
        await super().close()


def _keep_http2_writes_apart() -> None:
    hypercorn.protocol.h2.StreamBuffer = _WritesApartBuffer  # type: ignore[misc]


def hypercorn_config(host: str, port: int, fd: int | None = None) -> Config:
    """Serving host:port, or the listening socket `fd` when given (hypercorn takes it over)."""
    config = Config()
    config.bind = [f"fd://{fd}"] if fd is not None else [f"{host}:{port}"]
    config.accesslog = None
    # Long-lived push queries must not be cut by hypercorn's keep-alive or read timeouts.
    config.keep_alive_timeout = 3600
    config.read_timeout = None
    config.graceful_timeout = 1.0
    return config


async def serve_forever(
    app: Any, host: str, port: int, stop: asyncio.Event, sock: socket.socket | None = None
) -> None:
    """Serves `app` until `stop` is set: on `sock` when given (a socket `listening_socket`
    made, whose port nothing else could take meanwhile), else on host:port."""
    _keep_http2_writes_apart()
    fd = sock.detach() if sock is not None else None
    await serve(app, hypercorn_config(host, port, fd), shutdown_trigger=stop.wait)


class BackgroundServer:
    """`app` served on its own event loop in a daemon thread (tests, embedding)."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host
        # Bound now and held until the server serves it: port 0 is a free port that stays ours.
        self._sock: socket.socket | None = listening_socket(host, port)
        self.port = int(self._sock.getsockname()[1])
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout_s: float = 10.0) -> BackgroundServer:
        self._thread = threading.Thread(target=self._run, name="ksql-server", daemon=True)
        self._thread.start()
        if not self._started.wait(timeout_s):
            raise RuntimeError(f"the server on {self.url} did not start within {timeout_s}s")
        if self._error is not None:
            raise RuntimeError(f"the server on {self.url} failed to start") from self._error
        _wait_listening(self.host, self.port, timeout_s)
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._stop = asyncio.Event()
        self._started.set()
        try:
            sock, self._sock = self._sock, None
            loop.run_until_complete(serve_forever(self.app, self.host, self.port, self._stop, sock))
        except BaseException as exc:
            self._error = exc
        finally:
            loop.close()

    def stop(self, timeout_s: float = 10.0) -> None:
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop is already gone
                self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout_s)
        if self._sock is not None:  # never served
            self._sock.close()
            self._sock = None

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket listening on host:port (0: a port the kernel picks, read back with
    `getsockname`), to hand to `serve_forever`: the port is held from the moment it is
    chosen, where picking a free port and binding it later can lose it to another program."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(socket.SOMAXCONN)
    except OSError:
        sock.close()
        raise
    return sock


def _wait_listening(host: str, port: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"nothing listens on {host}:{port} after {timeout_s}s") from None
            time.sleep(0.02)
