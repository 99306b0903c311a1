"""Migration files: ksql-migrations' `V<six digits>__<name>.sql`, in version order, checksummed."""

from __future__ import annotations

import hashlib
import itertools
import re
from dataclasses import dataclass
from pathlib import Path

from streamguard.migrations.errors import MigrationFileError

FILE_PATTERN = re.compile(r"V([0-9]{6})__(.+)\.sql")
MAX_VERSION = 999_999
# Characters ksql-migrations replaces with `_` when `create` turns a description into a name.
_INVALID_NAME_CHARS = re.compile(r"\s|/|\\|:|\*|\?|\"|<|>|\|")


@dataclass(frozen=True)
class MigrationFile:
    """One migration: its version, its name (underscores read as spaces) and its path."""

    version: int
    name: str
    path: Path

    def read_bytes(self) -> bytes:
        try:
            return self.path.read_bytes()
        except OSError as exc:
            raise MigrationFileError(f"cannot read: {exc}", path=self.path) from None

    def read_text(self) -> str:
        try:
            return self.read_bytes().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MigrationFileError(f"is not UTF-8 text: {exc}", path=self.path) from None

    def checksum(self) -> str:
        """MD5 of the file's bytes, lower-case hex, as ksql-migrations records it."""
        return hashlib.md5(self.read_bytes(), usedforsecurity=False).hexdigest()


def parse_file_name(path: Path) -> MigrationFile | None:
    """The migration a file name stands for, or None when it is not a migration file."""
    match = FILE_PATTERN.search(path.name)
    if match is None:
        return None
    version = int(match.group(1))
    if version <= 0:
        raise MigrationFileError(
            "migration versions must be positive; rename the file to V000001__... or later",
            path=path,
        )
    return MigrationFile(version=version, name=match.group(2).replace("_", " "), path=path)


def all_migrations(directory: Path) -> list[MigrationFile]:
    """Every migration file in `directory`, by version; two files of one version is an error."""
    if not directory.is_dir():
        raise MigrationFileError(
            f"the migrations folder {directory} does not exist; create it or set "
            "ksql.migrations.dir.override"
        )
    found = [
        migration
        for path in sorted(directory.iterdir())
        if path.is_file() and (migration := parse_file_name(path)) is not None
    ]
    found.sort(key=lambda m: m.version)
    for previous, current in itertools.pairwise(found):
        if previous.version == current.version:
            raise MigrationFileError(
                f"two migration files have version {current.version}: {previous.path} and "
                f"{current.path}; renumber one of them"
            )
    return found


def migration_for_version(directory: Path, version: int) -> MigrationFile | None:
    for migration in all_migrations(directory):
        if migration.version == version:
            return migration
    return None


def new_file_name(version: int, description: str) -> str:
    """`V000042__Add_users.sql` for version 42 and description "Add users"."""
    if not 0 < version <= MAX_VERSION:
        raise MigrationFileError(f"version {version} is not between 1 and {MAX_VERSION}")
    if not description.strip():
        raise MigrationFileError("the migration's description cannot be empty")
    return f"V{version:06d}__{_INVALID_NAME_CHARS.sub('_', description)}.sql"


def create_migration_file(directory: Path, description: str, version: int | None = None) -> Path:
    """An empty migration file for `description`, at `version` or after the latest one."""
    existing = all_migrations(directory)
    if version is not None:
        clash = next((m for m in existing if m.version == version), None)
        if clash is not None:
            raise MigrationFileError(f"version {version} already exists: {clash.path}")
    else:
        version = existing[-1].version + 1 if existing else 1
    path = directory / new_file_name(version, description)
    try:
        with path.open("x", encoding="utf-8"):
            pass
    except OSError as exc:
        raise MigrationFileError(f"cannot create {path}: {exc}") from None
    return path
