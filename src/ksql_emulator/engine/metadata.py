"""Metadata handlers: SHOW/LIST, DESCRIBE, SET/UNSET, DEFINE/UNDEFINE."""

from __future__ import annotations

from typing import Any

from ksql_emulator.engine.base import EngineState, StatementOutcome
from ksql_emulator.errors import KsqlStatementError
from ksql_emulator.parser import tree as t

__all__ = ["MetadataHandlers"]


class MetadataHandlers(EngineState):
    """Statements that read the catalog or set session properties and variables."""

    def _set(self, stmt: t.SetProperty, text: str) -> StatementOutcome:
        self.properties[stmt.name] = stmt.value
        return StatementOutcome(stmt, text, "")

    def _unset(self, stmt: t.UnsetProperty, text: str) -> StatementOutcome:
        self.properties.pop(stmt.name, None)
        return StatementOutcome(stmt, text, "")

    def _define(self, stmt: t.DefineVariable, text: str) -> StatementOutcome:
        self.variables[stmt.name] = stmt.value
        return StatementOutcome(stmt, text, "")

    def _undefine(self, stmt: t.UndefineVariable, text: str) -> StatementOutcome:
        self.variables.pop(stmt.name, None)
        return StatementOutcome(stmt, text, "")

    def _show(self, stmt: t.Show, text: str) -> StatementOutcome:
        what = stmt.what
        data: Any
        if what in ("STREAMS", "TABLES"):
            kind = what[:-1]
            data = [s for s in self.catalog.sources.values() if s.kind == kind]
        elif what == "TOPICS":
            data = list(self.catalog.topics.values())
        elif what == "QUERIES":
            data = list(self.queries.values())
        elif what == "PROPERTIES":
            data = dict(self.properties)
        elif what == "VARIABLES":
            data = dict(self.variables)
        elif what == "TYPES":
            data = dict(self.catalog.types)
        else:
            data = []
        return StatementOutcome(stmt, text, "", data=data)

    def _describe(self, stmt: t.Describe, text: str) -> StatementOutcome:
        if stmt.name is None or stmt.function:
            return StatementOutcome(stmt, text, "", data=stmt.name)
        source = self.catalog.source(stmt.name)
        if source is None:
            raise KsqlStatementError(f"Could not find STREAM/TABLE '{stmt.name}' in the Metastore")
        return StatementOutcome(stmt, text, "", data=source)
