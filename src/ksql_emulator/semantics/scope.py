"""The columns an expression can name, with their types and row positions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ksql_emulator.errors import KsqlStatementError, UnknownColumnError

_PSEUDO = frozenset({"ROWTIME", "ROWPARTITION", "ROWOFFSET", "WINDOWSTART", "WINDOWEND"})

__all__ = ["Scope", "ScopeColumn"]


@dataclass(frozen=True)
class ScopeColumn:
    name: str
    type: Any  # SqlType
    index: int
    source: str | None = None


class Scope:
    """Name -> column lookup over a row laid out as a flat sequence."""

    def __init__(self, columns: list[ScopeColumn], context: str = "SELECT") -> None:
        self.columns = columns
        self.context = context
        self.lambda_vars: dict[str, ScopeColumn] = {}

    @property
    def width(self) -> int:
        return len(self.columns) + len(self.lambda_vars)

    def with_lambda(self, names: tuple[str, ...], types: list[Any]) -> Scope:
        inner = Scope(self.columns, self.context)
        inner.lambda_vars = dict(self.lambda_vars)
        base = self.width
        for i, (name, typ) in enumerate(zip(names, types, strict=True)):
            inner.lambda_vars[name] = ScopeColumn(name, typ, base + i)
        return inner

    def resolve(self, name: str, source: str | None = None) -> ScopeColumn:
        if source is None and name in self.lambda_vars:
            return self.lambda_vars[name]
        matches = [
            c for c in self.columns if c.name == name and (source is None or c.source == source)
        ]
        if not matches and source is not None:
            matches = [c for c in self.columns if c.name == f"{source}_{name}"]
            if not matches and not any(c.source == source for c in self.columns):
                raise KsqlStatementError(f"'{source}' is not a valid stream/table name or alias.")
        if not matches:
            shown = f"{source}.{name}" if source else name
            raise UnknownColumnError(f"{self.context} column '{shown}' cannot be resolved.")
        sources = sorted({c.source or "" for c in matches})
        if source is None and len(sources) > 1 and name in ("WINDOWSTART", "WINDOWEND"):
            raise UnknownColumnError(f"{self.context} column '{name}' cannot be resolved.")
        if source is None and len(sources) > 1 and name not in _PSEUDO:
            options = " or ".join(f"{s}.{name}" for s in sources)
            raise KsqlStatementError(f"Column '{name}' is ambiguous. Could be {options}.")
        return matches[0]

    def find(self, name: str) -> ScopeColumn | None:
        for c in self.columns:
            if c.name == name:
                return c
        return None
