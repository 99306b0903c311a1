"""The metadata statements, exactly as ksql-migrations sends them; `info`, `destroy-metadata`."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from streamguard.ksqldb import KsqlClient
from streamguard.migrations import verbs
from streamguard.migrations.config import MigrationConfig
from streamguard.migrations.errors import MetadataError
from streamguard.migrations.metadata import MigrationState
from streamguard.migrations.runner import Target
from tests.migrations.fake_ksqldb import FakeKsqlDB

EXPECTED_STREAM = (
    "CREATE STREAM MIGRATION_EVENTS (\n"
    "  version_key  STRING KEY,\n"
    "  version      STRING,\n"
    "  name         STRING,\n"
    "  state        STRING,  \n"
    "  checksum     STRING,\n"
    "  started_on   STRING,\n"
    "  completed_on STRING,\n"
    "  previous     STRING,\n"
    "  error_reason STRING\n"
    ") WITH (  \n"
    "  KAFKA_TOPIC='default_ksql_MIGRATION_EVENTS',\n"
    "  VALUE_FORMAT='JSON',\n"
    "  PARTITIONS=1,\n"
    "  REPLICAS= 1 \n"
    ");\n"
)
EXPECTED_TABLE = (
    "CREATE TABLE MIGRATION_SCHEMA_VERSIONS\n"
    "  WITH (\n"
    "    KAFKA_TOPIC='default_ksql_MIGRATION_SCHEMA_VERSIONS'\n"
    "  )\n"
    "  AS SELECT \n"
    "    version_key, \n"
    "    latest_by_offset(version) as version, \n"
    "    latest_by_offset(name) AS name, \n"
    "    latest_by_offset(state) AS state,     \n"
    "    latest_by_offset(checksum) AS checksum, \n"
    "    latest_by_offset(started_on) AS started_on, \n"
    "    latest_by_offset(completed_on) AS completed_on, \n"
    "    latest_by_offset(previous) AS previous, \n"
    "    latest_by_offset(error_reason) AS error_reason \n"
    "  FROM MIGRATION_EVENTS \n"
    "  GROUP BY version_key;\n"
)


def test_initialize_metadata_sends_ksql_migrations_statements(config: MigrationConfig) -> None:
    server = FakeKsqlDB()
    with server.client() as client:
        verbs.initialize_metadata(config, client)
    assert server.statements() == [EXPECTED_STREAM, EXPECTED_TABLE]


def test_configured_names_and_topics_are_used(config: MigrationConfig) -> None:
    from dataclasses import replace

    server = FakeKsqlDB(service_id="fraud_")
    named = replace(config, stream_name="EVENTS", table_name="VERSIONS", topic_replicas=3)
    with server.client() as client:
        verbs.initialize_metadata(named, client)
    stream, table = server.statements()
    assert stream.startswith("CREATE STREAM EVENTS (")
    assert "KAFKA_TOPIC='fraud_ksql_EVENTS'" in stream and "REPLICAS= 3 \n" in stream
    assert "KAFKA_TOPIC='fraud_ksql_VERSIONS'" in table and "FROM EVENTS \n" in table


def test_commands_before_initialize_say_what_to_run(
    config: MigrationConfig, clock: Callable[[], int]
) -> None:
    server = FakeKsqlDB()
    with server.client() as client, pytest.raises(MetadataError) as missing:
        verbs.apply(config, client, Target(all=True), clock_ms=clock)
    assert "MIGRATION_EVENTS" in str(missing.value)
    assert "streamguard migrate initialize-metadata" in str(missing.value)
    assert server.statements() == ["describe MIGRATION_EVENTS;"]


def test_info_lists_applied_and_pending_versions(
    config: MigrationConfig, client: KsqlClient, server: FakeKsqlDB, clock: Callable[[], int]
) -> None:
    verbs.apply(config, client, Target(until=2), claim_settle_s=0, clock_ms=clock)
    report = verbs.info(config, client)
    assert report.current_version == "2"
    assert [(v.version, v.name, v.state) for v in report.versions] == [
        (1, "create a", MigrationState.MIGRATED),
        (2, "create b", MigrationState.MIGRATED),
        (3, "create c", MigrationState.PENDING),
    ]
    assert server.bodies("/query-stream")[-1]["sql"] == (
        "SELECT version, checksum, previous, state, name, started_on, completed_on, error_reason "
        "FROM MIGRATION_SCHEMA_VERSIONS WHERE version_key IN ('1', '2', '3');"
    )


def test_destroy_metadata_terminates_and_drops(
    config: MigrationConfig, client: KsqlClient, server: FakeKsqlDB
) -> None:
    verbs.destroy_metadata(config, client)
    assert server.statements() == [
        "list tables;",
        "describe MIGRATION_SCHEMA_VERSIONS;",
        "TERMINATE CTAS_MIGRATION_SCHEMA_VERSIONS_1;",
        "DROP TABLE MIGRATION_SCHEMA_VERSIONS DELETE TOPIC;",
        "list streams;",
        "DROP STREAM MIGRATION_EVENTS DELETE TOPIC;",
    ]
    assert server.sources == {}


def test_info_asks_one_version_at_a_time_of_servers_before_0_14(
    config: MigrationConfig, clock: Callable[[], int]
) -> None:
    server = FakeKsqlDB(version="0.13.0")
    server.initialize()
    with server.client() as client:
        verbs.apply(config, client, Target(until=1), claim_settle_s=0, clock_ms=clock)
        report = verbs.info(config, client)
    assert [v.state for v in report.versions] == [
        MigrationState.MIGRATED,
        MigrationState.PENDING,
        MigrationState.PENDING,
    ]
    sqls = [body["sql"] for body in server.bodies("/query-stream")]
    assert not any(" IN (" in sql for sql in sqls)
    assert sqls[-1].endswith("WHERE version_key = '3';")


def test_initialize_again_keeps_what_exists_and_says_so(config: MigrationConfig) -> None:
    server = FakeKsqlDB()
    server.fail["CREATE STREAM MIGRATION_EVENTS"] = (
        "Cannot add stream 'MIGRATION_EVENTS': A stream with the same name already exists"
    )
    with server.client() as client:
        assert verbs.initialize_metadata(config, client) == ["MIGRATION_EVENTS"]
    assert server.statements()[-1] == EXPECTED_TABLE


def test_initialize_reports_other_failures(config: MigrationConfig) -> None:
    server = FakeKsqlDB()
    server.fail["CREATE STREAM MIGRATION_EVENTS"] = "Authorization denied to Write on topic"
    with server.client() as client, pytest.raises(MetadataError, match="Authorization denied"):
        verbs.initialize_metadata(config, client)
