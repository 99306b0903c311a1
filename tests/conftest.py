"""Real parts for the test run: one Kafka broker and one PostgreSQL, isolated per test."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest
import sqlalchemy as sa
from confluent_kafka.admin import AdminClient, NewTopic

from streamguard import stack

ROOT = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def project_migrations_turn() -> Iterator[None]:
    """This checkout's turn at applying its own ksql/ folder (./start.sh, `migrate apply` with
    the project's files), waited for across pytest workers.

    Tests on stacks of their own still share the project folder, and the migration runner
    rightly refuses a second runner on one folder ("another runner is applying migrations"):
    so they take turns, for the apply step only, instead of failing each other.
    """
    digest = hashlib.sha256(str(ROOT).encode()).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / f"streamguard-tests-project-{digest}.lock"
    with path.open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def run_cli(
    *args: str, env: Mapping[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """`streamguard ARGS` as a user runs it from the project root, its tables wide enough not to
    wrap what a test looks for."""
    return subprocess.run(
        [sys.executable, "-m", "streamguard.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "300", **(env or {})},
    )


def stack_dir(prefix: str) -> Path:
    """A fresh directory for a stack's state, outside pytest's own temporary tree.

    pytest keeps its tree private to us (mode 0700, reset by every pytest run), while
    PostgreSQL runs as another user when we are root and must be able to reach its data.
    """
    return Path(tempfile.mkdtemp(prefix=f"streamguard-{prefix}-"))


def in_ci() -> bool:
    """Whether this run is CI's (most CI services set CI=true): there, a test must not skip for
    want of something the CI machine is meant to have."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


@pytest.fixture(scope="session")
def qtt_root() -> Path:
    """The QTT folder, as `find_qtt_root` finds it."""
    return find_qtt_root()


def find_qtt_root() -> Path:
    """The QTT folder (`../shared/ksql-qtt`). Missing, it skips the test on a developer's
    machine and fails it in CI, where a silent skip would hide that nothing was checked."""
    from ksql_emulator.qtt import harness

    root = harness.default_root()
    if not root.is_dir():
        message = f"the QTT folder {root} is not there"
        if in_ci():
            pytest.fail(f"{message} (CI must run the QTT tests)")
        pytest.skip(message)
    return root


@pytest.fixture(scope="session")
def stack_state_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A local stack started for this run, on free ports, torn down and purged afterwards."""
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS") and os.environ.get("DATABASE_URL"):
        # Given servers: only what the tests start here (an emulator, `ksqldb_url`) to stop.
        given = tmp_path_factory.mktemp("no-stack")
        try:
            yield given
        finally:
            stack.down(given, purge=True)
        return
    state_dir = stack_dir("tests")
    try:
        # Port 0: any free port, which the stack chooses (and holds, where it can).
        stack.up(state_dir, kafka_port=0, postgres_port=0, with_ksqldb=False)
        yield state_dir
    finally:
        stack.down(state_dir, purge=True)
        shutil.rmtree(state_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def ksqldb_url(request: pytest.FixtureRequest) -> str:
    """The ksqlDB the migration runner and rule tests run against: the server `KSQLDB_URL`
    names (a real ksqlDB, with `KAFKA_BOOTSTRAP_SERVERS` naming the broker it reads), else the
    emulator over the session's Kafka, started on first use."""
    env = os.environ.get("KSQLDB_URL")
    if env:
        if not os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
            pytest.fail(
                f"KSQLDB_URL={env} is set without KAFKA_BOOTSTRAP_SERVERS: the tests must "
                "produce to and read from the broker that ksqlDB uses, so set it too"
            )
        return env
    stack_state_dir: Path = request.getfixturevalue("stack_state_dir")
    kafka_bootstrap: str = request.getfixturevalue("kafka_bootstrap")
    part = stack.StackState.load(stack_state_dir).part("ksqldb")
    started = stack.ksqldb.start(part, stack_state_dir, bootstrap_servers=kafka_bootstrap, port=0)
    state = stack.StackState.load(stack_state_dir)
    state.parts["ksqldb"] = started
    state.save()
    assert started.url
    return started.url


@pytest.fixture(scope="session")
def kafka_bootstrap(request: pytest.FixtureRequest) -> str:
    env = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if env:
        return env
    stack_state_dir: Path = request.getfixturevalue("stack_state_dir")
    url = stack.StackState.load(stack_state_dir).part("kafka").url
    assert url
    return url


@pytest.fixture(scope="session")
def admin(kafka_bootstrap: str) -> AdminClient:
    return AdminClient({"bootstrap.servers": kafka_bootstrap})


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text)[:60].strip("-")


@pytest.fixture
def new_topic(admin: AdminClient, request: pytest.FixtureRequest) -> Iterator[Callable[..., str]]:
    """Creates topics with names unique to this test; deletes them afterwards."""
    created: list[str] = []

    def make(hint: str = "t", partitions: int = 1) -> str:
        name = f"{_slug(hint)}-{_slug(request.node.name)}-{uuid.uuid4().hex[:8]}"
        futures = admin.create_topics(
            [NewTopic(name, num_partitions=partitions, replication_factor=1)]
        )
        futures[name].result(timeout=30)
        created.append(name)
        return name

    yield make
    if created:
        for future in admin.delete_topics(created).values():
            # A test may have deleted its topic itself.
            with contextlib.suppress(Exception):
                future.result(timeout=30)


@pytest.fixture(scope="session")
def pg_admin_url(request: pytest.FixtureRequest) -> str:
    env = os.environ.get("DATABASE_URL")
    if env:
        return env
    stack_state_dir: Path = request.getfixturevalue("stack_state_dir")
    url = stack.StackState.load(stack_state_dir).part("postgres").url
    assert url
    return url


@pytest.fixture(scope="session")
def _pg_admin_engine(pg_admin_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


@pytest.fixture
def database_url(_pg_admin_engine: sa.Engine, pg_admin_url: str) -> Iterator[str]:
    """A URL whose connections live in a fresh schema of their own (through search_path)."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with _pg_admin_engine.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = sa.make_url(pg_admin_url).update_query_dict({"options": f"-csearch_path={schema}"})
    yield url.render_as_string(hide_password=False)
    with _pg_admin_engine.connect() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture
def db_engine(database_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(database_url)
    yield engine
    engine.dispose()
