"""The ksqlDB REST API of the local stack: the ksql_emulator server, run as its own process.

StreamGuard never imports the emulator: it starts it by command, as it would start any server,
and talks to it over HTTP.
"""

from __future__ import annotations

import sys
from pathlib import Path

import httpx

from streamguard.settings import get_settings
from streamguard.stack import processes
from streamguard.stack.errors import NotReadyError, StackError
from streamguard.stack.state import PartState

DEFAULT_PORT = 8088
SERVICE_ID = "streamguard_"


def streams_properties(
    guarantee: str, commit_interval_ms: int, query_processes: int, table_linger_ms: int
) -> dict[str, str]:
    """The settings the local stack runs its queries with (see Settings): the guarantee, the
    commit interval, how many processes share the queries and how long a table's updates may
    wait to be sent together."""
    return {
        "ksql.emulator.query.processes": str(query_processes),
        "ksql.emulator.table.linger.ms": str(table_linger_ms),
        # As the Docker stack's ksqlDB: a rule created on a running pipeline judges the
        # transactions already in the topic too, and a query restarted before its first
        # commit does not skip what arrived meanwhile.
        "ksql.streams.auto.offset.reset": "earliest",
        "ksql.streams.processing.guarantee": guarantee,
        "ksql.streams.commit.interval.ms": str(commit_interval_ms),
    }


def _paths(state_dir: Path) -> tuple[Path, Path]:
    root = (state_dir / "ksqldb").resolve()
    return root, root / "server.log"


def is_running(part: PartState, state_dir: Path) -> bool:
    root, _ = _paths(state_dir)
    return processes.is_ours(part.pid, str(root))


def is_ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/info", timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def start(
    part: PartState,
    state_dir: Path,
    *,
    bootstrap_servers: str,
    port: int = DEFAULT_PORT,
    timeout_s: float = 60.0,
) -> PartState:
    """Start the emulator on 127.0.0.1 over the given Kafka, unless it runs already.

    The recorded port (else `port`) is kept when free, else the kernel picks one (0: always).
    This process binds the port and the emulator inherits the listening socket, so no other
    program can take the port between the choice and the emulator serving it.
    """
    root, log = _paths(state_dir)
    if is_running(part, state_dir):
        return part
    root.mkdir(parents=True, exist_ok=True)
    with processes.held_port(part.port or port) as sock:
        chosen = int(sock.getsockname()[1])
        url = f"http://127.0.0.1:{chosen}"
        argv = [
            sys.executable, "-m", "ksql_emulator",
            "--bootstrap-servers", bootstrap_servers,
            "--listeners", url,
            "--listener-fd", str(sock.fileno()),
            "--state-dir", str(root),
            "--service-id", SERVICE_ID,
        ]  # fmt: skip
        settings = get_settings()
        properties = streams_properties(
            settings.ksql_processing_guarantee,
            settings.ksql_commit_interval_ms,
            settings.query_processes(),
            settings.ksql_table_linger_ms,
        )
        for key, value in properties.items():
            argv += ["-D", f"{key}={value}"]
        pid = processes.spawn(argv, log=log, pass_fds=[sock.fileno()])
    part.pid, part.port, part.url = pid, chosen, url
    part.extra["log"] = str(log)
    # The emulator serves its per-query metrics beside its REST API.
    part.extra["metrics_url"] = f"{url}/metrics"

    def ready() -> bool:
        if not processes.still_starting(pid, str(root)):
            raise StackError(
                f"the ksqlDB emulator {processes.how_it_ended(pid)} while starting on {url}",
                log=log,
            )
        return is_ready(url)

    if not processes.wait_started(pid, ready, timeout_s):
        raise NotReadyError(
            f"the ksqlDB emulator on {url} was not ready in {timeout_s:.0f} s", log=log
        )
    return part


def stop(part: PartState, state_dir: Path) -> bool:
    root, _ = _paths(state_dir)
    stopped = processes.stop(part.pid, str(root), timeout_s=30)
    part.pid = None
    return stopped
