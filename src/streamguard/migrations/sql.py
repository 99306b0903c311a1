"""A migration file's statements, split and classified as ksql-migrations does before sending."""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from streamguard.migrations.errors import MigrationFileError

_QUOTED = r"'((?:[^']*|(?:''))*)'"
_SET = re.compile(rf"\s*SET\s+{_QUOTED}\s*=\s*{_QUOTED}\s*;\s*", re.IGNORECASE)
_UNSET = re.compile(rf"\s*UNSET\s+{_QUOTED}\s*;\s*", re.IGNORECASE)
_DEFINE = re.compile(
    rf"\s*DEFINE\s+([a-zA-Z_][a-zA-Z0-9_@]*)\s*=\s*{_QUOTED}\s*;\s*", re.IGNORECASE
)
_UNDEFINE = re.compile(r"\s*UNDEFINE\s+([a-zA-Z_][a-zA-Z0-9_@]*)\s*;\s*", re.IGNORECASE)
_VARIABLE = re.compile(r"\$\{([a-zA-Z_][a-zA-Z0-9_@]*)\}")
# Statements ksql-migrations will not run in a migration (its CommandParser's list).
REFUSED_FIRST_WORDS = ("DESCRIBE", "EXPLAIN", "SELECT", "PRINT", "SHOW", "LIST")


class Kind(enum.Enum):
    STATEMENT = "statement"
    INSERT_VALUES = "insert values"
    CREATE_CONNECTOR = "create connector"
    DROP_CONNECTOR = "drop connector"
    SET = "set"
    UNSET = "unset"
    DEFINE = "define"
    UNDEFINE = "undefine"


@dataclass(frozen=True)
class Statement:
    """One statement of a file: its text (comments removed, `;` kept), where it starts, what
    kind it is, and for SET/UNSET/DEFINE/UNDEFINE the name and value."""

    text: str
    line: int
    kind: Kind
    name: str = ""
    value: str = ""

    def variables(self) -> set[str]:
        return set(_VARIABLE.findall(self.text))


def split_sql(sql: str, path: Path | None = None) -> list[tuple[str, int]]:
    """Statements and their first lines, split on `;` outside quotes, comments dropped.

    ksql-migrations' rules: a quote runs to the next quote (so `''` splits into two adjacent
    strings that rejoin), `--` runs to the end of its line, `/* */` to its closer, and text after
    the last `;` is an error. Unlike ksql-migrations a dropped comment leaves a newline, so the
    words on either side cannot run together.
    """
    statements: list[tuple[str, int]] = []
    current: list[str] = []
    start_line: int | None = None
    index, line = 0, 1
    length = len(sql)
    while index < length:
        char = sql[index]
        if char == "'":
            closing = sql.find("'", index + 1)
            if closing < 0:
                raise MigrationFileError("a quoted string is never closed", path=path, line=line)
            chunk = sql[index : closing + 1]
            start_line = line if start_line is None else start_line
            current.append(chunk)
            line += chunk.count("\n")
            index = closing + 1
        elif sql.startswith("--", index) and index < length - 1:
            closing = sql.find("\n", index + 1)
            if closing < 0:
                raise MigrationFileError(
                    "a `--` comment on the last line needs a newline after it", path=path, line=line
                )
            current.append("\n")
            line += 1
            index = closing + 1
        elif sql.startswith("/*", index) and index < length - 1:
            closing = sql.find("*/", index + 2)
            if closing < 0:
                raise MigrationFileError("a `/*` comment is never closed", path=path, line=line)
            newlines = sql.count("\n", index, closing)
            current.append("\n" * newlines or " ")
            line += newlines
            index = closing + 2
        elif char == ";":
            current.append(";")
            statements.append(("".join(current), start_line or line))
            current, start_line = [], None
            index += 1
        else:
            if start_line is None and not char.isspace():
                start_line = line
            current.append(char)
            line += char == "\n"
            index += 1
    rest = "".join(current)
    if rest.strip():
        raise MigrationFileError(
            f"the last statement has no closing semicolon: {rest.strip()[:80]!r}",
            path=path,
            line=start_line,
        )
    return statements


def classify(text: str, line: int, path: Path | None = None) -> Statement:
    """The statement's kind, or a `MigrationFileError` for one ksql-migrations refuses."""
    words = text.upper().split()

    def refuse(reason: str) -> MigrationFileError:
        return MigrationFileError(f"{reason}: {_short(text)}", path=path, line=line)

    if (
        len(words) > 3
        and words[0] == "INSERT"
        and words[1] == "INTO"
        and words[3] != "SELECT"
        and "VALUES" in words
    ):
        return Statement(text, line, Kind.INSERT_VALUES)
    if len(words) > 2 and words[0] == "CREATE" and words[1] in ("SINK", "SOURCE"):
        return Statement(
            text, line, Kind.CREATE_CONNECTOR if words[2] == "CONNECTOR" else Kind.STATEMENT
        )
    if len(words) > 1 and words[0] == "DROP" and words[1] == "CONNECTOR":
        return Statement(text, line, Kind.DROP_CONNECTOR)
    first = words[0] if words else ""
    if first == "SET":
        match = _SET.fullmatch(text)
        if match is None:
            raise refuse("invalid SET (expected SET 'property' = 'value';)")
        return Statement(text, line, Kind.SET, _unquote(match.group(1)), _unquote(match.group(2)))
    if first == "UNSET":
        match = _UNSET.fullmatch(text)
        if match is None:
            raise refuse("invalid UNSET (expected UNSET 'property';)")
        return Statement(text, line, Kind.UNSET, _unquote(match.group(1)))
    if first == "DEFINE":
        match = _DEFINE.fullmatch(text)
        if match is None:
            raise refuse("invalid DEFINE (expected DEFINE name = 'value';)")
        return Statement(text, line, Kind.DEFINE, match.group(1), _unquote(match.group(2)))
    if first == "UNDEFINE":
        match = _UNDEFINE.fullmatch(text)
        if match is None:
            raise refuse("invalid UNDEFINE (expected UNDEFINE name;)")
        return Statement(text, line, Kind.UNDEFINE, match.group(1))
    if first in REFUSED_FIRST_WORDS:
        raise refuse(f"'{first}' statements are not supported in a migration")
    if len(words) > 1 and first == "RUN" and words[1] == "SCRIPT":
        raise refuse("'RUN SCRIPT' statements are not supported in a migration")
    return Statement(text, line, Kind.STATEMENT)


def parse_migration(sql: str, path: Path | None = None) -> list[Statement]:
    """Every statement of a migration file, split and classified."""
    return [classify(text, line, path) for text, line in split_sql(sql, path)]


def substitute(text: str, variables: Mapping[str, str]) -> str:
    """`${name}` replaced by its value (names not defined are left as written)."""
    return _VARIABLE.sub(lambda m: variables.get(m.group(1), m.group(0)), text)


def _unquote(value: str) -> str:
    return value.replace("''", "'")


def _short(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= 100 else flat[:97] + "..."
