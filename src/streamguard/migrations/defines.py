"""The project's default variable values: `ksql-defines.properties` beside the migrations folder.

ksql-migrations defines its `--define` variables before each file runs and lets the file's own
DEFINE replace them, so a default written as a DEFINE in a file can never be overridden. The
files of ksql/ therefore DEFINE no thresholds; their defaults live in this file, which
`streamguard migrate apply` (and `rules test`) read first, and `--define` replaces. For
ksql-migrations, `streamguard migrate defines` prints the same values as `--define` flags.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path

from streamguard import properties
from streamguard.migrations.errors import ConfigError

DEFINES_FILE_NAME = "ksql-defines.properties"


def defines_file(migrations_dir: Path) -> Path:
    """Where a project's defaults live: beside its migrations folder."""
    return migrations_dir.resolve().parent / DEFINES_FILE_NAME


def default_defines(migrations_dir: Path) -> dict[str, str]:
    """The project's default variable values; none when it has no defaults file."""
    path = defines_file(migrations_dir)
    if not path.is_file():
        return {}
    try:
        return properties.read_properties(path)
    except properties.PropertiesError as exc:
        raise ConfigError(f"cannot read the variables' defaults: {exc}") from None


def effective_defines(migrations_dir: Path, overrides: Mapping[str, str]) -> dict[str, str]:
    """The values a file starts with: the defaults, each `--define` replacing its own."""
    return {**default_defines(migrations_dir), **overrides}


def as_flags(values: Mapping[str, str]) -> list[str]:
    """`--define name=value` for each, as ksql-migrations takes them (two arguments each)."""
    return [arg for name, value in values.items() for arg in ("--define", f"{name}={value}")]


def value_problem(name: str, value: str, default: str | None) -> str | None:
    """Why `value` cannot stand for the variable `name` whose default is `default`, or None.

    A variable is put into the SQL as it is written, so a threshold's new value must be a
    number like its default (`abc` would become a column name), and no value may hold a quote
    or a line break."""
    if default is not None and _is_number(default) and not _is_number(value):
        return f"{name}={value!r} is not a number (its default is {default})"
    if "'" in value or "\n" in value:
        return f"{name}={value!r}: a value cannot hold quotes or lines"
    return None


def _is_number(text: str) -> bool:
    try:
        return Decimal(text).is_finite()
    except InvalidOperation:
        return False
