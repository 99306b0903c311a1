"""The migration runner's errors, rooted at `MigrationError`; each message names what to fix.

MigrationError
├── ConfigError          the properties file or a flag is wrong
├── MigrationFileError   a file's name, version or statements are unusable
├── MetadataError        the metadata stream/table are missing or inconsistent
├── ChecksumMismatch     an applied file was changed afterwards
├── StatementFailed      the server refused a statement while applying a migration
└── RunnerBusy           another runner is applying migrations to this project
"""

from __future__ import annotations

from pathlib import Path


class MigrationError(Exception):
    """Root of the runner's errors; the CLI prints the message and exits 1."""


class ConfigError(MigrationError):
    """Raised for a missing or malformed `ksql-migrations.properties` or bad CLI flags."""


class MigrationFileError(MigrationError):
    """Raised when a migration file cannot be used: bad name, duplicate version, unsplittable
    text or a statement ksql-migrations refuses. Raised before any statement is sent."""

    def __init__(self, message: str, *, path: Path | None = None, line: int | None = None) -> None:
        where = f"{path}:{line}: " if path is not None and line is not None else ""
        where = where or (f"{path}: " if path is not None else "")
        super().__init__(where + message)
        self.path = path
        self.line = line


class MetadataError(MigrationError):
    """Raised when the metadata stream/table are missing (run `initialize-metadata`) or their
    rows contradict each other."""


class ChecksumMismatch(MigrationError):
    """Raised when a migrated version's file no longer has the checksum recorded for it."""

    def __init__(self, version: int, path: Path | None, expected: str, actual: str | None) -> None:
        if path is None:
            message = (
                f"version {version} is recorded as MIGRATED but no migration file for it exists "
                "any more; restore the file"
            )
        else:
            message = (
                f"{path} (version {version}) changed after it was applied: recorded checksum "
                f"{expected}, file now {actual}. Restore the applied text and put the change in "
                "a new migration file (`streamguard migrate create NAME`)."
            )
        super().__init__(message)
        self.version = version
        self.path = path
        self.expected = expected
        self.actual = actual


class StatementFailed(MigrationError):
    """Raised when the server refuses a statement of a migration; the migration is recorded
    ERROR with the server's reason and no later migration runs."""

    def __init__(
        self,
        path: Path,
        line: int,
        statement: str,
        server_error: str,
        *,
        error_code: int | None = None,
    ) -> None:
        code = f" (ksqlDB error {error_code})" if error_code is not None else ""
        super().__init__(
            f"{path}:{line}: ksqlDB refused the statement{code}:\n"
            f"  {server_error}\n"
            f"statement:\n{_indent(statement)}\n"
            f"The migration is recorded ERROR; fix the file and run `apply` again."
        )
        self.path = path
        self.line = line
        self.statement = statement
        self.server_error = server_error
        self.error_code = error_code


class RunnerBusy(MigrationError):
    """Raised when another runner holds this project's lock or has a migration RUNNING."""


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.strip().splitlines())
