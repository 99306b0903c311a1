"""Fixtures of the runner's unit tests: a project folder of real files and a fake server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from streamguard.ksqldb import KsqlClient
from streamguard.migrations.config import MigrationConfig
from tests.migrations.fake_ksqldb import FakeKsqlDB

CREATE_A = """-- the first stream
CREATE STREAM a (id VARCHAR KEY, v INT)
  WITH (KAFKA_TOPIC='a', VALUE_FORMAT='JSON', PARTITIONS=1);
"""
CREATE_B = "CREATE STREAM b AS SELECT * FROM a EMIT CHANGES;\n"
CREATE_C = "CREATE TABLE c AS SELECT id, COUNT(*) AS n FROM a GROUP BY id EMIT CHANGES;\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project whose migrations folder holds three small files."""
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    (migrations / "V000001__create_a.sql").write_text(CREATE_A)
    (migrations / "V000002__create_b.sql").write_text(CREATE_B)
    (migrations / "V000003__create_c.sql").write_text(CREATE_C)
    return tmp_path


@pytest.fixture
def config(project: Path) -> MigrationConfig:
    return MigrationConfig(
        server_url="http://ksqldb.test:8088", migrations_dir=project / "migrations"
    )


@pytest.fixture
def server() -> FakeKsqlDB:
    fake = FakeKsqlDB()
    fake.initialize()
    return fake


@pytest.fixture
def client(server: FakeKsqlDB) -> Iterator[KsqlClient]:
    with server.client() as client:
        yield client


@pytest.fixture
def clock() -> Callable[[], int]:
    """Epoch ms that advance by one second per reading."""
    state = {"now": 1_767_225_600_000}

    def now() -> int:
        state["now"] += 1000
        return state["now"]

    return now
