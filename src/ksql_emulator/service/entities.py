"""/ksql response entities: each executed statement as ksqlDB's JSON (status, SHOW, DESCRIBE)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from ksql_emulator import sql_types as ty
from ksql_emulator.catalog import Source
from ksql_emulator.contracts import backend as api
from ksql_emulator.engine import Engine, StatementOutcome
from ksql_emulator.parser import tree as t
from ksql_emulator.parser.variables import expand_known

__all__ = ["StatementEntities"]


class StatementEntities:
    """Turns an engine StatementOutcome into the entity /ksql answers with."""

    def __init__(self, gateway: api.KafkaGateway, engine: Engine) -> None:
        self.gateway = gateway
        self.engine = engine

    def result_of(
        self, result: StatementOutcome, props: dict[str, str], variables: Mapping[str, str]
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
        if isinstance(stmt, (t.PauseQuery, t.ResumeQuery)):
            verb = "pause" if isinstance(stmt, t.PauseQuery) else "resume"
            return status(f"{verb}/{stmt.query_id or 'ALL'}/execute", result.message)
        if isinstance(stmt, t.AlterSystem):
            return status(f"cluster/{uuid.uuid4()}/alter", result.message)
        if isinstance(stmt, t.AssertTopic):
            entity = {"@type": "assert_topic", **base, "topicName": stmt.topic}
            return api.StatementResult({**entity, "exists": stmt.exists})
        if isinstance(stmt, t.Show):
            return api.StatementResult(self._show_entity(stmt, result, base))
        if isinstance(stmt, t.Describe):
            return api.StatementResult(self._describe_entity(stmt, result, base))
        return api.StatementResult(None)

    def _show_entity(
        self, stmt: t.Show, result: StatementOutcome, base: dict[str, Any]
    ) -> dict[str, Any]:
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
                        "statusCount": {_state(self.engine, q.query_id): 1},
                        "queryType": "PERSISTENT",
                        "state": _state(self.engine, q.query_id),
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

    def _describe_entity(
        self, stmt: t.Describe, result: StatementOutcome, base: dict[str, Any]
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


def _state(engine: Engine, query_id: str) -> str:
    return "PAUSED" if query_id in engine.paused else "RUNNING"
