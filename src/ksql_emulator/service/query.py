"""SELECT over /query: ksqlDB's pull-query checks, pull scans, push pipelines."""

from __future__ import annotations

import dataclasses
import logging
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ksql_emulator.analysis.query import analyze_query
from ksql_emulator.catalog import Source
from ksql_emulator.contracts import backend as api
from ksql_emulator.contracts.message import Message
from ksql_emulator.engine import Engine
from ksql_emulator.errors import KsqlError, KsqlStatementError
from ksql_emulator.parser import tree as t
from ksql_emulator.parser.grammar import parse_iter
from ksql_emulator.plan.builder import build_transient_plan
from ksql_emulator.runtime.topology import RunningQuery, build_query
from ksql_emulator.semantics.format import format_expr
from ksql_emulator.service.pull import (
    check_null_comparisons,
    plan_lookups,
    validate_where,
    window_bounds_as_millis,
)
from ksql_emulator.service.pull_rows import stream_rows, table_rows
from ksql_emulator.service.scalable_push import is_scalable_push, scalable_query_id, skips_record
from ksql_emulator.service.tasks import _windowing, input_windowing
from ksql_emulator.service.windowed_keys import Windowing, from_wire

__all__ = ["SelectQueries"]

log = logging.getLogger(__name__)


@dataclass
class _Push:
    header: api.QueryHeader
    source_topics: Sequence[str]
    limit: int | None
    pipeline: RunningQuery
    windowing: Mapping[str, Windowing] = field(default_factory=dict)
    closed: bool = False
    scalable: bool = False
    keyed: bool = True  # the source has key columns

    def process(self, msg: Message) -> Sequence[api.Row]:
        if self.scalable and skips_record(msg.key, msg.value, self.keyed):
            return []
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


class SelectQueries:
    """Runs a SELECT as a pull query (a scan, answered at once) or a push query (a pipeline)."""

    def __init__(self, gateway: api.KafkaGateway, engine: Engine) -> None:
        self.gateway = gateway
        self.engine = engine

    def query(
        self,
        sql: str,
        properties: Mapping[str, Any],
        session_variables: Mapping[str, Any],
    ) -> api.PullQueryResult | api.PushQuery:
        try:
            return self._query(sql, properties, session_variables)
        except KsqlError as err:
            err.statement = sql  # a query request is one statement: its answer names it whole
            raise

    def _query(
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
        pulled = None
        if is_pull:
            _check_pull(query)
            limits = {**engine.properties, **{k: str(v) for k, v in properties.items()}}.get(
                "ksql.query.pull.limit.clause.enabled", "true"
            )
            if query.limit is not None and str(limits).lower() == "false":
                raise KsqlStatementError(
                    "LIMIT clause in pull queries is currently disabled. You can enable them by "
                    "setting ksql.query.pull.limit.clause.enabled=true." + _PULL_HINT
                )
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
                if pulled is not None and pulled.kind == "TABLE":
                    # ksqlDB's pull planner checks the clause's shape before typing it.
                    validate_where(query.where, pulled, _scans(engine.properties, properties))
                # ksqlDB names the clause it could not type as the failed statement.
                raise type(err)(f"{err.message}\nStatement: {format_expr(query.where)}") from err
            raise
        source = analysis.source
        if is_pull:
            _check_queryable(source, engine)
        if is_pull and source.kind == "TABLE":
            props = {**engine.properties, **{k: str(v) for k, v in properties.items()}}
            ranges = props.get("ksql.query.pull.range.scan.enabled", "true")
            lookup = plan_lookups(
                query.where,
                source,
                _scans(engine.properties, properties),
                str(ranges).lower() != "false",
            )
        writers = sum(q.sink_name == source.name for q in engine.queries.values())
        scalable = not is_pull and is_scalable_push(query, writers, engine.properties, properties)
        if scalable:
            qid = scalable_query_id()
        else:
            qid = f"transient_{source.name}_{random.randrange(10**18, 10**19)}"
        plan = build_transient_plan(qid, analysis)
        pipeline = build_query(plan, engine.registry, dict(engine.properties), sql)
        names = [p.name for p in analysis.projection]
        types = [str(p.compiled.type) for p in analysis.projection]
        key_suffix = is_pull and source.kind == "TABLE"
        window_keys = ("WINDOWSTART", "WINDOWEND") if source.window_type else ()
        keyed = [key_suffix and (p.is_key or p.name in window_keys) for p in analysis.projection]
        parts = [
            f"`{p.name}` {p.compiled.type}{' KEY' if is_key else ''}"
            for p, is_key in zip(analysis.projection, keyed, strict=True)
        ]
        if key_suffix and any(isinstance(i, t.AllColumns) for i in query.select):
            # A table's `SELECT *` answers with the table's own schema, which ksqlDB writes
            # key columns first, then header columns (named as such), then values.
            headers = {c.name: c for c in source.header_columns}
            held = [p.name in headers and not keyed[i] for i, p in enumerate(analysis.projection)]
            for i, p in enumerate(analysis.projection):
                if held[i]:
                    key = headers[p.name].header_key
                    parts[i] += f" HEADER('{key}')" if key else " HEADERS"
            order = sorted(range(len(parts)), key=lambda i: 0 if keyed[i] else 1 if held[i] else 2)
            parts = [parts[i] for i in order]
        schema = ", ".join(parts)
        if is_pull:
            header = api.QueryHeader(qid.replace("transient_", "query_"), names, types, schema)
            windowing = _windowing(source)
            messages = (from_wire(m, windowing) for m in self.gateway.read_topic(source.topic))
            if source.kind == "TABLE":
                rows = table_rows(messages, pipeline, lookup)
            else:
                rows = stream_rows(messages, pipeline)
            limit_reached = query.limit is not None and len(rows) >= query.limit
            if query.limit is not None:
                rows = rows[: query.limit]
            return api.PullQueryResult(
                header,
                [api.Row(r) for r in rows],
                source.kind,  # type: ignore[arg-type]
                limit_reached,
            )
        header = api.QueryHeader(qid, names, types, schema)
        return _Push(
            header,
            pipeline.source_topics,
            query.limit,
            pipeline,
            input_windowing(pipeline),
            scalable=scalable,
            keyed=bool(source.key_columns),
        )


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
    if query.having is not None:
        raise KsqlStatementError("Pull queries don't support HAVING clauses." + _PULL_HINT)
    if query.limit is not None and query.limit < 0:
        raise KsqlStatementError(
            "Pull queries don't support negative integers in the LIMIT clause. "
            "See https://cnfl.io/queries for more info."
        )
    # ROWPARTITION and ROWOFFSET name no stored row's place, so neither may be read or filtered
    # on, anywhere in an expression of the SELECT list or the WHERE clause.
    selected = [item.expr for item in query.select if isinstance(item, t.SelectItem)]
    for clause, exprs in (("SELECT", selected), ("WHERE", [query.where] if query.where else [])):
        banned = [name for e in exprs for name in _pseudo_offsets(e)]
        if banned:
            raise KsqlStatementError(
                f"Pull queries don't support the following columns in {clause} clauses: "
                + ", ".join(f"`{b}`" for b in banned)
                + "\n"
                + _PULL_HINT
            )


def _pseudo_offsets(e: t.Expr) -> list[str]:
    """ROWPARTITION and ROWOFFSET as `e` reads them, each once, in order of appearance."""
    names: list[str] = []
    for ref in e.columns():
        if ref.name in ("ROWOFFSET", "ROWPARTITION") and ref.name not in names:
            names.append(ref.name)
    return names


def _scans(engine_props: Any, properties: Any) -> bool:
    """Whether pull queries may scan whole tables (the request's properties win)."""
    props = {**engine_props, **{k: str(v) for k, v in properties.items()}}
    return str(props.get("ksql.query.pull.table.scan.enabled", "true")).lower() != "false"
