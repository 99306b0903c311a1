"""`streamguard migrate` as an analyst runs it: the CLI, against the ksqlDB emulator's REST API
over real Kafka, or against the real ksqlDB that `KSQLDB_URL` names (with `KAFKA_BOOTSTRAP_SERVERS`
its broker). Each test has its own project, metadata stream and table, and source names, so
tests share the server without seeing each other."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
from confluent_kafka import Consumer

from streamguard.ksqldb import KsqlClient

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow
# The properties file names the server; a KSQLDB_URL of the environment naming another is refused.
_ENV = {k: v for k, v in os.environ.items() if k != "KSQLDB_URL"} | {"COLUMNS": "250"}


class Project:
    """A migrations project of three files on the shared emulator, its names suffixed."""

    def __init__(self, directory: Path, server_url: str, bootstrap: str) -> None:
        self.suffix = uuid.uuid4().hex[:8].upper()
        self.dir = directory
        self.server_url = server_url
        self.bootstrap = bootstrap
        self.migrations = directory / "migrations"
        self.migrations.mkdir(parents=True)
        s = self.suffix
        self.properties = directory / "ksql-migrations.properties"
        self.properties.write_text(
            f"ksql.server.url={server_url}\n"
            f"ksql.migrations.stream.name=MIGRATION_EVENTS_{s}\n"
            f"ksql.migrations.table.name=MIGRATION_SCHEMA_VERSIONS_{s}\n"
            f"ksql.migrations.stream.topic.name=migration_events_{s}\n"
            f"ksql.migrations.table.topic.name=migration_schema_versions_{s}\n"
        )
        self.files = [
            self.write(
                1,
                "payments",
                f"-- the payments every rule reads\nCREATE STREAM PAYMENTS_{s} "
                f"(ACCOUNT VARCHAR KEY, AMOUNT DOUBLE)\n"
                f"  WITH (KAFKA_TOPIC='payments_{s}', VALUE_FORMAT='JSON', PARTITIONS=1);\n",
            ),
            self.write(
                2,
                "big payments",
                "DEFINE limit = '1000';\n\n"
                f"CREATE STREAM BIG_{s} WITH (KAFKA_TOPIC='big_{s}') AS\n"
                f"  SELECT ACCOUNT, AMOUNT FROM PAYMENTS_{s}\n"
                "  WHERE AMOUNT > ${limit}\n  EMIT CHANGES;\n",
            ),
            self.write(
                3,
                "payments per account",
                f"CREATE TABLE PER_ACCOUNT_{s} AS\n  SELECT ACCOUNT, COUNT(*) AS N "
                f"FROM PAYMENTS_{s}\n  GROUP BY ACCOUNT\n  EMIT CHANGES;\n",
            ),
        ]

    def write(self, version: int, name: str, text: str) -> Path:
        path = self.migrations / f"V{version:06d}__{name.replace(' ', '_')}.sql"
        path.write_text(text)
        return path

    def migrate(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(*args), capture_output=True, text=True, timeout=180, env=_ENV, cwd=ROOT
        )

    def start(self, *args: str, properties: Path | None = None) -> subprocess.Popen[str]:
        """`migrate` in the background, with this or another copy's properties file."""
        return subprocess.Popen(
            self.argv(*args, properties=properties),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_ENV,
            cwd=ROOT,
        )

    def argv(self, *args: str, properties: Path | None = None) -> list[str]:
        config = str(properties or self.properties)
        return [sys.executable, "-m", "streamguard.cli", "migrate", *args, "-c", config]

    def wait_for_lock(self) -> None:
        """Until a runner holds this project's lock (it writes its pid there)."""
        lock = self.dir / ".ksql-migrations.lock"
        deadline = time.monotonic() + 30
        while "pid" not in (lock.read_text() if lock.exists() else ""):
            assert time.monotonic() < deadline, "no runner took the project's lock"
            time.sleep(0.05)

    def states(self) -> dict[int, str]:
        """Each version's state as `migrate info` shows it."""
        info = self.migrate("info")
        assert info.returncode == 0, info.stdout + info.stderr
        states: dict[int, str] = {}
        for line in info.stdout.splitlines():
            cells = [c.strip() for c in re.split(r"[│┃|]", line) if c.strip()]
            if cells and cells[0].isdigit():
                states[int(cells[0])] = cells[2]
        return states

    def sources(self) -> set[str]:
        """The server's streams and tables that belong to this project."""
        names: set[str] = set()
        for statement, key in (("LIST STREAMS;", "streams"), ("LIST TABLES;", "tables")):
            response = httpx.post(f"{self.server_url}/ksql", json={"ksql": statement})
            response.raise_for_status()
            names |= {source["name"] for source in response.json()[0][key]}
        mine = {name for name in names if name.endswith(self.suffix)}
        return {name for name in mine if not name.startswith("MIGRATION_")}


@pytest.fixture
def project(ksqldb_url: str, kafka_bootstrap: str, tmp_path: Path) -> Project:
    made = Project(tmp_path / "project", ksqldb_url, kafka_bootstrap)
    initialized = made.migrate("initialize-metadata")
    assert initialized.returncode == 0, initialized.stdout + initialized.stderr
    return made


def test_apply_all_then_info_shows_every_file_migrated(project: Project) -> None:
    applied = project.migrate("apply", "--all")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert project.states() == {1: "MIGRATED", 2: "MIGRATED", 3: "MIGRATED"}
    s = project.suffix
    assert project.sources() == {f"PAYMENTS_{s}", f"BIG_{s}", f"PER_ACCOUNT_{s}"}
    again = project.migrate("apply", "--all")
    assert again.returncode == 0 and project.states()[3] == "MIGRATED"


def test_initialize_metadata_again_keeps_the_history(project: Project) -> None:
    assert project.migrate("apply", "--until", "1").returncode == 0
    again = project.migrate("initialize-metadata")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "exist already" in again.stdout
    assert project.states() == {1: "MIGRATED", 2: "PENDING", 3: "PENDING"}


def test_a_syntax_error_is_recorded_and_nothing_after_it_runs(project: Project) -> None:
    bad = project.files[1]
    bad.write_text(bad.read_text().replace("SELECT ACCOUNT", "SELEC ACCOUNT"))

    applied = project.migrate("apply", "--all")

    assert applied.returncode != 0
    message = " ".join((applied.stdout + applied.stderr).split())
    assert bad.name in message and ":3" in message, message
    assert "SELEC ACCOUNT" in message, "the statement is not shown"
    assert "Syntax Error" in message and "40001" in message, "the server's error is not shown"
    assert project.states() == {1: "MIGRATED", 2: "ERROR", 3: "PENDING"}
    assert project.sources() == {f"PAYMENTS_{project.suffix}"}


def test_validate_names_an_applied_file_changed_afterwards(project: Project) -> None:
    assert project.migrate("apply", "--all").returncode == 0
    assert project.migrate("validate").returncode == 0
    changed = project.files[1]
    changed.write_text(changed.read_text().replace("'1000'", "'5000'"))

    validated = project.migrate("validate")

    assert validated.returncode != 0
    assert changed.name in " ".join((validated.stdout + validated.stderr).split())


def test_dry_run_sends_nothing(project: Project) -> None:
    dry = project.migrate("apply", "--all", "--dry-run")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert f"PAYMENTS_{project.suffix}" in dry.stdout
    assert project.states() == {1: "PENDING", 2: "PENDING", 3: "PENDING"}
    assert project.sources() == set()


def test_until_and_version_choose_the_files(project: Project) -> None:
    assert project.migrate("apply", "--until", "2").returncode == 0
    assert project.states() == {1: "MIGRATED", 2: "MIGRATED", 3: "PENDING"}
    assert project.migrate("apply", "--version", "3").returncode == 0
    assert project.states() == {1: "MIGRATED", 2: "MIGRATED", 3: "MIGRATED"}


def test_define_precedence_is_ksql_migrations(project: Project) -> None:
    """ksql-migrations defines --define's variables before each file and lets the file's own
    DEFINE replace them; a default kept in ksql-defines.properties is what --define replaces."""
    s = project.suffix
    project.write(
        3,
        "payments per account",
        f"CREATE STREAM HUGE_{s} WITH (KAFKA_TOPIC='huge_{s}') AS\n"
        f"  SELECT ACCOUNT, AMOUNT FROM PAYMENTS_{s}\n"
        "  WHERE AMOUNT > ${huge}\n  EMIT CHANGES;\n",
    )
    (project.dir / "ksql-defines.properties").write_text("# defaults\nhuge=2000\n")
    applied = project.migrate("apply", "--all", "--define", "limit=5000", "--define", "huge=4000")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    rows = [{"ACCOUNT": "A1", "AMOUNT": 3000.0}, {"ACCOUNT": "A2", "AMOUNT": 6000.0}]
    with KsqlClient(project.server_url) as client:
        acks = client.insert_into(f"PAYMENTS_{s}", rows)
    assert len(acks) == len(rows)

    # V2 DEFINEs limit = '1000' itself: that wins over --define limit=5000, so 3000 passes.
    assert sorted(_keys_on(project.bootstrap, f"big_{s}", expect=2)) == ["A1", "A2"]
    # V3 DEFINEs nothing: --define huge=4000 replaces the default 2000, so 3000 does not.
    assert _keys_on(project.bootstrap, f"huge_{s}", expect=1) == ["A2"]


def test_a_second_runner_on_the_same_project_is_refused(project: Project) -> None:
    first = project.start("apply", "--all")
    project.wait_for_lock()
    second = project.migrate("apply", "--all")
    first_out, first_err = first.communicate(timeout=120)

    assert first.returncode == 0, first_out + first_err
    assert second.returncode != 0
    assert "another runner is applying migrations to this project" in " ".join(
        (second.stdout + second.stderr).split()
    )
    assert project.states() == {1: "MIGRATED", 2: "MIGRATED", 3: "MIGRATED"}


def test_two_checkouts_applying_at_once_run_each_migration_once(project: Project) -> None:
    """Two machines' copies of one project (no shared lock file) against one server."""
    other_dir = project.dir.parent / "elsewhere"
    shutil.copytree(project.dir, other_dir)
    other_properties = other_dir / "ksql-migrations.properties"
    first = project.start("apply", "--all")
    project.wait_for_lock()
    second = project.start("apply", "--all", properties=other_properties)
    outcomes = [process.communicate(timeout=120) for process in (first, second)]
    codes = [first.returncode, second.returncode]

    assert sorted(codes) == [0, 1] or codes == [0, 0], outcomes
    refused = [
        " ".join((out + err).split())
        for (out, err), code in zip(outcomes, codes, strict=True)
        if code
    ]
    assert all("another runner" in text for text in refused), refused
    assert project.states() == {1: "MIGRATED", 2: "MIGRATED", 3: "MIGRATED"}


def _keys_on(bootstrap: str, topic: str, *, expect: int, timeout_s: float = 30) -> list[str]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"migrate-test-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    keys: list[str] = []
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            for message in consumer.consume(100, timeout=0.5):
                if message.error() is None:
                    keys.append((message.key() or b"").decode())
            if len(keys) >= expect:
                # Anything that should not have passed the filter would be here by now too.
                keys.extend(
                    (m.key() or b"").decode()
                    for m in consumer.consume(100, timeout=2.0)
                    if m.error() is None
                )
                break
    finally:
        consumer.close()
    return keys
