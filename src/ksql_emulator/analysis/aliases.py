"""Names for unaliased SELECT items, as ksqlDB's ColumnNames.columnAliasGenerator makes them.

A generated name never clashes with a column of any source (whether the query selects that
column or not): `KSQL_COL_n` skips every n the sources already use, and an unaliased struct
field `s->F` is named `F`, then `F_1`, `F_2`, ... skipping the numbers the sources use."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from ksql_emulator.errors import KsqlStatementError
from ksql_emulator.parser import tree as t
from ksql_emulator.semantics.format import format_expr

__all__ = ["RESERVED_COLUMN_NAMES", "ColumnAliasGenerator", "check_reserved_names"]

# ksqlDB's SystemColumns: pseudo columns and window bounds.
RESERVED_COLUMN_NAMES = frozenset(
    {"ROWTIME", "ROWPARTITION", "ROWOFFSET", "WINDOWSTART", "WINDOWEND"}
)

_GENERATED = "KSQL_COL"
# ksqlDB's NUMBERED_COLUMN_PATTERN: the shortest name followed by an optional `_<digits>`.
_NUMBERED = re.compile(r"(?P<name>.*?)(?:_(?P<number>\d+))?")


def _split(name: str) -> tuple[str, int]:
    m = _NUMBERED.fullmatch(name)
    assert m is not None  # the pattern matches every string
    number = m.group("number")
    return m.group("name"), int(number) if number is not None else 0


class _Numbered:
    def __init__(self, prefix: str, used: set[int]) -> None:
        self.prefix = prefix
        self.used = used
        self.next = 0
        # KSQL_COL always carries its number; other prefixes are bare the first time.
        self.drop_zero = prefix != _GENERATED

    def take(self) -> str:
        while self.next in self.used:
            self.next += 1
        idx = self.next
        self.next += 1
        return self.prefix if idx == 0 and self.drop_zero else f"{self.prefix}_{idx}"


class ColumnAliasGenerator:
    """One per statement, seeded with the names of every column of every source it reads."""

    def __init__(self, source_column_names: Iterable[str]) -> None:
        used: dict[str, set[int]] = {}
        for name in source_column_names:
            prefix, number = _split(name)
            used.setdefault(prefix, set()).add(number)
        self._generators = {prefix: _Numbered(prefix, nums) for prefix, nums in used.items()}

    def _generator(self, prefix: str) -> _Numbered:
        gen = self._generators.get(prefix)
        if gen is None:
            gen = self._generators[prefix] = _Numbered(prefix, set())
        return gen

    def next_generated(self) -> str:
        """The next `KSQL_COL_n` (for an unaliased expression)."""
        return self._generator(_GENERATED).take()

    def for_field(self, field: str) -> str:
        """The name of an unaliased struct dereference selecting `field`."""
        return self._generator(_split(field)[0]).take()


def check_reserved_names(
    items: Sequence[tuple[t.Expr, str | None]], joined: bool, persistent: bool
) -> None:
    """ksqlDB's Analyzer check, made before any other check of the projection: a system
    column name may not alias another expression, and a persistent query may not select a
    system column under its own name (its sink could not hold it)."""
    for expr, alias in items:
        name = alias
        if name is None and isinstance(expr, t.ColumnRef) and not (joined and expr.source):
            # A qualified column of a join is named SOURCE_COLUMN, which is no system name.
            name = expr.name
        if name is None or name.upper() not in RESERVED_COLUMN_NAMES:
            continue
        text = format_expr(expr)
        if text[text.find(".") + 1 :].upper() != name.upper():
            raise KsqlStatementError(
                f"`{name}` is a reserved column name. You cannot use it as an alias for a column."
            )
        if persistent:
            raise KsqlStatementError(
                f"Reserved column name in select: `{name}`. Please remove or alias the column."
            )
