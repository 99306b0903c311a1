"""Engine state (catalog, broker, queries, properties) and the helpers all handlers share."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ksql_emulator.catalog import Catalog
from ksql_emulator.contracts.message import Message
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
    # Paused persistent queries, each with what reached its sources since it was paused
    # (in memory; over Kafka the consumer's position holds the place instead).
    paused: dict[str, list[Message]] = field(default_factory=dict)
    # Per paused query, the reader that holds its sources' records (one, so it can be removed).
    _holders: dict[str, Callable[[Message], list[Message]]] = field(default_factory=dict)

    @property
    def compiler(self) -> ExpressionCompiler:
        return ExpressionCompiler(self.registry, self.catalog.types)

    def new_planner(self) -> bool:
        return str(self.prop("ksql.new.query.planner.enabled", "false")).lower() == "true"

    def prop(self, name: str, default: str | None = None) -> str | None:
        return self.properties.get(name, default)

    def stop_query(self, query_id: str) -> None:
        q = self.queries.pop(query_id)
        if self.paused.pop(query_id, None) is not None:
            self.broker.unsubscribe(self._hold(query_id))
        else:
            self.broker.unsubscribe(q.process)

    def pause_query(self, query_id: str) -> None:
        """Stop the query processing; what its sources receive meanwhile waits for RESUME."""
        if query_id in self.paused:
            return
        q = self.queries[query_id]
        self.paused[query_id] = []
        self.broker.unsubscribe(q.process)
        for topic in q.source_topics:
            self.broker.subscribe(topic, self._hold(query_id))

    def resume_query(self, query_id: str) -> None:
        """Process what arrived while paused, in arrival order, then the rest as it comes."""
        held = self.paused.pop(query_id, None)
        if held is None:
            return
        q = self.queries[query_id]
        self.broker.unsubscribe(self._hold(query_id))
        for topic in q.source_topics:
            self.broker.subscribe(topic, q.process)
        for msg in held:
            for out in q.process(msg):
                self.broker.produce(out)

    def _hold(self, query_id: str) -> Callable[[Message], list[Message]]:
        if query_id not in self._holders:

            def hold(msg: Message) -> list[Message]:
                self.paused.get(query_id, []).append(msg)
                return []

            self._holders[query_id] = hold
        return self._holders[query_id]
