"""Two runners on one project: the second refuses, on one machine or across machines."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from streamguard.ksqldb import KsqlClient
from streamguard.migrations import verbs
from streamguard.migrations.config import MigrationConfig
from streamguard.migrations.errors import RunnerBusy
from streamguard.migrations.lock import ProjectLock
from streamguard.migrations.runner import Target
from tests.migrations.fake_ksqldb import FakeKsqlDB


def apply_all(
    config: MigrationConfig, client: KsqlClient, clock: Callable[[], int], **kwargs: Any
) -> list[int]:
    kwargs.setdefault("claim_settle_s", 0)
    applied = verbs.apply(
        config, client, Target(all=True), retry_delay_s=0, clock_ms=clock, **kwargs
    )
    return [m.version for m in applied]


def test_a_second_runner_on_this_machine_is_refused(
    config: MigrationConfig, client: KsqlClient, server: FakeKsqlDB, clock: Callable[[], int]
) -> None:
    with ProjectLock(config.project_dir), pytest.raises(RunnerBusy) as busy:
        apply_all(config, client, clock)
    assert "another runner is applying migrations to this project" in str(busy.value)
    assert "pid" in str(busy.value)
    assert server.user_statements() == [] and server.bodies("/inserts-stream") == []
    assert apply_all(config, client, clock) == [1, 2, 3]  # released, the next run goes ahead


def test_a_version_running_elsewhere_refuses_the_run_until_taken_over(
    config: MigrationConfig, client: KsqlClient, server: FakeKsqlDB, clock: Callable[[], int]
) -> None:
    row = {
        "VERSION": "1",
        "NAME": "create a",
        "STATE": "RUNNING",
        "CHECKSUM": "x",
        "STARTED_ON": "1767225600000",
        "COMPLETED_ON": "",
        "PREVIOUS": "<none>",
        "ERROR_REASON": "N/A",
    }
    server.events += [{"VERSION_KEY": "CURRENT", **row}, {"VERSION_KEY": "1", **row}]

    with pytest.raises(RunnerBusy) as busy:
        apply_all(config, client, clock)
    assert "version 1 (create a) has been RUNNING since 2026-01-01T00:00:00Z" in str(busy.value)
    assert "ksql-migrations would apply it again now; this runner refuses" in str(busy.value)
    assert "a second run would repeat" in str(busy.value)
    assert "--takeover" in str(busy.value)
    assert server.user_statements() == []

    assert apply_all(config, client, clock, takeover=True) == [1, 2, 3]


def test_a_runner_that_loses_the_claim_stops_without_running_anything(
    config: MigrationConfig, client: KsqlClient, server: FakeKsqlDB, clock: Callable[[], int]
) -> None:
    def rival_writes_after_us(row: dict[str, Any]) -> None:
        if row["VERSION_KEY"] == "1" and row["STATE"] == "RUNNING" and row["STARTED_ON"] != "9":
            server.events.append({**row, "STARTED_ON": "9"})

    server.on_insert = rival_writes_after_us
    with pytest.raises(RunnerBusy, match="another runner started version 1 at the same moment"):
        apply_all(config, client, clock)
    assert server.user_statements() == []
    assert server.table()["1"]["STARTED_ON"] == "9"  # the rival's row stands


def test_two_concurrent_applies_on_two_machines_run_each_migration_once(
    project: Path, tmp_path: Path, server: FakeKsqlDB
) -> None:
    """Two checkouts of one project (no shared lock file) against one server."""
    other = tmp_path / "elsewhere" / "migrations"
    other.mkdir(parents=True)
    for path in (project / "migrations").iterdir():
        (other / path.name).write_bytes(path.read_bytes())
    configs = [
        MigrationConfig(server_url="http://ksqldb.test:8088", migrations_dir=directory)
        for directory in (project / "migrations", other)
    ]
    started = threading.Event()

    def slow_first_statement(text: str) -> None:
        if "CREATE STREAM a" in text:
            started.set()
            time.sleep(0.5)

    server.on_statement = slow_first_statement
    outcomes: list[object] = [None, None]

    def runner(index: int) -> None:
        if index == 1:
            started.wait(5)
        with server.client() as client:
            try:
                outcomes[index] = apply_all(
                    configs[index], client, lambda: int(time.time() * 1000), claim_settle_s=0.05
                )
            except RunnerBusy as exc:
                outcomes[index] = exc

    threads = [threading.Thread(target=runner, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)

    assert outcomes[0] == [1, 2, 3]
    assert isinstance(outcomes[1], RunnerBusy)
    assert "RUNNING" in str(outcomes[1])
    assert sum("CREATE STREAM a" in s for s in server.statements()) == 1
