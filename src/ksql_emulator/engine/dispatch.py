"""The Engine: each parsed statement dispatched to its handler (DDL, queries, metadata)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ksql_emulator.analysis.statement_text import planned_statement_text
from ksql_emulator.engine.base import EngineState, StatementOutcome
from ksql_emulator.engine.cluster import ClusterStatements
from ksql_emulator.engine.ddl import DdlStatements
from ksql_emulator.engine.metadata import MetadataStatements
from ksql_emulator.engine.queries import QueryStatements
from ksql_emulator.engine.sources import SourceBuilder
from ksql_emulator.errors import KsqlError, KsqlStatementError, ParseError, PrepareError
from ksql_emulator.parser import tree as t
from ksql_emulator.parser.grammar import parse_iter

__all__ = ["Engine"]


@dataclass
class Engine(EngineState):
    """Executes statements against a catalog, running persistent queries over a broker: its
    state, and one handler object per family of statements acting on it."""

    def __post_init__(self) -> None:
        sources = SourceBuilder(self)
        ddl = DdlStatements(self, sources)
        queries = QueryStatements(self, sources)
        metadata = MetadataStatements(self)
        cluster = ClusterStatements(self)
        self._handlers: dict[type, Callable[[Any, str], StatementOutcome]] = {
            t.CreateSource: ddl.create_source,
            t.CreateAsSelect: queries.create_as_select,
            t.InsertInto: queries.insert_into,
            t.InsertValues: queries.insert_values,
            t.Drop: ddl.drop,
            t.AlterSource: ddl.alter,
            t.Terminate: queries.terminate,
            t.SetProperty: metadata.set,
            t.UnsetProperty: metadata.unset,
            t.DefineVariable: metadata.define,
            t.UndefineVariable: metadata.undefine,
            t.CreateType: ddl.create_type,
            t.Show: metadata.show,
            t.Describe: metadata.describe,
            t.PauseQuery: queries.pause,
            t.ResumeQuery: queries.resume,
            t.AlterSystem: cluster.alter_system,
            t.AssertTopic: cluster.assert_topic,
            t.AssertSchema: cluster.assert_schema,
            t.CreateConnector: cluster.connector,
            t.DropConnector: cluster.connector,
            t.DescribeConnector: cluster.connector,
            t.ListConnectors: cluster.connector,
            t.ListConnectorPlugins: cluster.connector,
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
        if not isinstance(stmt, t.CreateAsSelect | t.InsertInto):
            return handler(stmt, text)
        try:
            return handler(stmt, text)
        except KsqlError as err:
            if err.statement is None and not isinstance(err, ParseError | PrepareError):
                err.planned_statement = planned_statement_text(stmt, self.catalog)
            raise
