"""Metadata handlers: SHOW/LIST, DESCRIBE, SET/UNSET, DEFINE/UNDEFINE."""

from __future__ import annotations

from typing import Any

from ksql_emulator.engine.base import EngineState, StatementOutcome
from ksql_emulator.errors import KsqlStatementError
from ksql_emulator.parser import tree as t

__all__ = ["MetadataStatements"]


class MetadataStatements:
    """Statements that read the catalog or set session properties and variables."""

    def __init__(self, state: EngineState) -> None:
        self.state = state

    def set(self, stmt: t.SetProperty, text: str) -> StatementOutcome:
        self.state.properties[stmt.name] = stmt.value
        return StatementOutcome(stmt, text, "")

    def unset(self, stmt: t.UnsetProperty, text: str) -> StatementOutcome:
        self.state.properties.pop(stmt.name, None)
        return StatementOutcome(stmt, text, "")

    def define(self, stmt: t.DefineVariable, text: str) -> StatementOutcome:
        self.state.variables[stmt.name] = stmt.value
        return StatementOutcome(stmt, text, "")

    def undefine(self, stmt: t.UndefineVariable, text: str) -> StatementOutcome:
        self.state.variables.pop(stmt.name, None)
        return StatementOutcome(stmt, text, "")

    def show(self, stmt: t.Show, text: str) -> StatementOutcome:
        what = stmt.what
        data: Any
        if what in ("STREAMS", "TABLES"):
            kind = what[:-1]
            data = [s for s in self.state.catalog.sources.values() if s.kind == kind]
        elif what == "TOPICS":
            data = list(self.state.catalog.topics.values())
        elif what == "QUERIES":
            data = list(self.state.queries.values())
        elif what == "PROPERTIES":
            data = dict(self.state.properties)
        elif what == "VARIABLES":
            data = dict(self.state.variables)
        elif what == "TYPES":
            data = dict(self.state.catalog.types)
        else:
            data = []
        return StatementOutcome(stmt, text, "", data=data)

    def describe(self, stmt: t.Describe, text: str) -> StatementOutcome:
        if stmt.name is None or stmt.function:
            return StatementOutcome(stmt, text, "", data=stmt.name)
        source = self.state.catalog.source(stmt.name)
        if source is None:
            raise KsqlStatementError(f"Could not find STREAM/TABLE '{stmt.name}' in the Metastore")
        return StatementOutcome(stmt, text, "", data=source)
