"""The engine as the REST server and Kafka layer call it (server/engine_api.py's KsqlEngine)."""

from __future__ import annotations

import dataclasses
import logging
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ksql_emulator import casts
from ksql_emulator import types as ty
from ksql_emulator.analysis.format import format_expr
from ksql_emulator.analysis.query import analyze_query
from ksql_emulator.catalog import Source
from ksql_emulator.engine import Engine, StatementResult
from ksql_emulator.errors import KsqlError, KsqlStatementError
from ksql_emulator.parser import tree as t
from ksql_emulator.parser.grammar import parse_iter
from ksql_emulator.parser.variables import expand_known
from ksql_emulator.plan.builder import build_transient_plan
from ksql_emulator.runtime.formats import key_serde, value_serde
from ksql_emulator.runtime.message import Message
from ksql_emulator.runtime.topology import RunningQuery, build_query
from ksql_emulator.server import engine_api as api
from ksql_emulator.server.pull import (
    check_null_comparisons,
    plan_lookups,
    window_bounds_as_millis,
)
from ksql_emulator.server.pull_rows import stream_rows, table_rows
from ksql_emulator.server.windowed_keys import Windowing, from_wire, to_wire

__all__ = ["EngineService", "GatewayBroker", "create_engine"]

log = logging.getLogger(__name__)


class GatewayBroker:
    """The engine's broker interface over the Kafka layer's gateway: the Kafka layer, not the
    broker, feeds queries, so subscriptions are no-ops."""

    def __init__(self, gateway: api.KafkaGateway) -> None:
        self.gateway = gateway
        self.topics: dict[str, list[Message]] = {}

    def create_topic(self, name: str, partitions: int = 1) -> None:
        self.gateway.create_topic(name, partitions, 1, {})

    def subscribe(self, topic: str, reader: Any) -> None:
        del topic, reader

    def unsubscribe(self, reader: Any) -> None:
        del reader

    def produce(self, msg: Message) -> None:
        self.gateway.produce(msg)


@dataclass
class _Task:
    """A persistent query as the Kafka layer runs it."""

    running: RunningQuery
    properties: Mapping[str, Any]
    # Windowed topics' key layouts: the runtime keeps windows beside keys, Kafka inside them.
    inputs: Mapping[str, Windowing] = field(default_factory=dict)
    sink: Windowing | None = None

    @property
    def stateful(self) -> bool:
        return self.running.stateful

    @property
    def query_id(self) -> str:
        return self.running.query_id

    @property
    def source_topics(self) -> Sequence[str]:
        return self.running.source_topics

    def process(self, msg: Message) -> Sequence[Message]:
        out = self.running.process(from_wire(msg, self.inputs.get(msg.topic)))
        return [to_wire(m, self.sink) for m in out]

    def bind_stores(self, wrap: Callable[[str, Any], Any]) -> bool:
        return self.running.bind_stores(wrap)


@dataclass
class _Push:
    header: api.QueryHeader
    source_topics: Sequence[str]
    limit: int | None
    pipeline: RunningQuery
    windowing: Mapping[str, Windowing] = field(default_factory=dict)
    closed: bool = False

    def process(self, msg: Message) -> Sequence[api.Row]:
        try:
            return [
                api.Row(list(r.value), r.tombstone)
                for r in self.pipeline.records(from_wire(msg, self.windowing.get(msg.topic)))
                if r.value is not None
            ]
        except Exception as err:  # bad data is logged and skipped, as ksqlDB does
            log.debug("push query %s skipped a record: %s", self.header.query_id, err)
            return []

    def close(self) -> None:
        self.closed = True


@dataclass
class EngineService:
    gateway: api.KafkaGateway
    properties: dict[str, str]
    engine: Engine = field(init=False)
    _task_props: dict[str, Mapping[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.engine = Engine(properties=dict(self.properties))
        self.engine.broker = GatewayBroker(self.gateway)  # type: ignore[assignment]

    # --- /ksql -------------------------------------------------------------------------------

    def execute_statements(
        self,
        text: str,
        properties: Mapping[str, Any],
        session_variables: Mapping[str, Any],
    ) -> list[api.StatementResult]:
        engine = self.engine
        saved = dict(engine.properties)
        engine.properties.update({k: str(v) for k, v in properties.items()})
        engine.variables = {k: str(v) for k, v in session_variables.items()}
        out: list[api.StatementResult] = []
        try:
            for parsed in parse_iter(text, engine.variables):
                stmt = parsed.statement
                try:
                    if isinstance(stmt, t.SelectStatement):
                        err = KsqlStatementError(
                            "The following statement types should be issued to the websocket "
                            "endpoint '/query':\n\t* PRINT\n\t* SELECT"
                        )
                        err.error_code = 40002  # type: ignore[attr-defined]
                        raise err
                    before = set(engine.queries)
                    self._learn_topic(stmt)
                    result = engine.execute_statement(stmt, parsed.text)
                    for qid in set(engine.queries) - before:
                        self._task_props[qid] = dict(engine.properties)
                    out.append(self._result(result, dict(engine.properties), engine.variables))
                except KsqlError as err:
                    if not hasattr(err, "statement_text"):
                        err.statement_text = parsed.text  # type: ignore[attr-defined]
                    err.entities = [r.entity for r in out if r.entity is not None]  # type: ignore[attr-defined]
                    raise
        finally:
            # Request properties (and SETs inside the request) last for the request only.
            engine.properties = saved
        return out

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

    def _result(
        self, result: StatementResult, props: dict[str, str], variables: Mapping[str, str]
    ) -> api.StatementResult:
        stmt = result.statement
        text = result.text
        command_text = expand_known(text, variables)
        base: dict[str, Any] = {"statementText": text, "warnings": []}

        def status(
            command_id: str, message: str, query_id: str | None = None
        ) -> api.StatementResult:
            entity = {
                "@type": "currentStatus",
                **base,
                "commandId": command_id,
                "commandStatus": {"status": "SUCCESS", "message": message, "queryId": query_id},
            }
            return api.StatementResult(entity, api.Command(command_id, command_text, props))

        if isinstance(stmt, t.CreateSource):
            return status(f"{stmt.kind.lower()}/`{stmt.name}`/create", result.message)
        if isinstance(stmt, t.CreateAsSelect):
            return status(
                f"{stmt.kind.lower()}/`{stmt.name}`/create", result.message, result.query_id
            )
        if isinstance(stmt, t.InsertInto):
            return status(f"stream/`{stmt.target}`/create", result.message, result.query_id)
        if isinstance(stmt, t.Drop):
            return status(f"{stmt.kind.lower()}/`{stmt.name}`/drop", result.message)
        if isinstance(stmt, t.AlterSource):
            return status(f"{stmt.kind.lower()}/`{stmt.name}`/alter", result.message)
        if isinstance(stmt, t.CreateType):
            return status(f"type/`{stmt.name}`/create", result.message)
        if isinstance(stmt, t.Terminate):
            target = stmt.query_id or "ALL"
            return status(f"terminate/`{target}`/execute", result.message)
        if isinstance(stmt, t.Show):
            return api.StatementResult(self._show(stmt, result, base))
        if isinstance(stmt, t.Describe):
            return api.StatementResult(self._describe(stmt, result, base))
        return api.StatementResult(None)

    def _show(self, stmt: t.Show, result: StatementResult, base: dict[str, Any]) -> dict[str, Any]:
        what = stmt.what
        if what in ("STREAMS", "TABLES"):
            key = what.lower()
            return {
                "@type": key,
                **base,
                key: [
                    {
                        "type": s.kind,
                        "name": s.name,
                        "topic": s.topic,
                        "keyFormat": s.key_format,
                        "valueFormat": s.value_format,
                        "isWindowed": s.window_type is not None,
                    }
                    for s in result.data
                ],
            }
        if what == "TOPICS":
            return {
                "@type": "kafka_topics",
                **base,
                "topics": [
                    {"name": ti.name, "replicaInfo": [1] * ti.partitions}
                    for ti in self.gateway.list_topics()
                    if not ti.name.startswith("_")
                ],
            }
        if what == "QUERIES":
            return {
                "@type": "queries",
                **base,
                "queries": [
                    {
                        "queryString": q.sql,
                        "sinks": [q.sink_name],
                        "sinkKafkaTopics": [q.sink_topic],
                        "id": q.query_id,
                        "statusCount": {"RUNNING": 1},
                        "queryType": "PERSISTENT",
                        "state": "RUNNING",
                    }
                    for q in result.data
                ],
            }
        if what == "PROPERTIES":
            return {
                "@type": "properties",
                **base,
                "properties": [
                    {"name": k, "scope": "KSQL", "value": v} for k, v in sorted(result.data.items())
                ],
                "overwrittenProperties": [],
                "defaultProperties": [],
            }
        if what == "FUNCTIONS":
            return {
                "@type": "function_names",
                **base,
                "functions": [
                    {
                        "name": f["name"],
                        "type": f["type"].lower(),
                        "category": f.get("category", ""),
                    }
                    for f in self.engine.registry.describe()
                ],
            }
        if what == "VARIABLES":
            return {
                "@type": "variables",
                **base,
                "variables": [{"name": k, "value": v} for k, v in result.data.items()],
            }
        if what == "TYPES":
            return {
                "@type": "type_list",
                **base,
                "types": {k: {"type": str(v)} for k, v in result.data.items()},
            }
        return {"@type": "warning_entity", **base, "message": f"SHOW {what} is not supported"}

    def _describe(
        self, stmt: t.Describe, result: StatementResult, base: dict[str, Any]
    ) -> dict[str, Any]:
        if stmt.function and stmt.name:
            info = self.engine.registry.describe_function(stmt.name)
            return {
                "@type": "describe_function",
                **base,
                "name": info["name"],
                "description": info.get("description", ""),
                "type": "SCALAR",
                "functions": [
                    {
                        "arguments": [{"name": "", "type": a} for a in v["arguments"]],
                        "returnType": v["returnType"],
                    }
                    for v in info.get("variations", [])
                ],
            }
        source: Source = result.data
        queries = list(self.engine.queries.values())
        return {
            "@type": "sourceDescription",
            **base,
            "sourceDescription": {
                "name": source.name,
                "windowType": source.window_type,
                "readQueries": [
                    {"queryString": q.sql, "sinks": [q.sink_name], "id": q.query_id}
                    for q in queries
                    if source.topic in q.source_topics and q.sink_name != source.name
                ],
                "writeQueries": [
                    {"queryString": q.sql, "sinks": [q.sink_name], "id": q.query_id}
                    for q in queries
                    if q.sink_name == source.name
                ],
                "fields": [
                    {
                        "name": c.name,
                        "schema": _schema_json(c.type),
                        **({"type": "KEY"} if c.namespace == "KEY" else {}),
                    }
                    for c in source.columns
                ],
                "type": source.kind,
                "timestamp": source.timestamp_column or "",
                "statistics": "",
                "errorStats": "",
                "extended": stmt.extended,
                "keyFormat": source.key_format,
                "valueFormat": source.value_format,
                "topic": source.topic,
                "partitions": source.partitions,
                "replication": 1,
                "statement": source.sql,
                "queryOffsetSummaries": [],
                "sourceConstraints": [],
            },
        }

    # --- queries -----------------------------------------------------------------------------

    def query(
        self,
        sql: str,
        properties: Mapping[str, Any],
        session_variables: Mapping[str, Any],
    ) -> api.PullQueryResult | api.PushQuery:
        variables = {k: str(v) for k, v in session_variables.items()}
        parsed = list(parse_iter(sql, variables))
        if len(parsed) != 1 or not isinstance(parsed[0].statement, t.SelectStatement):
            raise KsqlStatementError(
                "Expected a single SELECT statement, got: " + sql.strip()[:200]
            )
        query = parsed[0].statement.query
        engine = self.engine
        is_pull = query.emit is None
        lookup = None
        if is_pull:
            _check_pull(query)
            pulled = _pull_source(query, engine)
            if pulled is not None and pulled.window_type:
                query = dataclasses.replace(query, where=window_bounds_as_millis(query.where))
            if pulled is not None and pulled.kind == "TABLE":
                check_null_comparisons(query.where, pulled)
        try:
            analysis = analyze_query(
                query, engine.catalog, engine.compiler, None, allow_missing_keys=True
            )
        except KsqlError as err:
            if (
                is_pull
                and query.where is not None
                and str(err.message).startswith("Error in WHERE")
            ):
                # ksqlDB names the clause it could not type as the failed statement.
                raise type(err)(f"{err.message}\nStatement: {format_expr(query.where)}") from err
            raise
        source = analysis.source
        if is_pull:
            _check_queryable(source, engine)
        if is_pull and source.kind == "TABLE":
            scans = {**engine.properties, **{k: str(v) for k, v in properties.items()}}.get(
                "ksql.query.pull.table.scan.enabled", "true"
            )
            lookup = plan_lookups(query.where, source, str(scans).lower() != "false")
        qid = f"transient_{source.name}_{random.randrange(10**18, 10**19)}"
        plan = build_transient_plan(qid, analysis)
        pipeline = build_query(plan, engine.registry, dict(engine.properties), sql)
        names = [p.name for p in analysis.projection]
        types = [str(p.compiled.type) for p in analysis.projection]
        key_suffix = is_pull and source.kind == "TABLE"
        window_keys = ("WINDOWSTART", "WINDOWEND") if source.window_type else ()
        schema = ", ".join(
            f"`{p.name}` {p.compiled.type}"
            f"{' KEY' if key_suffix and (p.is_key or p.name in window_keys) else ''}"
            for p in analysis.projection
        )
        if is_pull:
            header = api.QueryHeader(qid.replace("transient_", "query_"), names, types, schema)
            windowing = _windowing(source)
            messages = (from_wire(m, windowing) for m in self.gateway.read_topic(source.topic))
            if source.kind == "TABLE":
                rows = table_rows(messages, pipeline, lookup)
            else:
                rows = stream_rows(messages, pipeline)
            if query.limit is not None:
                rows = rows[: query.limit]
            return api.PullQueryResult(header, [api.Row(r) for r in rows], source.kind)  # type: ignore[arg-type]
        header = api.QueryHeader(qid, names, types, schema)
        return _Push(header, pipeline.source_topics, query.limit, pipeline, self._windowed_topics())

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
        engine = self.engine
        saved = dict(engine.properties)
        engine.properties.update({k: str(v) for k, v in command.properties.items()})
        try:
            for parsed in parse_iter(command.statement, engine.variables):
                before = set(engine.queries)
                self._learn_topic(parsed.statement)
                engine.execute_statement(parsed.statement, parsed.text)
                for qid in set(engine.queries) - before:
                    self._task_props[qid] = dict(command.properties)
        finally:
            engine.properties = saved

    def _windowed_topics(self) -> dict[str, Windowing]:
        sources = list(self.engine.catalog.sources.values())
        return {s.topic: w for s in sources if (w := _windowing(s)) is not None}

    def persistent_queries(self) -> Mapping[str, api.QueryTask]:
        windowed = self._windowed_topics()
        return {
            qid: _Task(
                q,
                self._task_props.get(qid, {}),
                {t: windowed[t] for t in q.source_topics if t in windowed},
                _windowing(self.engine.catalog.source(q.sink_name)),
            )
            for qid, q in self.engine.queries.items()
        }

    def close(self) -> None:
        self.engine.queries.clear()


def _windowing(source: Source | None) -> Windowing | None:
    if source is None or not source.window_type:
        return None
    return Windowing(source.window_type, source.window_size_ms)


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


_PULL_HINT = (
    " See https://cnfl.io/queries for more info.\n"
    "Add EMIT CHANGES if you intended to issue a push query."
)


def _pull_source(query: t.Query, engine: Engine) -> Source | None:
    relation = query.from_
    name = relation.name if isinstance(relation, t.SourceRef) else ""
    return engine.catalog.source(name)


def _check_queryable(source: Source, engine: Engine) -> None:
    """A table must be materialized by a query (or be a source table) to be pulled from."""
    materialized = source.is_source or any(
        q.sink_name == source.name for q in engine.queries.values()
    )
    if source.kind == "TABLE" and not materialized:
        raise KsqlStatementError(
            f"The `{source.name}` table isn't queryable. To derive a queryable table, you can do "
            f"'CREATE TABLE QUERYABLE_{source.name} AS SELECT * FROM {source.name}'. "
            "See https://cnfl.io/queries for more info."
        )


def _check_pull(query: t.Query) -> None:
    """The clauses and columns ksqlDB refuses in pull queries."""
    if isinstance(query.from_, t.Join):
        raise KsqlStatementError("Pull queries don't support JOIN clauses." + _PULL_HINT)
    if query.window is not None:
        raise KsqlStatementError("Pull queries don't support WINDOW clauses." + _PULL_HINT)
    if query.group_by:
        raise KsqlStatementError("Pull queries don't support GROUP BY clauses." + _PULL_HINT)
    if query.partition_by:
        raise KsqlStatementError("Pull queries don't support PARTITION BY clauses." + _PULL_HINT)
    if query.limit is not None and query.limit < 0:
        raise KsqlStatementError(
            "Pull queries don't support negative integers in the LIMIT clause. "
            "See https://cnfl.io/queries for more info."
        )
    banned = [
        item.expr.name
        for item in query.select
        if isinstance(item, t.SelectItem)
        and isinstance(item.expr, t.ColumnRef)
        and item.expr.name in ("ROWOFFSET", "ROWPARTITION")
    ]
    if banned:
        raise KsqlStatementError(
            "Pull queries don't support the following columns in SELECT clauses: "
            + ", ".join(f"`{b}`" for b in banned)
        )


def _schema_json(typ: Any) -> dict[str, Any]:
    if isinstance(typ, ty.ArrayType):
        return {"type": "ARRAY", "fields": None, "memberSchema": _schema_json(typ.item)}
    if isinstance(typ, ty.MapType):
        return {"type": "MAP", "fields": None, "memberSchema": _schema_json(typ.value)}
    if isinstance(typ, ty.StructType):
        return {
            "type": "STRUCT",
            "fields": [{"name": n, "schema": _schema_json(ft)} for n, ft in typ.fields],
            "memberSchema": None,
        }
    return {"type": str(typ), "fields": None, "memberSchema": None}


def create_engine(gateway: api.KafkaGateway, properties: Mapping[str, str]) -> api.KsqlEngine:
    """The engine the `ksql-emulator` server runs, reaching Kafka through `gateway`."""
    return EngineService(gateway, dict(properties))
