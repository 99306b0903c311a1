"""`validate`: the files of the migrated versions still have the checksums recorded for them."""

from __future__ import annotations

from streamguard.migrations.errors import ChecksumMismatch, MetadataError
from streamguard.migrations.files import migration_for_version
from streamguard.migrations.metadata import NONE_VERSION, Metadata, MigrationState


def validate_applied(metadata: Metadata) -> list[int]:
    """Walk back from the latest migrated version; the versions checked, newest first.

    Raises `ChecksumMismatch` naming the first file whose bytes changed or went missing.
    """
    checked: list[int] = []
    version = metadata.latest_migrated_version()
    following: str | None = None
    while version != NONE_VERSION:
        info = metadata.require_info(version)
        if following is not None and info.state is not MigrationState.MIGRATED:
            raise MetadataError(
                f"version {following} follows version {version}, whose state is {info.state}"
            )
        migration = migration_for_version(metadata.config.migrations_dir, info.version)
        if migration is None:
            raise ChecksumMismatch(info.version, None, info.checksum, None)
        actual = migration.checksum()
        if actual != info.checksum:
            raise ChecksumMismatch(info.version, migration.path, info.checksum, actual)
        checked.append(info.version)
        following, version = version, info.previous
    return checked
