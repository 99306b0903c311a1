"""`python -m streamguard.migrations.local_config FILE`: the project's ksql-migrations.properties
with `ksql.server.url` set to the ksqlDB that StreamGuard's settings name (KSQLDB_URL, else the
local stack's emulator) and the migrations folder made absolute, for `migrate -c FILE`."""

from __future__ import annotations

import sys
from pathlib import Path

from streamguard.migrations.config import (
    CONFIG_FILE_NAME,
    DIR_OVERRIDE,
    SERVER_URL,
    STREAMGUARD_MIGRATIONS_DIR,
)


def write_local_config(path: Path, server_url: str, project: Path) -> Path:
    """Writes `path`: the project's settings, pointed at `server_url`."""
    template = project / CONFIG_FILE_NAME
    kept = []
    if template.is_file():
        kept = [
            line
            for line in template.read_text(encoding="iso-8859-1").splitlines()
            if not line.lstrip().startswith((SERVER_URL, DIR_OVERRIDE))
        ]
    migrations = (project / STREAMGUARD_MIGRATIONS_DIR).resolve()
    lines = [
        f"# Written by streamguard.migrations.local_config from {template}.",
        f"{SERVER_URL}={_escape(server_url)}",
        f"{DIR_OVERRIDE}={_escape(str(migrations))}",
        *kept,
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="iso-8859-1")
    return path


def _escape(value: str) -> str:
    # Backslashes and non-Latin-1 characters written as Java reads them back.
    out = value.replace("\\", "\\\\")
    return "".join(c if ord(c) < 256 else f"\\u{ord(c):04x}" for c in out)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m streamguard.migrations.local_config FILE", file=sys.stderr)
        return 2
    from streamguard.settings import get_settings

    write_local_config(Path(argv[0]), get_settings().ksqldb, Path.cwd())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
