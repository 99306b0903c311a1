"""`streamguard migrate` on the command line: flags, output and exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from streamguard.migrations import command
from tests.migrations.fake_ksqldb import FakeKsqlDB

runner = CliRunner()


@pytest.fixture
def cli_server(monkeypatch: pytest.MonkeyPatch) -> FakeKsqlDB:
    server = FakeKsqlDB()
    monkeypatch.setattr(command, "client_factory", lambda _config: server.client())
    monkeypatch.setattr("streamguard.migrations.verbs.CLAIM_SETTLE_S", 0.0)
    return server


def test_new_project_then_initialize_create_and_apply(
    tmp_path: Path, cli_server: FakeKsqlDB
) -> None:
    project = tmp_path / "proj"
    result = runner.invoke(command.migrate_app, ["new-project", str(project), "http://k:8088"])
    assert result.exit_code == 0, result.output
    config = project / "ksql-migrations.properties"
    assert "ksql.server.url=http://k:8088" in config.read_text()

    result = runner.invoke(command.migrate_app, ["initialize-metadata", "-c", str(config)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(command.migrate_app, ["create", "add stream", "-c", str(config)])
    assert result.exit_code == 0, result.output
    created = project / "migrations" / "V000001__add_stream.sql"
    created.write_text("CREATE STREAM s (a INT) WITH (KAFKA_TOPIC='s', VALUE_FORMAT='JSON');\n")

    result = runner.invoke(command.migrate_app, ["apply", "--all", "-c", str(config)])
    assert result.exit_code == 0, result.output
    assert cli_server.table()["1"]["STATE"] == "MIGRATED"

    result = runner.invoke(command.migrate_app, ["info", "-c", str(config)])
    assert result.exit_code == 0, result.output
    assert "Current migration version: 1" in result.output and "MIGRATED" in result.output


def test_a_failing_statement_exits_non_zero_naming_file_line_statement_and_error(
    tmp_path: Path, cli_server: FakeKsqlDB
) -> None:
    cli_server.initialize()
    (tmp_path / "migrations").mkdir()
    bad = tmp_path / "migrations" / "V000001__bad.sql"
    bad.write_text("\nCREATE STREAM s AS SELEC * FROM t;\n")
    cli_server.fail["SELEC"] = "line 2:20: Syntax Error"
    config = tmp_path / "ksql-migrations.properties"
    config.write_text("ksql.server.url=http://k:8088\n")

    result = runner.invoke(command.migrate_app, ["apply", "--all", "-c", str(config)])

    assert result.exit_code == 1
    assert f"{bad}:2:" in result.output.replace("\n", "")
    assert "CREATE STREAM s AS SELEC * FROM t;" in result.output
    assert "line 2:20: Syntax Error" in result.output


def test_apply_needs_one_target_and_well_formed_defines(
    tmp_path: Path, cli_server: FakeKsqlDB
) -> None:
    config = tmp_path / "ksql-migrations.properties"
    config.write_text("ksql.server.url=http://k:8088\n")
    result = runner.invoke(command.migrate_app, ["apply", "-c", str(config)])
    # A usage error like any other option's, told before a server is asked.
    assert result.exit_code == 2 and "exactly one of --all" in " ".join(result.output.split())
    result = runner.invoke(command.migrate_app, ["apply", "--all", "-d", "nope", "-c", str(config)])
    assert result.exit_code == 2 and "is not name=value" in result.output


def test_defines_without_any_variable_says_so_apart_from_the_flags(tmp_path: Path) -> None:
    """Outside a project it printed an empty line and nothing else."""
    (tmp_path / "ksql").mkdir()
    config = tmp_path / "ksql-migrations.properties"
    config.write_text(
        f"ksql.server.url=http://k:8088\nksql.migrations.dir.override={tmp_path / 'ksql'}\n"
    )
    result = runner.invoke(command.migrate_app, ["defines", "-c", str(config)])
    assert result.exit_code == 0, result.output
    assert "no variables:" in result.output and "ksql-defines.properties is not there" in (
        " ".join(result.output.split())
    )


def test_an_unreachable_server_from_a_file_names_the_local_stacks_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hint named "<state dir>", and not the command that writes the copy."""
    monkeypatch.setenv("STREAMGUARD_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("KSQLDB_URL", raising=False)
    config = tmp_path / "ksql-migrations.properties"
    config.write_text("ksql.server.url=http://127.0.0.1:1\n")
    result = runner.invoke(command.migrate_app, ["info", "-c", str(config)])
    assert result.exit_code == 1
    said = " ".join(result.output.split())
    copy = tmp_path / "state" / "ksql-migrations.properties"
    assert f"-c {copy}" in said
    assert f"python -m streamguard.migrations.local_config {copy}" in said
