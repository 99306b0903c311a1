"""Starting detached processes, checking them and stopping exactly the ones we started."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import psutil

# The processes this one started, kept so that a start that fails can say how the child ended.
_spawned: dict[int, subprocess.Popen[bytes]] = {}


class PortTaken(Exception):
    """A server exited at start because a port it was given was taken after we chose it."""


def written_since(log: Path, offset: int) -> bytes:
    """What a process wrote to `log` after it was `offset` bytes long."""
    with log.open("rb") as handle:
        handle.seek(offset)
        return handle.read()


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def free_port(host: str = "127.0.0.1") -> int:
    """A port the kernel says is free now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def choose_port(preferred: int, avoid: set[int] | None = None) -> int:
    """The preferred port when it is free, else any free one (0 prefers none)."""
    avoid = avoid or set()
    if preferred and preferred not in avoid and port_is_free(preferred):
        return preferred
    while True:
        port = free_port()
        if port not in avoid:
            return port


def held_port(preferred: int, host: str = "127.0.0.1") -> socket.socket:
    """A listening socket on `preferred` when it is free, else on a port the kernel picks (0
    prefers none). Handed to a child that serves on it (`spawn(pass_fds=...)`), the port is
    never free for anyone else between being chosen and being served."""
    for port in (preferred, 0) if preferred else (0,):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
            sock.listen(socket.SOMAXCONN)
        except OSError:
            sock.close()
            if port == 0:
                raise
            continue
        return sock
    raise AssertionError("unreachable: binding port 0 either succeeds or raises")


def port_accepts(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def spawn(
    argv: Sequence[str],
    *,
    log: Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    pass_fds: Sequence[int] = (),
) -> int:
    """Start a process in its own session, detached from ours, its output appended to `log`;
    `pass_fds` are inherited (a listening socket it is to serve on)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            start_new_session=True,
            pass_fds=tuple(pass_fds),
        )
    _spawned[proc.pid] = proc
    return proc.pid


def still_starting(pid: int, marker: str) -> bool:
    """Whether a process is alive: by its exit status when this process spawned it (its command
    line can be read mid-exec, or not at all, under load), else as `is_ours` tells."""
    proc = _spawned.get(pid)
    if proc is not None:
        return proc.poll() is None
    return is_ours(pid, marker)


def wait_started(
    pid: int, ready: Callable[[], bool], timeout_s: float, interval_s: float = 0.5
) -> bool:
    """`wait_until(ready)` for a process just spawned. A start that fails or times out stops
    the process: nothing records its pid, so nothing else would."""
    try:
        started = wait_until(ready, timeout_s, interval_s)
    except BaseException:
        _stop_spawned(pid)
        raise
    if not started:
        _stop_spawned(pid)
    return started


def _stop_spawned(pid: int) -> None:
    proc = _spawned.pop(pid, None)
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def how_it_ended(pid: int) -> str:
    """How a process this one spawned ended, as a phrase: "exited with code 1", say."""
    proc = _spawned.get(pid)
    code = proc.poll() if proc is not None else None
    if code is None:
        return "is no longer running"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"was killed by {name}"
    return f"exited with code {code}"


def is_ours(pid: int | None, marker: str) -> bool:
    """Whether `pid` is alive and is the process we started: its command line holds `marker`.

    A pid alone could have been reused by an unrelated process since we recorded it.
    """
    if not pid:
        return False
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        return marker in " ".join(proc.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def stop(
    pid: int | None, marker: str, *, timeout_s: float = 30.0, sig: int = signal.SIGTERM
) -> bool:
    """Stop our process by pid: `sig`, then SIGKILL after `timeout_s`. True if one was stopped."""
    if not pid or not is_ours(pid, marker):
        return False
    try:
        proc = psutil.Process(pid)
        proc.send_signal(sig)
        try:
            proc.wait(timeout_s)
        except psutil.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    except psutil.NoSuchProcess:
        pass
    return True


def wait_until(check: Callable[[], bool], timeout_s: float, interval_s: float = 0.25) -> bool:
    """Poll `check()` until it returns true or `timeout_s` passes."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval_s)
    return bool(check())
