"""The runner of ksql/: ksql-migrations' files, verbs and metadata, in Python."""

from __future__ import annotations

from streamguard.migrations.config import MigrationConfig, load_config, resolve_config
from streamguard.migrations.errors import (
    ChecksumMismatch,
    ConfigError,
    MetadataError,
    MigrationError,
    MigrationFileError,
    RunnerBusy,
    StatementFailed,
)
from streamguard.migrations.runner import Target

__all__ = [
    "ChecksumMismatch",
    "ConfigError",
    "MetadataError",
    "MigrationConfig",
    "MigrationError",
    "MigrationFileError",
    "RunnerBusy",
    "StatementFailed",
    "Target",
    "load_config",
    "resolve_config",
]
