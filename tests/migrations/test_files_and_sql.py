"""Files, statement splitting and the properties file, as ksql-migrations reads them."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from streamguard.migrations.config import load_config, read_properties
from streamguard.migrations.errors import ConfigError, MigrationFileError
from streamguard.migrations.files import all_migrations, create_migration_file, new_file_name
from streamguard.migrations.sql import Kind, parse_migration, split_sql, substitute


def test_files_are_read_in_version_order_with_their_names(tmp_path: Path) -> None:
    for name in ("V000010__ten.sql", "V000002__add_users_table.sql", "README.md", "V1__x.sql"):
        (tmp_path / name).write_text("x;")
    found = all_migrations(tmp_path)
    assert [(m.version, m.name) for m in found] == [(2, "add users table"), (10, "ten")]
    assert found[0].checksum() == hashlib.md5(b"x;").hexdigest()


def test_two_files_of_one_version_are_an_error(tmp_path: Path) -> None:
    (tmp_path / "V000001__a.sql").write_text("")
    (tmp_path / "V000001__b.sql").write_text("")
    with pytest.raises(MigrationFileError, match="two migration files have version 1"):
        all_migrations(tmp_path)


def test_create_names_the_next_version(tmp_path: Path) -> None:
    (tmp_path / "V000003__a.sql").write_text("")
    assert create_migration_file(tmp_path, "Add rule: big/amounts").name == (
        "V000004__Add_rule__big_amounts.sql"
    )
    assert create_migration_file(tmp_path, "x", version=7).name == "V000007__x.sql"
    with pytest.raises(MigrationFileError, match="version 7 already exists"):
        create_migration_file(tmp_path, "y", version=7)
    with pytest.raises(MigrationFileError, match="cannot be empty"):
        new_file_name(8, " ")


def test_split_keeps_semicolons_in_quotes_and_drops_comments() -> None:
    sql = (
        "-- header\n"
        "CREATE STREAM s (a VARCHAR) WITH (KAFKA_TOPIC='t;1', VALUE_FORMAT='JSON');\n"
        "/* block\n comment */ INSERT INTO s (a) VALUES ('it''s; fine');\n"
        "\n"
        "DEFINE limit = '5';\n"
    )
    statements = parse_migration(sql)
    assert [(s.kind, s.line) for s in statements] == [
        (Kind.STATEMENT, 2),
        (Kind.INSERT_VALUES, 4),
        (Kind.DEFINE, 6),
    ]
    assert "KAFKA_TOPIC='t;1'" in statements[0].text
    assert "'it''s; fine'" in statements[1].text
    assert "block" not in statements[1].text
    assert (statements[2].name, statements[2].value) == ("limit", "5")


def test_set_and_unset_are_read_as_properties() -> None:
    set_, unset = parse_migration("SET 'auto.offset.reset' = 'earliest';\nUNSET 'x';\n")
    assert (set_.kind, set_.name, set_.value) == (Kind.SET, "auto.offset.reset", "earliest")
    assert (unset.kind, unset.name) == (Kind.UNSET, "x")


def test_bad_statements_name_their_line() -> None:
    with pytest.raises(MigrationFileError, match=r"x\.sql:3: invalid DEFINE"):
        split = (
            "CREATE STREAM a (x INT) WITH (KAFKA_TOPIC='a', VALUE_FORMAT='JSON');\n"
            "\n"
            "DEFINE 9 = 1;\n"
        )
        parse_migration(split, Path("x.sql"))
    with pytest.raises(MigrationFileError, match="needs a newline"):
        split_sql("SELECT 1; -- trailing")


def test_substitute_leaves_unknown_names() -> None:
    assert substitute("a > ${x} AND b < ${y}", {"x": "5"}) == "a > 5 AND b < ${y}"


def test_properties_file_as_ksql_migrations_reads_it(tmp_path: Path) -> None:
    path = tmp_path / "ksql-migrations.properties"
    path.write_text(
        "# comment\n"
        "ksql.server.url=http://ksql:8088\n"
        "ksql.migrations.stream.name = EVENTS\n"
        "ksql.migrations.topic.replicas: 3\n"
        "ksql.migrations.table.topic.name=my_\\\n"
        "   versions\n"
    )
    assert read_properties(path)["ksql.migrations.table.topic.name"] == "my_versions"
    config = load_config(path)
    assert config.server_url == "http://ksql:8088"
    assert config.migrations_dir == tmp_path / "migrations"
    assert (config.stream_name, config.table_name) == ("EVENTS", "MIGRATION_SCHEMA_VERSIONS")
    assert config.topic_replicas == 3
    assert config.stream_topic("default_") == "default_ksql_EVENTS"
    assert config.table_topic("default_") == "my_versions"


def test_a_properties_file_without_the_server_url_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ksql-migrations.properties"
    path.write_text("ksql.migrations.topic.replicas=x\n")
    with pytest.raises(ConfigError, match=r"does not set ksql\.server\.url"):
        load_config(path)
