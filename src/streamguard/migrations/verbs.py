"""One function per `migrate` verb, configuration first, as ksql-migrations' commands do."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from streamguard.ksqldb import KsqlClient
from streamguard.migrations import connection
from streamguard.migrations.config import (
    CONFIG_FILE_NAME,
    MIGRATIONS_DIR_NAME,
    MigrationConfig,
    properties_template,
)
from streamguard.migrations.defines import effective_defines
from streamguard.migrations.errors import ConfigError
from streamguard.migrations.files import MigrationFile, all_migrations, create_migration_file
from streamguard.migrations.lock import ProjectLock
from streamguard.migrations.metadata import Metadata, MigrationState, VersionInfo
from streamguard.migrations.runner import Runner, Target
from streamguard.migrations.validation import validate_applied

# How long a runner's RUNNING claim must stand before it runs anything (see lock.py), and how
# long to wait between reads while the metadata table catches up with the stream.
CLAIM_SETTLE_S = 1.0
RETRY_DELAY_S = 1.0


def open_client(config: MigrationConfig) -> KsqlClient:
    """A ksqlDB client for the configured server, its TLS, authentication and headers."""
    return connection.open_client(config)


def new_project(project_path: Path, server_url: str) -> Path:
    """Create a project folder with `migrations/` and `ksql-migrations.properties`."""
    config_file = project_path / CONFIG_FILE_NAME
    if config_file.exists():
        raise ConfigError(f"{config_file} already exists; this is already a migrations project")
    (project_path / MIGRATIONS_DIR_NAME).mkdir(parents=True, exist_ok=True)
    config_file.write_text(properties_template(server_url), encoding="utf-8")
    return config_file


def initialize_metadata(config: MigrationConfig, client: KsqlClient) -> list[str]:
    """Create the metadata stream and table; the names of those that existed already."""
    return Metadata(client, config).initialize()


def create(config: MigrationConfig, description: str, version: int | None = None) -> Path:
    """An empty migration file named after `description`, at the next (or given) version."""
    return create_migration_file(config.migrations_dir, description, version)


def apply(
    config: MigrationConfig,
    client: KsqlClient,
    target: Target,
    *,
    dry_run: bool = False,
    defines: Mapping[str, str] | None = None,
    takeover: bool = False,
    echo: Callable[[str], None] = lambda _message: None,
    claim_settle_s: float | None = None,
    retry_delay_s: float | None = None,
    clock_ms: Callable[[], int] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    rule_tests: bool = True,
) -> list[MigrationFile]:
    """Apply the migrations `target` selects, holding the project lock throughout.

    With `rule_tests`, a rule among them (a file inserting into fraud_alerts) must have a case
    file whose cases pass, or nothing is applied; without, the skip is said in the output."""
    metadata = Metadata(client, config, clock_ms=clock_ms)
    overrides = dict(defines or {})

    def gate(migrations: list[MigrationFile]) -> None:
        from streamguard.rules.gate import case_name, check_rules

        if rule_tests:
            check_rules(migrations, config.migrations_dir, overrides, echo)
            return
        rules = [m.path.name for m in migrations if case_name(m) is not None]
        if rules:
            echo(f"Rule cases NOT run (--skip-rule-tests) for: {', '.join(rules)}")

    runner = Runner(
        metadata,
        gate=gate,
        defines=effective_defines(config.migrations_dir, overrides),
        echo=echo,
        takeover=takeover,
        claim_settle_s=CLAIM_SETTLE_S if claim_settle_s is None else claim_settle_s,
        retry_delay_s=RETRY_DELAY_S if retry_delay_s is None else retry_delay_s,
        sleep=sleep,
    )
    if dry_run:
        return runner.apply(target, dry_run=True)
    with ProjectLock(config.project_dir):
        return runner.apply(target)


@dataclass(frozen=True)
class Info:
    """What `info` shows: the CURRENT version and every file's recorded state."""

    current_version: str
    versions: list[VersionInfo]


def info(config: MigrationConfig, client: KsqlClient) -> Info:
    """The current version and each migration file's state (PENDING when never run)."""
    metadata = Metadata(client, config)
    metadata.require_initialized()
    current = metadata.current_version()
    files = all_migrations(config.migrations_dir)
    recorded = metadata.infos_for_versions([m.version for m in files])
    versions = [
        recorded.get(m.version) or VersionInfo(m.version, m.name, MigrationState.PENDING)
        for m in files
    ]
    return Info(current_version=current, versions=versions)


def validate(config: MigrationConfig, client: KsqlClient) -> list[int]:
    """Check the applied files' checksums; the versions checked, newest first."""
    metadata = Metadata(client, config)
    metadata.require_initialized()
    return validate_applied(metadata)


def destroy_metadata(config: MigrationConfig, client: KsqlClient) -> list[str]:
    """Drop the metadata table and stream and their topics; the statements sent."""
    return Metadata(client, config).destroy()
