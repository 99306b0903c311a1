"""`apply`: choose the migrations to run, check them all, then run them one by one, recorded."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from streamguard.ksqldb import KsqlError, KsqlStatementError
from streamguard.migrations.defines import DEFINES_FILE_NAME
from streamguard.migrations.errors import (
    MetadataError,
    MigrationError,
    MigrationFileError,
    StatementFailed,
)
from streamguard.migrations.files import MigrationFile, all_migrations, migration_for_version
from streamguard.migrations.lock import confirm_claim, refuse_if_running
from streamguard.migrations.metadata import NONE_VERSION, Metadata, MigrationState
from streamguard.migrations.sql import Kind, Statement, parse_migration, substitute
from streamguard.migrations.validation import validate_applied


@dataclass(frozen=True)
class Target:
    """Which migrations to apply: exactly one of ksql-migrations' `--all`, `--next`,
    `--until V`, `--version V`."""

    all: bool = False
    next: bool = False
    until: int | None = None
    version: int | None = None

    def __post_init__(self) -> None:
        chosen = sum((self.all, self.next, self.until is not None, self.version is not None))
        if chosen != 1:
            raise MigrationError("choose exactly one of --all, --next, --until V, --version V")


@dataclass(frozen=True)
class Plan:
    """The migrations an apply will run, checked, after the latest migrated version."""

    previous: str
    migrations: list[MigrationFile]
    statements: dict[int, list[Statement]] = field(default_factory=dict)


@dataclass
class Runner:
    """Applies migration files through one client, recording each step in the metadata.

    `defines` are the variables each file starts with (the project's defaults with the
    `--define name=value` pairs over them). As in ksql-migrations, they are set afresh before
    every file, and a file's own DEFINE replaces one and its UNDEFINE removes it.
    """

    metadata: Metadata
    defines: Mapping[str, str] = field(default_factory=dict)
    echo: Callable[[str], None] = lambda _message: None
    takeover: bool = False
    claim_settle_s: float = 1.0
    verify_retries: int = 10
    retry_delay_s: float = 1.0
    sleep: Callable[[float], None] = time.sleep
    # Checks the chosen files before anything runs (the rules' cases); raises to refuse.
    gate: Callable[[list[MigrationFile]], None] | None = None

    def plan(self, target: Target) -> Plan:
        """The migrations `target` selects after the latest migrated one, each file checked."""
        previous = self.metadata.latest_migrated_version()
        minimum = 1 if previous == NONE_VERSION else int(previous) + 1
        directory = self.metadata.config.migrations_dir
        if target.version is not None:
            migration = migration_for_version(directory, target.version)
            if migration is None:
                raise MigrationFileError(f"no migration file with version {target.version} exists")
            if target.version < minimum:
                raise MigrationError(
                    f"version {target.version} is not newer than the last version migrated "
                    f"({previous})"
                )
            chosen = [migration]
        else:
            chosen = [
                m
                for m in all_migrations(directory)
                if m.version >= minimum and (target.until is None or m.version <= target.until)
            ]
            if target.next:
                if not chosen:
                    raise MigrationError("no eligible migration: everything is applied")
                chosen = chosen[:1]
        statements: dict[int, list[Statement]] = {}
        started: set[str] = set()
        for migration in chosen:
            statements[migration.version] = self._check(migration, started)
        return Plan(previous=previous, migrations=chosen, statements=statements)

    def apply(self, target: Target, *, dry_run: bool = False) -> list[MigrationFile]:
        """Apply what `target` selects; the migrations applied (or, dry, that would be)."""
        self.metadata.require_initialized()
        validate_applied(self.metadata)
        if not dry_run:
            refuse_if_running(self.metadata, takeover=self.takeover)
        plan = self.plan(target)
        if not plan.migrations:
            self.echo("No eligible migrations: everything selected is applied.")
            return []
        if self.gate is not None:
            self.gate(plan.migrations)
        previous = plan.previous
        for migration in plan.migrations:
            statements = plan.statements[migration.version]
            if dry_run:
                self._show(migration, statements)
                continue
            self._apply_one(migration, statements, previous)
            previous = str(migration.version)
        if dry_run:
            self.echo("Dry run: no statement was sent to the server.")
        else:
            # The last one too, as each was before the next: `info` (or a rule test) right
            # after `apply` must not find it still RUNNING while the table catches up.
            self._verify_migrated(previous)
        return plan.migrations

    # -- checking before anything runs -----------------------------------------------------

    def _check(self, migration: MigrationFile, started: set[str]) -> list[Statement]:
        """The file's statements, checked; `started` (the queries the files before it in the
        plan start) grows by its own."""
        text = migration.read_text()
        from streamguard.rules.change import RuleChangeError, check_cutover, queries_started

        try:
            check_cutover(text, self.metadata.clock_ms(), started)
        except RuleChangeError as exc:
            raise MigrationFileError(str(exc), path=migration.path) from None
        started |= queries_started(text)
        statements = parse_migration(text, migration.path)
        defined = set(self.defines)
        for statement in statements:
            if statement.kind is Kind.DEFINE:
                defined.add(statement.name)
            elif statement.kind is Kind.UNDEFINE:
                defined.discard(statement.name)
            missing = sorted(statement.variables() - defined)
            if missing and statement.kind is not Kind.DEFINE:
                raise MigrationFileError(
                    f"uses ${{{missing[0]}}}, which is not defined at this point; give it a "
                    f"default in {DEFINES_FILE_NAME}, pass --define {missing[0]}=..., or "
                    f"add DEFINE {missing[0]} = '...'; above it",
                    path=migration.path,
                    line=statement.line,
                )
        return statements

    def _show(self, migration: MigrationFile, statements: list[Statement]) -> None:
        self.echo(f"Would apply version {migration.version}: {migration.name} ({migration.path})")
        variables: dict[str, str] = dict(self.defines)
        for statement in statements:
            self._track(statement, variables, {})
            if statement.kind not in (Kind.DEFINE, Kind.UNDEFINE):
                self.echo(substitute(statement.text.strip(), variables))

    # -- running --------------------------------------------------------------------------

    def _apply_one(
        self, migration: MigrationFile, statements: list[Statement], previous: str
    ) -> None:
        self.echo(f"Applying version {migration.version}: {migration.name}")
        self._verify_migrated(previous)
        checksum = migration.checksum()
        started_on = str(self.metadata.clock_ms())
        self.metadata.write_state(migration, MigrationState.RUNNING, started_on, previous, checksum)
        confirm_claim(
            self.metadata,
            migration.version,
            started_on,
            settle_s=self.claim_settle_s,
            sleep=self.sleep,
        )
        variables: dict[str, str] = dict(self.defines)
        properties: dict[str, Any] = {}
        for statement in statements:
            if self._track(statement, variables, properties):
                continue
            try:
                self.metadata.client.execute(
                    statement.text,
                    streams_properties=properties,
                    session_variables=variables,
                )
            except KsqlError as exc:
                reason = _server_reason(exc)
                try:
                    self.metadata.write_state(
                        migration,
                        MigrationState.ERROR,
                        started_on,
                        previous,
                        checksum,
                        error_reason=f"Failed to execute sql: {statement.text}. Error: {reason}",
                    )
                except MetadataError as write_error:
                    # The statement's failure is what the user must see; the metadata's too.
                    self.echo(
                        f"Could not record version {migration.version} as ERROR: {write_error}"
                    )
                raise StatementFailed(
                    migration.path,
                    statement.line,
                    statement.text,
                    getattr(exc, "message", str(exc)),
                    error_code=getattr(exc, "error_code", None),
                ) from exc
        self.metadata.write_state(
            migration, MigrationState.MIGRATED, started_on, previous, checksum
        )
        self.echo(f"Migrated version {migration.version}.")

    def _track(
        self, statement: Statement, variables: dict[str, str], properties: dict[str, Any]
    ) -> bool:
        """Apply a DEFINE/UNDEFINE/SET/UNSET to the session; True when it was one."""
        if statement.kind is Kind.DEFINE:
            variables[statement.name] = substitute(statement.value, variables)
        elif statement.kind is Kind.UNDEFINE:
            variables.pop(statement.name, None)
        elif statement.kind is Kind.SET:
            properties[substitute(statement.name, variables)] = substitute(
                statement.value, variables
            )
        elif statement.kind is Kind.UNSET:
            properties.pop(substitute(statement.name, variables), None)
        else:
            return False
        return True

    def _verify_migrated(self, version: str) -> None:
        """Wait (the table lags the stream) until `version` reads MIGRATED.

        The table usually catches up within milliseconds, so the checks start 50 ms apart and
        back off to `retry_delay_s`; `verify_retries` checks that far apart are the patience.
        """
        if version == NONE_VERSION:
            return
        state: MigrationState | None = None
        delays = [min(self.retry_delay_s, 0.05 * 2**step) for step in range(5)]
        delays += [self.retry_delay_s] * self.verify_retries
        for attempt in range(len(delays) + 1):
            info = self.metadata.info_for_version(version)
            state = info.state if info else None
            if state is MigrationState.MIGRATED:
                return
            if attempt < len(delays):
                self.sleep(delays[attempt])
        raise MetadataError(f"expected version {version} to be MIGRATED, found {state}")


def _server_reason(exc: KsqlError) -> str:
    """The Java client's wording of a server error, which ksql-migrations records."""
    if isinstance(exc, KsqlStatementError):
        status = exc.status_code or 400
        return (
            f"Received {status} response from server: {exc.message}. Error code: {exc.error_code}"
        )
    return str(exc)
