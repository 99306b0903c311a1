"""The migrations metadata stream and table, named, shaped and written as ksql-migrations does."""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from streamguard.ksqldb import KsqlClient, KsqlConnectionError, KsqlError, SourceDescriptionEntity
from streamguard.migrations.config import MigrationConfig
from streamguard.migrations.errors import MetadataError
from streamguard.migrations.files import MigrationFile

NONE_VERSION = "<none>"
CURRENT_VERSION_KEY = "CURRENT"
EMPTY_ERROR_REASON = "N/A"
COLUMNS = (
    "VERSION_KEY",
    "VERSION",
    "NAME",
    "STATE",
    "CHECKSUM",
    "STARTED_ON",
    "COMPLETED_ON",
    "PREVIOUS",
    "ERROR_REASON",
)


class MigrationState(enum.StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    MIGRATED = "MIGRATED"
    ERROR = "ERROR"


@dataclass(frozen=True)
class VersionInfo:
    """One row of the schema-versions table (or a PENDING file with no row yet)."""

    version: int
    name: str
    state: MigrationState
    checksum: str = ""
    previous: str = NONE_VERSION
    started_on: str = ""
    completed_on: str = ""
    error_reason: str = EMPTY_ERROR_REASON

    @classmethod
    def from_row(cls, row: dict[str, object]) -> VersionInfo:
        values = {key.upper(): "" if value is None else str(value) for key, value in row.items()}
        try:
            state = MigrationState(values.get("STATE", ""))
        except ValueError:
            raise MetadataError(f"unknown migration state in the metadata table: {row}") from None
        return cls(
            version=int(values["VERSION"]),
            name=values.get("NAME", ""),
            state=state,
            checksum=values.get("CHECKSUM", ""),
            previous=values.get("PREVIOUS", "") or NONE_VERSION,
            started_on=values.get("STARTED_ON", ""),
            completed_on=values.get("COMPLETED_ON", ""),
            error_reason=values.get("ERROR_REASON", "") or EMPTY_ERROR_REASON,
        )


def create_stream_statement(name: str, topic: str, replicas: int) -> str:
    """The CREATE STREAM of ksql-migrations' `initialize`, character for character."""
    return (
        f"CREATE STREAM {name} (\n"
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
        f"  KAFKA_TOPIC='{topic}',\n"
        "  VALUE_FORMAT='JSON',\n"
        "  PARTITIONS=1,\n"
        f"  REPLICAS= {replicas} \n"
        ");\n"
    )


def create_table_statement(table: str, stream: str, topic: str) -> str:
    """The CREATE TABLE ... AS SELECT of ksql-migrations' `initialize`, character for character."""
    return (
        f"CREATE TABLE {table}\n"
        "  WITH (\n"
        f"    KAFKA_TOPIC='{topic}'\n"
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
        f"  FROM {stream} \n"
        "  GROUP BY version_key;\n"
    )


def current_version_query(table: str) -> str:
    return f"SELECT VERSION FROM {table} WHERE version_key = '{CURRENT_VERSION_KEY}';"


_INFO_COLUMNS = "version, checksum, previous, state, name, started_on, completed_on, error_reason"


def version_info_query(table: str, version: str) -> str:
    return f"SELECT {_INFO_COLUMNS} FROM {table} WHERE version_key = '{version}';"


def versions_info_query(table: str, versions: list[int]) -> str:
    keys = "', '".join(str(v) for v in versions)
    return f"SELECT {_INFO_COLUMNS} FROM {table} WHERE version_key IN ('{keys}');"


def supports_multi_key_pull_query(server_version: str) -> bool:
    """ksqlDB 0.14+ (Confluent Platform 6.1+) answers `WHERE version_key IN (...)`."""
    parts = server_version.lstrip("v").split(".")
    try:
        major, minor = int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        return False
    return (major, minor) >= ((6, 1) if major >= 4 else (0, 14))


class Metadata:
    """Reads and writes the migration metadata through a ksqlDB client."""

    def __init__(
        self,
        client: KsqlClient,
        config: MigrationConfig,
        *,
        clock_ms: Callable[[], int] | None = None,
    ) -> None:
        self.client = client
        self.config = config
        self.clock_ms = clock_ms or (lambda: int(time.time() * 1000))

    @property
    def stream(self) -> str:
        return self.config.stream_name

    @property
    def table(self) -> str:
        return self.config.table_name

    # -- set-up and tear-down ---------------------------------------------------------------

    def initialize(self) -> list[str]:
        """Create the metadata stream, then the table; the names of those that existed already.

        Running it again is harmless: what exists is kept (and named), the rest created. So a
        deployment can run `initialize-metadata` then `apply` every time it starts.
        """
        service_id = self.client.info().ksql_service_id
        statements = [
            create_stream_statement(
                self.stream, self.config.stream_topic(service_id), self.config.topic_replicas
            ),
            create_table_statement(self.table, self.stream, self.config.table_topic(service_id)),
        ]
        existing: list[str] = []
        for kind, name, statement in zip(
            ("stream", "table"), (self.stream, self.table), statements, strict=True
        ):
            try:
                self.client.execute(statement)
            except KsqlError as exc:
                if "already exists" in str(exc):
                    existing.append(name)
                    continue
                raise MetadataError(f"failed to create the metadata {kind} {name}: {exc}") from exc
        return existing

    def require_initialized(self) -> None:
        """Fail unless both the metadata stream and table exist (ksql-migrations' DESCRIBEs)."""
        for kind, name in (("stream", self.stream), ("table", self.table)):
            try:
                self.client.execute(f"describe {name};", session_variables={})
            except KsqlConnectionError as exc:
                raise MetadataError(str(exc)) from exc
            except KsqlError as exc:
                raise MetadataError(
                    f"the migrations metadata {kind} '{name}' is missing ({exc}); "
                    "run `streamguard migrate initialize-metadata` first"
                ) from exc

    def destroy(self) -> list[str]:
        """Terminate the table's query, drop the table and the stream with their topics."""
        sent: list[str] = []
        try:
            tables = self.client.execute("list tables;")
            if _lists(tables, "tables", self.table):
                described = self.client.execute(f"describe {self.table};", session_variables={})
                writers = [
                    query.id
                    for entity in described
                    if isinstance(entity, SourceDescriptionEntity)
                    for query in entity.source_description.write_queries
                ]
                if len(writers) > 1:
                    raise MetadataError(
                        f"several queries write to the metadata table: {', '.join(writers)}; "
                        "terminate the extra ones first"
                    )
                for query_id in writers:
                    sent.append(f"TERMINATE {query_id};")
                    self.client.execute(sent[-1])
                sent.append(f"DROP TABLE {self.table} DELETE TOPIC;")
                self.client.execute(sent[-1])
            streams = self.client.execute("list streams;")
            if _lists(streams, "streams", self.stream):
                sent.append(f"DROP STREAM {self.stream} DELETE TOPIC;")
                self.client.execute(sent[-1])
        except KsqlError as exc:
            raise MetadataError(f"failed to destroy the migrations metadata: {exc}") from exc
        return sent

    # -- reading --------------------------------------------------------------------------

    def current_version(self) -> str:
        """The CURRENT row's version, or `<none>` before the first migration."""
        rows = self._pull(current_version_query(self.table))
        if not rows:
            return NONE_VERSION
        value = next(iter(rows[0].values()))
        return NONE_VERSION if value is None else str(value)

    def info_for_version(self, version: str) -> VersionInfo | None:
        rows = self._pull(version_info_query(self.table, version))
        return VersionInfo.from_row(rows[0]) if rows else None

    def current_row(self) -> VersionInfo | None:
        """The CURRENT row in full (who is running what)."""
        return self.info_for_version(CURRENT_VERSION_KEY)

    def require_info(self, version: str) -> VersionInfo:
        info = self.info_for_version(version)
        if info is None:
            raise MetadataError(
                f"no row for version {version} in the metadata table {self.table}, though "
                "another row points at it"
            )
        return info

    def infos_for_versions(self, versions: list[int]) -> dict[int, VersionInfo]:
        if not versions:
            return {}
        if supports_multi_key_pull_query(self.client.info().version):
            rows = self._pull(versions_info_query(self.table, versions))
            infos = [VersionInfo.from_row(row) for row in rows]
            return {info.version: info for info in infos}
        found = {}
        for version in versions:
            info = self.info_for_version(str(version))
            if info is not None:
                found[version] = info
        return found

    def latest_migrated_version(self) -> str:
        """The newest MIGRATED version (`<none>` if none), as ksql-migrations derives it."""
        current = self.current_version()
        if current == NONE_VERSION:
            return current
        info = self.require_info(current)
        if info.state is MigrationState.MIGRATED:
            return current
        if info.previous == NONE_VERSION:
            return NONE_VERSION
        previous = self.require_info(info.previous)
        if previous.state is not MigrationState.MIGRATED:
            raise MetadataError(
                f"version {current} follows version {info.previous}, whose state is "
                f"{previous.state}, not MIGRATED"
            )
        return info.previous

    def _pull(self, sql: str) -> list[dict[str, object]]:
        try:
            return self.client.pull_query(sql)
        except KsqlError as exc:
            raise MetadataError(f"cannot read the metadata table {self.table}: {exc}") from exc

    # -- writing --------------------------------------------------------------------------

    def write_state(
        self,
        migration: MigrationFile,
        state: MigrationState,
        started_on: str,
        previous: str,
        checksum: str,
        error_reason: str | None = None,
    ) -> None:
        """The CURRENT row, then the version's row, as ksql-migrations' `updateState` writes."""
        done = state in (MigrationState.MIGRATED, MigrationState.ERROR)
        completed_on = str(self.clock_ms()) if done else ""
        for key in (CURRENT_VERSION_KEY, str(migration.version)):
            values = (
                key,
                str(migration.version),
                migration.name,
                str(state),
                checksum,
                started_on,
                completed_on,
                previous,
                error_reason if error_reason is not None else EMPTY_ERROR_REASON,
            )
            try:
                self.client.insert_into(self.stream, [dict(zip(COLUMNS, values, strict=True))])
            except KsqlError as exc:
                raise MetadataError(
                    f"failed to record version {migration.version} as {state} in "
                    f"{self.stream}: {exc}"
                ) from exc


def _lists(entities: Sequence[object], attribute: str, name: str) -> bool:
    for entity in entities:
        for source in getattr(entity, attribute, []):
            if str(getattr(source, "name", "")).upper() == name.upper():
                return True
    return False
