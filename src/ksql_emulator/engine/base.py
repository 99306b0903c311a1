"""Engine state (catalog, broker, queries, properties) and the helpers all handlers share."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ksql_emulator.catalog import Catalog
from ksql_emulator.expressions import ExpressionCompiler
from ksql_emulator.functions import FunctionRegistry, default_registry
from ksql_emulator.parser import tree as t
from ksql_emulator.runtime.broker import Broker, InMemoryBroker
from ksql_emulator.runtime.topology import RunningQuery

__all__ = ["EngineState", "StatementOutcome"]


@dataclass
class StatementOutcome:
    """What one statement did: a message, and the query it started if any."""

    statement: t.Statement
    text: str
    message: str = ""
    query_id: str | None = None
    data: Any = None


@dataclass
class EngineState:
    """What the statement handlers act on: catalog, broker, running queries, properties."""

    registry: FunctionRegistry = field(default_factory=default_registry)
    properties: dict[str, str] = field(default_factory=dict)
    catalog: Catalog = field(default_factory=Catalog)
    broker: Broker = field(default_factory=InMemoryBroker)
    queries: dict[str, RunningQuery] = field(default_factory=dict)
    variables: dict[str, str] = field(default_factory=dict)
    # Per query id, which run of it this is (a TERMINATEd id started again is a new run).
    generations: dict[str, int] = field(default_factory=dict)
    last_generation: int = 0

    @property
    def compiler(self) -> ExpressionCompiler:
        return ExpressionCompiler(self.registry, self.catalog.types)

    def new_planner(self) -> bool:
        return str(self.prop("ksql.new.query.planner.enabled", "false")).lower() == "true"

    def prop(self, name: str, default: str | None = None) -> str | None:
        return self.properties.get(name, default)

    def stop_query(self, query_id: str) -> None:
        q = self.queries.pop(query_id)
        self.broker.unsubscribe(q.process)
