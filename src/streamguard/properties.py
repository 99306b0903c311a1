"""Java `.properties` files, read as Java's `Properties.load` reads them.

ISO-8859-1 text; `key=value`, `key: value` or `key value`; `#`/`!` comment lines; a line ending
in an odd number of backslashes continues on the next (also at the end of the file); `\\uXXXX`
and the other backslash escapes. ksql-migrations reads its `ksql-migrations.properties` this
way, so every StreamGuard reader of such a file calls `read_properties`.
"""

from __future__ import annotations

from pathlib import Path

import javaproperties

__all__ = ["PropertiesError", "parse_properties", "read_properties"]


class PropertiesError(ValueError):
    """A properties file that cannot be read or holds an invalid escape; names the file."""


def parse_properties(text: str, source: str = "properties") -> dict[str, str]:
    """The properties in `text` (already decoded), later keys overriding earlier ones."""
    try:
        return dict(javaproperties.loads(text))
    except javaproperties.InvalidUEscapeError as exc:
        raise PropertiesError(f"{source}: {exc} (a \\u escape takes four hex digits)") from None


def read_properties(path: Path) -> dict[str, str]:
    """The properties in the file at `path`, decoded as ISO-8859-1 as Java does."""
    try:
        text = path.read_bytes().decode("iso-8859-1")
    except OSError as exc:
        raise PropertiesError(f"cannot read {path}: {exc.strerror or exc}") from None
    return parse_properties(text, str(path))
