"""KsqlService: `contracts.backend.KsqlBackend` over the engine (statements, rows, tasks)."""

from __future__ import annotations

from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ksql_emulator import casts
from ksql_emulator import sql_types as ty
from ksql_emulator.contracts import backend as api
from ksql_emulator.contracts.message import Message
from ksql_emulator.engine import Engine, StatementOutcome
from ksql_emulator.errors import KsqlError, KsqlStatementError
from ksql_emulator.parser import tree as t
from ksql_emulator.runtime.formats import key_serde, value_serde
from ksql_emulator.service.entities import StatementEntities
from ksql_emulator.service.query import SelectQueries
from ksql_emulator.service.tasks import GatewayBroker, _Task, _windowing, input_windowing

__all__ = ["KsqlService"]


@dataclass
class KsqlService:
    """The backend: statements through the engine's loop, answered as /ksql entities
    (`entities`), SELECTs as pull or push queries (`selects`), persistent queries as tasks."""

    gateway: api.KafkaGateway
    properties: dict[str, str]
    engine: Engine = field(init=False)
    entities: StatementEntities = field(init=False)
    selects: SelectQueries = field(init=False)
    _task_props: dict[str, Mapping[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.engine = Engine(properties=dict(self.properties))
        self.engine.broker = GatewayBroker(self.gateway)
        self.entities = StatementEntities(self.gateway, self.engine)
        self.selects = SelectQueries(self.gateway, self.engine)

    def query(
        self,
        sql: str,
        properties: Mapping[str, Any],
        session_variables: Mapping[str, Any],
    ) -> api.PullQueryResult | api.PushQuery:
        return self.selects.query(sql, properties, session_variables)

    def execute_statements(
        self,
        text: str,
        properties: Mapping[str, Any],
        session_variables: Mapping[str, Any],
    ) -> list[api.StatementResult]:
        self.engine.variables = {k: str(v) for k, v in session_variables.items()}
        out: list[api.StatementResult] = []
        running: list[str] = []  # the statement being run; empty while parsing
        run = self._run(text, properties, None, running)
        try:
            for _, outcome in run:
                out.append(
                    self.entities.result_of(
                        outcome, dict(self.engine.properties), self.engine.variables
                    )
                )
        except KsqlError as err:
            # ksqlDB names the failing statement, or the whole request when it does not parse.
            err.statement = running[-1] if running else text
            if running:
                err.entities = [r.entity for r in out if r.entity is not None]
            raise
        finally:
            run.close()  # the request's properties end with it, however it ends
        return out

    def _run(
        self,
        text: str,
        properties: Mapping[str, Any],
        task_properties: Mapping[str, Any] | None,
        running: list[str],
    ) -> Generator[tuple[str, StatementOutcome]]:
        """The engine's statement loop with `properties` in force (for this text only), topics
        learned from Kafka, and the properties each new persistent query runs with recorded:
        `task_properties`, or the properties in force when it started. A statement from a
        request (`task_properties` None) may not be a SELECT. `running` holds the statement
        being run, if any."""
        engine = self.engine
        saved = dict(engine.properties)
        engine.properties.update({k: str(v) for k, v in properties.items()})
        from_request = task_properties is None

        def prepare(stmt: t.Statement, statement_text: str) -> None:
            running[:] = [statement_text]
            if from_request and isinstance(stmt, t.SelectStatement):
                err = KsqlStatementError(
                    "The following statement types should be issued to the websocket "
                    "endpoint '/query':\n\t* PRINT\n\t* SELECT"
                )
                err.error_code = 40002
                raise err
            self._learn_topic(stmt)

        try:
            before = set(engine.queries)
            for statement_text, outcome in engine.each_statement(text, prepare):
                started = set(engine.queries) - before
                for qid in started:
                    props = engine.properties if task_properties is None else task_properties
                    self._task_props[qid] = dict(props)
                before = set(engine.queries)
                yield statement_text, outcome
                running.clear()
        finally:
            # Request properties (and SETs inside the request) last for the request only.
            engine.properties = saved

    def _learn_topic(self, stmt: t.Statement) -> None:
        """A source over an existing topic takes the topic's partition count, as in ksqlDB."""
        if not isinstance(stmt, t.CreateSource):
            return
        props = {str(k).upper(): v for k, v in stmt.props}
        topic = props.get("KAFKA_TOPIC")
        if topic is None or "PARTITIONS" in props or str(topic) in self.engine.catalog.topics:
            return
        info = self.gateway.describe_topic(str(topic))
        if info is not None:
            self.engine.catalog.ensure_topic(info.name, info.partitions)

    def insert_row(self, target: str, row: Mapping[str, Any]) -> None:
        source = self.engine.catalog.source(target) or self.engine.catalog.source(target.upper())
        if source is None:
            raise KsqlStatementError(
                f"Cannot insert values into an unknown stream/table: `{target}`"
            )
        values = {k.upper(): v for k, v in row.items()}
        keys = []
        vals = []
        for c in source.columns:
            v = values.get(c.name.upper())
            if v is not None and not isinstance(v, (dict, list)):
                v = _coerce_json(v, c.type)
            if c.namespace == "KEY":
                keys.append(v)
            elif c.namespace == "VALUE":
                vals.append(v)
        ts = values.get("ROWTIME")
        import time

        msg = Message(
            source.topic,
            key_serde(source).serialize(keys) if keys else None,
            value_serde(source).serialize(vals),
            int(ts) if ts is not None else int(time.time() * 1000),
        )
        self.gateway.produce(msg)

    def replay(self, command: api.Command) -> None:
        for _ in self._run(command.statement, command.properties, command.properties, []):
            pass

    def persistent_queries(self) -> Mapping[str, api.QueryTask]:
        return {
            qid: _Task(
                q,
                self._task_props.get(qid, {}),
                input_windowing(q),
                _windowing(self.engine.catalog.source(q.sink_name)),
                table_sink=getattr(self.engine.catalog.source(q.sink_name), "kind", "") == "TABLE",
                generation=self.engine.generations.get(qid, 0),
                paused=qid in self.engine.paused,
            )
            for qid, q in self.engine.queries.items()
        }

    def close(self) -> None:
        self.engine.queries.clear()


def _coerce_json(value: Any, typ: Any) -> Any:
    if typ == ty.STRING:
        return str(value)
    if typ in (ty.INTEGER, ty.BIGINT) and not isinstance(value, bool):
        return int(value)
    if typ == ty.DOUBLE:
        return float(value)
    if isinstance(typ, ty.DecimalType):
        from decimal import Decimal

        return casts.fit_decimal(Decimal(str(value)), typ)
    return value
