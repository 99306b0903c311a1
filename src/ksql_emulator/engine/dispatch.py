"""The Engine: each parsed statement dispatched to its handler (DDL, queries, metadata)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ksql_emulator.engine.base import StatementOutcome
from ksql_emulator.engine.ddl import DdlHandlers
from ksql_emulator.engine.metadata import MetadataHandlers
from ksql_emulator.engine.queries import QueryHandlers
from ksql_emulator.errors import KsqlStatementError
from ksql_emulator.parser import tree as t
from ksql_emulator.parser.grammar import parse_iter

__all__ = ["Engine"]


@dataclass
class Engine(DdlHandlers, QueryHandlers, MetadataHandlers):
    """Executes statements against a catalog, running persistent queries over a broker."""

    def __post_init__(self) -> None:
        self._handlers: dict[type, Callable[[Any, str], StatementOutcome]] = {
            t.CreateSource: self._create_source,
            t.CreateAsSelect: self._create_as_select,
            t.InsertInto: self._insert_into,
            t.InsertValues: self._insert_values,
            t.Drop: self._drop,
            t.AlterSource: self._alter,
            t.Terminate: self._terminate,
            t.SetProperty: self._set,
            t.UnsetProperty: self._unset,
            t.DefineVariable: self._define,
            t.UndefineVariable: self._undefine,
            t.CreateType: self._create_type,
            t.Show: self._show,
            t.Describe: self._describe,
        }

    def execute(self, sql: str) -> list[StatementOutcome]:
        """Parse and run every statement of `sql` in order; the first failure raises."""
        return [outcome for _, outcome in self.each_statement(sql)]

    def each_statement(
        self, sql: str, prepare: Callable[[t.Statement, str], None] | None = None
    ) -> Iterator[tuple[str, StatementOutcome]]:
        """The statement loop: parses `sql` one statement at a time (a later statement may use
        variables an earlier one defines), calls `prepare` with each before running it, and
        yields each statement's text and outcome. The first failure raises."""
        for parsed in parse_iter(sql, self.variables):
            if prepare is not None:
                prepare(parsed.statement, parsed.text)
            yield parsed.text, self.execute_statement(parsed.statement, parsed.text)

    def execute_statement(self, stmt: t.Statement, text: str) -> StatementOutcome:
        handler = self._handlers.get(type(stmt))
        if handler is None:
            raise KsqlStatementError(f"Statement not supported by this emulator: {text}")
        return handler(stmt, text)
