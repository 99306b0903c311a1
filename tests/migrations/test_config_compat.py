"""The runner's configuration as ksql-migrations reads it: the project's committed properties
file, whose server wins, `-c` on either side of the verb, `--headers`, TLS settings."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from typer.testing import CliRunner

from streamguard.migrations import command
from streamguard.migrations.config import MigrationConfig, load_config, resolve_config
from streamguard.migrations.connection import ssl_context
from streamguard.migrations.errors import ConfigError
from streamguard.migrations.files import all_migrations
from streamguard.migrations.local_config import write_local_config
from tests.migrations.fake_ksqldb import FakeKsqlDB

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def test_the_committed_properties_file_points_ksql_migrations_at_ksql(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(ROOT)
    config = load_config(ROOT / "ksql-migrations.properties")
    assert config.migrations_dir == Path("ksql")
    assert [m.path.parent.name for m in all_migrations(config.migrations_dir)] == ["ksql"] * len(
        list((ROOT / "ksql").glob("V*.sql"))
    )
    assert config.server_url == "http://localhost:8088"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "migrations").mkdir()
    (tmp_path / "ksql-migrations.properties").write_text(
        "ksql.server.url=http\\://from-file\\:8088\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KSQLDB_URL", raising=False)
    monkeypatch.delenv("STREAMGUARD_KSQLDB_URL", raising=False)
    return tmp_path


def test_the_files_server_wins_and_another_in_ksqldb_url_is_an_error(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert resolve_config(None).server_url == "http://from-file:8088"
    monkeypatch.setenv("KSQLDB_URL", "http://from-file:8088/")
    assert resolve_config(None).server_url == "http://from-file:8088"
    monkeypatch.setenv("KSQLDB_URL", "http://elsewhere:8088")
    with pytest.raises(ConfigError) as conflict:
        resolve_config(None)
    message = str(conflict.value)
    assert "ksql.server.url=http://from-file:8088" in message
    assert "KSQLDB_URL is http://elsewhere:8088" in message
    assert "ksql-migrations would use the file's server" in message


def test_without_a_properties_file_the_settings_name_the_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KSQLDB_URL", "http://elsewhere:8088")
    config = resolve_config(None)
    assert config.server_url == "http://elsewhere:8088"
    assert config.migrations_dir == Path("ksql")


def test_config_file_before_the_verb_and_headers_reach_the_client(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = FakeKsqlDB()
    server.initialize()
    seen: list[MigrationConfig] = []

    def factory(config: MigrationConfig) -> object:
        seen.append(config)
        return server.client()

    monkeypatch.setattr(command, "client_factory", factory)
    monkeypatch.setattr("streamguard.migrations.verbs.CLAIM_SETTLE_S", 0.0)
    elsewhere = project / "other.properties"
    elsewhere.write_text("ksql.server.url=http://other:8088\nksql.migrations.dir.override=m2\n")
    (project / "m2").mkdir()
    headers = project / "headers.properties"
    headers.write_text("X-Team: fraud\nX-Note=caf\\u00e9\n")

    result = runner.invoke(
        command.migrate_app, ["-c", str(elsewhere), "apply", "--all", "--headers", str(headers)]
    )

    assert result.exit_code == 0, result.output
    assert seen[0].server_url == "http://other:8088"
    assert seen[0].migrations_dir == Path("m2")
    assert seen[0].headers == {"X-Team": "fraud", "X-Note": "café"}


def test_two_different_config_files_are_refused(project: Path) -> None:
    result = runner.invoke(
        command.migrate_app, ["-c", "a.properties", "info", "-c", "b.properties"]
    )
    assert result.exit_code == 2
    assert "two config files" in result.output


def test_ssl_settings(tmp_path: Path) -> None:
    assert ssl_context({}).check_hostname is True
    assert ssl_context({"ssl.verify.host": "false"}).check_hostname is False
    assert isinstance(ssl_context({}), ssl.SSLContext)
    with pytest.raises(ConfigError, match=r"is a Java key store; convert it to PEM"):
        ssl_context({"ssl.truststore.location": str(tmp_path / "trust.jks")})
    with pytest.raises(ConfigError, match="must be true or false"):
        ssl_context({"ssl.verify.host": "yes"})


def test_the_local_stacks_copy_names_its_own_server_and_the_absolute_folder(
    tmp_path: Path,
) -> None:
    path = write_local_config(tmp_path / "local.properties", "http://127.0.0.1:9999", ROOT)
    config = load_config(path)
    assert config.server_url == "http://127.0.0.1:9999"
    assert config.migrations_dir == ROOT / "ksql"
