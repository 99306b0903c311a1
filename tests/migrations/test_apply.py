"""`apply`: what is sent, what is recorded, and what stops a run."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from streamguard.ksqldb import KsqlClient
from streamguard.migrations import verbs
from streamguard.migrations.config import MigrationConfig
from streamguard.migrations.errors import (
    ChecksumMismatch,
    MigrationError,
    MigrationFileError,
    StatementFailed,
)
from streamguard.migrations.metadata import Metadata, MigrationState
from streamguard.migrations.runner import Target
from tests.migrations.fake_ksqldb import FakeKsqlDB


def run(
    config: MigrationConfig, client: KsqlClient, clock: Callable[[], int], **kwargs: Any
) -> list[int]:
    target = kwargs.pop("target", Target(all=True))
    applied = verbs.apply(
        config, client, target, claim_settle_s=0, retry_delay_s=0, clock_ms=clock, **kwargs
    )
    return [m.version for m in applied]


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_apply_records_each_version_as_ksql_migrations_does(
    config: MigrationConfig, client: KsqlClient, server: FakeKsqlDB, clock: Callable[[], int]
) -> None:
    assert run(config, client, clock, target=Target(until=2)) == [1, 2]

    inserts = server.bodies("/inserts-stream")
    assert all(body[0] == {"target": "MIGRATION_EVENTS"} for body in inserts)
    rows = [body[1] for body in inserts]
    assert [(r["VERSION_KEY"], r["VERSION"], r["STATE"]) for r in rows] == [
        ("CURRENT", "1", "RUNNING"),
        ("1", "1", "RUNNING"),
        ("CURRENT", "1", "MIGRATED"),
        ("1", "1", "MIGRATED"),
        ("CURRENT", "2", "RUNNING"),
        ("2", "2", "RUNNING"),
        ("CURRENT", "2", "MIGRATED"),
        ("2", "2", "MIGRATED"),
    ]
    first = config.migrations_dir / "V000001__create_a.sql"
    assert list(rows[0]) == [
        "VERSION_KEY",
        "VERSION",
        "NAME",
        "STATE",
        "CHECKSUM",
        "STARTED_ON",
        "COMPLETED_ON",
        "PREVIOUS",
        "ERROR_REASON",
    ]
    assert rows[0]["NAME"] == "create a"
    assert rows[0]["CHECKSUM"] == md5(first)
    assert rows[0]["PREVIOUS"] == "<none>" and rows[4]["PREVIOUS"] == "1"
    assert rows[0]["COMPLETED_ON"] == "" and rows[2]["COMPLETED_ON"].isdigit()
    assert rows[2]["STARTED_ON"] == rows[0]["STARTED_ON"]
    assert {r["ERROR_REASON"] for r in rows} == {"N/A"}
    assert [s.strip() for s in server.user_statements()] == [
        first.read_text().split("\n", 1)[1].strip(),
        "CREATE STREAM b AS SELECT * FROM a EMIT CHANGES;",
    ]
    sqls = [body["sql"] for body in server.bodies("/query-stream")]
    assert sqls[0] == "SELECT VERSION FROM MIGRATION_SCHEMA_VERSIONS WHERE version_key = 'CURRENT';"
    assert (
        "SELECT version, checksum, previous, state, name, started_on, completed_on, error_reason "
        "FROM MIGRATION_SCHEMA_VERSIONS WHERE version_key = '1';"
    ) in sqls


def test_apply_returns_once_the_table_shows_its_last_version_migrated(
    config: MigrationConfig, client: KsqlClient, server: FakeKsqlDB, clock: Callable[[], int]
) -> None:
    def lag_after_the_last(row: dict[str, Any]) -> None:
        if row["VERSION_KEY"] == "2" and row["STATE"] == "MIGRATED":
            server.lagging_pulls = 3

    server.on_insert = lag_after_the_last
    assert run(config, client, clock, target=Target(until=2)) == [1, 2]
    # What `migrate info` run next reads: the table has caught up, not "2 RUNNING".
    infos = Metadata(client, config).infos_for_versions([2])
    assert infos[2].state is MigrationState.MIGRATED
    assert server.lagging_pulls == 0


def test_a_failing_statement_records_error_and_stops_the_run(
    config: MigrationConfig, client: KsqlClient, server: FakeKsqlDB, clock: Callable[[], int]
) -> None:
    bad = config.migrations_dir / "V000002__create_b.sql"
    bad.write_text("-- typo below\n\nCREATE STREAM b AS SELEC * FROM a;\n")
    server.fail["SELEC *"] = "line 3:22: Syntax Error\nmismatched input 'SELEC'"

    with pytest.raises(StatementFailed) as failure:
        run(config, client, clock)

    message = str(failure.value)
    assert f"{bad}:3:" in message
    assert "CREATE STREAM b AS SELEC * FROM a;" in message
    assert "line 3:22: Syntax Error" in message and "40001" in message
    table = server.table()
    assert table["1"]["STATE"] == "MIGRATED"
    assert table["2"]["STATE"] == "ERROR"
    assert table["CURRENT"]["STATE"] == "ERROR"
    assert table["2"]["ERROR_REASON"] == (
        "Failed to execute sql: \n\nCREATE STREAM b AS SELEC * FROM a;. Error: Received 400 "
        "response from server: line 3:22: Syntax Error\nmismatched input 'SELEC'. "
        "Error code: 40001"
    )
    assert "3" not in table
    assert not any("CREATE TABLE c" in s for s in server.statements())

    # Fixed, the next apply retries version 2 and goes on.
    bad.write_text("CREATE STREAM b AS SELECT * FROM a;\n")
    assert run(config, client, clock) == [2, 3]
    assert server.table()["2"]["PREVIOUS"] == "1"


def test_validate_names_an_applied_file_changed_afterwards(
    config: MigrationConfig, client: KsqlClient, server: FakeKsqlDB, clock: Callable[[], int]
) -> None:
    run(config, client, clock)
    assert verbs.validate(config, client) == [3, 2, 1]
    changed = config.migrations_dir / "V000002__create_b.sql"
    recorded = server.table()["2"]["CHECKSUM"]
    changed.write_text(changed.read_text().replace("b AS", "b2 AS"))

    with pytest.raises(ChecksumMismatch) as mismatch:
        verbs.validate(config, client)
    assert mismatch.value.version == 2
    assert str(changed) in str(mismatch.value) and recorded in str(mismatch.value)

    (config.migrations_dir / "V000004__more.sql").write_text(CREATE_D)
    with pytest.raises(ChecksumMismatch):
        run(config, client, clock)
    assert "4" not in server.table()


CREATE_D = "CREATE STREAM d AS SELECT * FROM a;\n"


def insert_request(server: FakeKsqlDB) -> dict[str, Any]:
    """The /ksql request that ran the rule's INSERT INTO."""
    bodies = server.bodies("/ksql")
    found: dict[str, Any] = next(
        b for b in bodies if b["ksql"].lstrip().startswith("INSERT INTO alerts")
    )
    return found


def test_dry_run_sends_nothing(
    config: MigrationConfig,
    client: KsqlClient,
    server: FakeKsqlDB,
    clock: Callable[[], int],
) -> None:
    shown: list[str] = []
    assert run(config, client, clock, dry_run=True, echo=shown.append) == [1, 2, 3]
    assert server.bodies("/inserts-stream") == []
    assert server.user_statements() == []
    assert any("CREATE TABLE c" in line for line in shown)


def test_until_and_version_choose_the_files(
    config: MigrationConfig, client: KsqlClient, server: FakeKsqlDB, clock: Callable[[], int]
) -> None:
    assert run(config, client, clock, target=Target(until=1)) == [1]
    assert run(config, client, clock, target=Target(version=3)) == [3]
    assert server.table()["3"]["PREVIOUS"] == "1"
    with pytest.raises(MigrationError, match="not newer than the last version migrated"):
        run(config, client, clock, target=Target(version=2))
    with pytest.raises(MigrationFileError, match="no migration file with version 9"):
        run(config, client, clock, target=Target(version=9))
    with pytest.raises(MigrationError, match="no eligible migration"):
        run(config, client, clock, target=Target(next=True))  # nothing after 3


def test_next_applies_one(
    config: MigrationConfig, client: KsqlClient, server: FakeKsqlDB, clock: Callable[[], int]
) -> None:
    assert run(config, client, clock, target=Target(next=True)) == [1]
    assert run(config, client, clock, target=Target(next=True)) == [2]
    assert server.table()["CURRENT"]["VERSION"] == "2"


def test_exactly_one_target_is_required() -> None:
    with pytest.raises(MigrationError, match="exactly one"):
        Target(all=True, until=2)
    with pytest.raises(MigrationError, match="exactly one"):
        Target()


THRESHOLD_FILE = """DEFINE high_amount_threshold = '5000.00';
SET 'auto.offset.reset' = 'earliest';
INSERT INTO alerts SELECT * FROM txns WHERE amount > ${high_amount_threshold} EMIT CHANGES;
"""


def test_a_files_own_define_wins_over_the_command_line_as_in_ksql_migrations(
    config: MigrationConfig, client: KsqlClient, server: FakeKsqlDB, clock: Callable[[], int]
) -> None:
    (config.migrations_dir / "V000004__rule.sql").write_text(THRESHOLD_FILE)
    run(config, client, clock, defines={"high_amount_threshold": "9000.00"})

    body = next(
        b for b in server.bodies("/ksql") if b["ksql"].lstrip().startswith("INSERT INTO alerts")
    )
    assert body["sessionVariables"] == {"high_amount_threshold": "5000.00"}
    assert body["streamsProperties"] == {"auto.offset.reset": "earliest"}
    assert "${high_amount_threshold}" in body["ksql"]  # the server substitutes, as ksqlDB does


def test_defines_replace_the_projects_defaults_and_start_afresh_in_each_file(
    config: MigrationConfig, client: KsqlClient, server: FakeKsqlDB, clock: Callable[[], int]
) -> None:
    (config.project_dir / "ksql-defines.properties").write_text("limit=5\\u0030\nother=1\n")
    (config.migrations_dir / "V000004__defines_x.sql").write_text(
        "DEFINE x = 'mine';\nUNDEFINE other;\nINSERT INTO alerts SELECT * FROM txns "
        "WHERE amount > ${limit} AND c = '${x}' EMIT CHANGES;\n"
    )
    (config.migrations_dir / "V000005__uses_other.sql").write_text(
        "INSERT INTO alerts SELECT * FROM txns WHERE amount > ${other} EMIT CHANGES;\n"
    )
    run(config, client, clock, defines={"limit": "7"})

    inserts = [
        b for b in server.bodies("/ksql") if b["ksql"].lstrip().startswith("INSERT INTO alerts")
    ]
    assert [b["sessionVariables"] for b in inserts] == [
        {"limit": "7", "x": "mine"},
        # A file's DEFINE and UNDEFINE end with it: the next starts from the defaults again.
        {"limit": "7", "other": "1"},
    ]


def test_a_variable_with_no_value_anywhere_names_where_to_give_one(
    config: MigrationConfig, client: KsqlClient, server: FakeKsqlDB, clock: Callable[[], int]
) -> None:
    (config.migrations_dir / "V000004__rule.sql").write_text(
        "INSERT INTO alerts SELECT * FROM txns WHERE amount > ${nowhere} EMIT CHANGES;\n"
    )
    with pytest.raises(MigrationFileError, match=r"ksql-defines\.properties, pass --define"):
        run(config, client, clock)


def test_a_files_define_applies_without_an_override(
    config: MigrationConfig, client: KsqlClient, server: FakeKsqlDB, clock: Callable[[], int]
) -> None:
    (config.migrations_dir / "V000004__rule.sql").write_text(THRESHOLD_FILE)
    shown: list[str] = []
    run(config, client, clock, dry_run=True, echo=shown.append)
    assert any("amount > 5000.00" in line for line in shown)
    run(config, client, clock)
    body = next(
        b for b in server.bodies("/ksql") if b["ksql"].lstrip().startswith("INSERT INTO alerts")
    )
    assert body["sessionVariables"] == {"high_amount_threshold": "5000.00"}


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("SELECT * FROM a EMIT CHANGES;\n", "'SELECT' statements are not supported"),
        ("describe a;\n", "'DESCRIBE' statements are not supported"),
        ("RUN SCRIPT '/tmp/x.sql';\n", "'RUN SCRIPT' statements are not supported"),
        ("CREATE STREAM e AS SELECT * FROM a\n", "no closing semicolon"),
        ("CREATE STREAM e AS SELECT * FROM a WHERE v > ${limit};\n", r"uses \$\{limit\}"),
        ("CREATE STREAM e WITH (KAFKA_TOPIC='e) AS SELECT * FROM a;\n", "never closed"),
    ],
)
def test_a_refused_statement_stops_everything_before_it_runs(
    config: MigrationConfig,
    client: KsqlClient,
    server: FakeKsqlDB,
    clock: Callable[[], int],
    text: str,
    error: str,
) -> None:
    bad = config.migrations_dir / "V000004__bad.sql"
    bad.write_text("-- fine so far\n" + text)
    with pytest.raises(MigrationFileError, match=error) as refused:
        run(config, client, clock)
    assert str(bad) in str(refused.value)
    assert server.bodies("/inserts-stream") == []
    assert server.user_statements() == []


def test_the_projects_own_rules_apply_with_their_thresholds(
    tmp_path: Path, client: KsqlClient, server: FakeKsqlDB, clock: Callable[[], int]
) -> None:
    ksql = Path(__file__).resolve().parents[2] / "ksql"
    config = MigrationConfig(server_url="http://ksqldb.test:8088", migrations_dir=ksql)
    # The lock lives beside the folder; a copy keeps the repository untouched.
    copy = tmp_path / "ksql"
    copy.mkdir()
    for path in ksql.glob("V*.sql"):
        (copy / path.name).write_bytes(path.read_bytes())
    defaults = ksql.parent / "ksql-defines.properties"
    (tmp_path / defaults.name).write_bytes(defaults.read_bytes())
    config = MigrationConfig(server_url=config.server_url, migrations_dir=copy)

    shown: list[str] = []
    applied = run(
        config,
        client,
        clock,
        defines={"velocity_min_count": "7"},
        rule_tests=False,
        echo=shown.append,
    )

    assert applied == list(range(1, 9))
    assert any(line.startswith("Rule cases NOT run (--skip-rule-tests)") for line in shown)
    variables = {
        key: value
        for body in server.bodies("/ksql")
        for key, value in (body.get("sessionVariables") or {}).items()
    }
    assert variables["high_amount_threshold"] == "5000.00"
    assert variables["velocity_min_count"] == "7"
    assert variables["amount_velocity_total"] == "10000.00"
    assert variables["geo_min_countries"] == "2"
    assert variables["card_testing_max_amount"] == "2.00"
    assert variables["card_testing_min_count"] == "3"
    assert variables["night_min_amount"] == "1000.00"
    inserts = [s for s in server.user_statements() if s.lstrip().startswith("INSERT INTO")]
    assert len(inserts) == 6
    assert all("fraud_alerts" in s for s in inserts)
