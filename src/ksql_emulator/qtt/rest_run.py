"""`--rest`: a real ksql_emulator server process over real Kafka for the REST QTT files."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from ksql_emulator.qtt.rest import REST_SERVER_PROPERTIES
from ksql_emulator.server.serving import listening_socket

__all__ = ["NoKafka", "check_kafka", "emulator_server", "kafka_address"]

_START_TIMEOUT_S = 60.0


class NoKafka(Exception):
    """No Kafka cluster to run the REST tests against; the message says what to do."""


def kafka_address(flag: str | None) -> str:
    """`--bootstrap-servers`, else KAFKA_BOOTSTRAP_SERVERS; a NoKafka error when neither."""
    address = flag or os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not address:
        raise NoKafka(
            "--rest runs the REST tests through a real server over a real Kafka cluster, and no "
            "Kafka was given. Start one (for example `streamguard stack up --no-ksqldb`, which "
            "prints the Kafka address) and pass it as --bootstrap-servers HOST:PORT or in "
            "KAFKA_BOOTSTRAP_SERVERS."
        )
    return address


def check_kafka(bootstrap: str, timeout_s: float = 10.0) -> None:
    """A NoKafka error naming `bootstrap` when no broker answers there."""
    admin = AdminClient(
        {"bootstrap.servers": bootstrap, "socket.connection.setup.timeout.ms": 5000}
    )
    try:
        admin.list_topics(timeout=timeout_s)
    except KafkaException as exc:
        raise NoKafka(
            f"no Kafka broker answers at {bootstrap} ({exc}). Start one (for example "
            "`streamguard stack up --no-ksqldb`) and pass its address as --bootstrap-servers."
        ) from exc


@contextmanager
def emulator_server(bootstrap: str) -> Iterator[str]:
    """A `python -m ksql_emulator` process on a free port (its own state dir and service id),
    yielding its URL; stopped, and its internal topics deleted, afterwards."""
    state_dir = Path(tempfile.mkdtemp(prefix="qtt-rest-"))
    service_id = f"qtt_rest_{uuid.uuid4().hex[:8]}_"
    # Bound here and inherited by the server: the port is never free for another program.
    sock = listening_socket("127.0.0.1", 0)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    log_path = state_dir / "server.log"
    command = [
        sys.executable,
        "-m",
        "ksql_emulator",
        "--bootstrap-servers",
        bootstrap,
        "--listeners",
        url,
        "--listener-fd",
        str(sock.fileno()),
        "--state-dir",
        str(state_dir / "state"),
        "--service-id",
        service_id,
        "--log-level",
        "WARNING",
        # ksqlDB's own default; the emulator's exactly-once costs each new query a transactional
        # producer's start (about 1 s), and these tests create hundreds.
        "-D",
        "ksql.streams.processing.guarantee=at_least_once",
        *(arg for k, v in REST_SERVER_PROPERTIES.items() for arg in ("-D", f"{k}={v}")),
    ]
    try:
        # A session of its own: a Ctrl-C at the terminal reaches only the harness, which
        # then ends its test's queries and stops the server in order.
        with log_path.open("wb") as log, sock:
            process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                pass_fds=(sock.fileno(),),
            )
        try:
            _await_ready(process, url, log_path)
            yield url
        finally:
            try:
                _stop(process)
                _delete_internal_topics(bootstrap, service_id)
            finally:  # even when a second Ctrl-C cut the orderly stop short
                if process.poll() is None:
                    process.kill()
                    process.wait(timeout=10)
    finally:
        shutil.rmtree(state_dir, ignore_errors=True)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def _await_ready(process: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
    deadline = time.monotonic() + _START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"the ksql_emulator server exited ({process.returncode}):\n{tail}")
        try:
            if httpx.get(f"{url}/info", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the ksql_emulator server did not answer at {url} within 60 s")


def _delete_internal_topics(bootstrap: str, service_id: str) -> None:
    """The command topic, changelogs and repartition topics of the harness' own service id."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    try:
        names = [n for n in admin.list_topics(timeout=10).topics if service_id in n]
    except KafkaException:
        return
    if names:
        admin.delete_topics(names, operation_timeout=10)
