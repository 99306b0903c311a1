"""Query handlers: CSAS/CTAS and INSERT INTO start queries, TERMINATE stops, INSERT VALUES."""

from __future__ import annotations

import re
from typing import Any

from ksql_emulator.analysis.query import analyze_query
from ksql_emulator.analysis.query_checks import check_partition_by_null_key_format
from ksql_emulator.catalog import Column, Source
from ksql_emulator.contracts.message import Message
from ksql_emulator.engine.base import EngineState, StatementOutcome
from ksql_emulator.engine.sources import SourceBuilder
from ksql_emulator.errors import KsqlError, KsqlStatementError
from ksql_emulator.parser import tree as t
from ksql_emulator.plan.builder import build_plan
from ksql_emulator.runtime.formats import key_serde, value_serde
from ksql_emulator.runtime.topology import RunningQuery, build_query
from ksql_emulator.semantics.format import format_expr
from ksql_emulator.semantics.scope import Scope

__all__ = ["QueryStatements"]

# ksqlDB's generated query ids start with these; a QUERY_ID of one's own may not.
_RESERVED_PREFIXES = ("INSERTQUERY_", "CTAS_", "CSAS_", "CST_")
_VALID_QUERY_ID = re.compile(r"[A-Za-z0-9_]+")


class QueryStatements:
    """Statements that start or stop persistent queries, or write rows to a stream or table."""

    def __init__(self, state: EngineState, sources: SourceBuilder) -> None:
        self.state = state
        self.sources = sources
        self._query_counter = 0

    def _next_query_id(self, prefix: str, name: str | None) -> str:
        n = self._query_counter
        self._query_counter += 1
        return f"{prefix}_{name}_{n}" if name else f"{prefix}_{n}"

    def _query_id(self, props: t.Props, prefix: str, name: str | None) -> str:
        """The id a new query runs under: its `QUERY_ID`, else the engine's next generated one.

        As ksqlDB's QueryIdUtil: a given id is upper-cased, must not start with a generated
        id's prefix, and must not name a running query (a named query takes no number)."""
        given = next((v for k, v in props if str(k).upper() == "QUERY_ID"), None)
        if given is None:
            return self._next_query_id(prefix, name)
        query_id = str(given).upper()
        if query_id.startswith(_RESERVED_PREFIXES):
            raise KsqlStatementError(
                "Query IDs must not start with a reserved query ID prefix "
                f"({', '.join(_RESERVED_PREFIXES)}). Got '{query_id}'."
            )
        if not _VALID_QUERY_ID.fullmatch(query_id):
            raise KsqlStatementError(
                f"Query IDs may contain only alphanumeric characters and '_'. Got: '{query_id}'"
            )
        if query_id in self.state.queries:
            raise KsqlStatementError(f"Query ID '{query_id}' already exists.")
        return query_id

    def _replaced_query(self, stmt: t.CreateAsSelect) -> str | None:
        """The id of the query a CREATE OR REPLACE upgrades: the one that writes its sink."""
        writers = [qid for qid, q in self.state.queries.items() if q.sink_name == stmt.name]
        if len(writers) > 1:
            raise KsqlStatementError(
                f"REPLACE for sink {stmt.name} is not supported because there are multiple "
                f"queries writing into it: [{', '.join(sorted(writers))}]"
            )
        return writers[0] if writers else None

    def _start(
        self, plan_query_id: str, analysis: Any, sink: Source, text: str, *, upgrade: bool = False
    ) -> RunningQuery:
        plan = build_plan(plan_query_id, analysis, sink)
        running = build_query(plan, self.state.registry, self.state.properties, text)
        self.state.queries[running.query_id] = running
        if not upgrade:
            # A new run of the id (after a TERMINATE): the Kafka layer must not carry the old
            # run's position over, as an upgrade in place does.
            self.state.last_generation += 1
            self.state.generations[running.query_id] = self.state.last_generation
        self.state.broker.create_topic(running.sink_topic, sink.partitions)
        for topic in running.source_topics:
            self.state.broker.subscribe(topic, running.process)
        return running

    def create_as_select(self, stmt: t.CreateAsSelect, text: str) -> StatementOutcome:
        if stmt.query.limit is not None:
            raise KsqlStatementError(
                f"CREATE {stmt.kind} AS SELECT statements don't support LIMIT clause."
            )
        if not self.sources.check_new_source(
            stmt.kind, stmt.name, stmt.or_replace, stmt.if_not_exists
        ):
            return StatementOutcome(stmt, text, f"{stmt.kind.title()} already exists.")
        analysis = analyze_query(
            stmt.query,
            self.state.catalog,
            self.state.compiler,
            stmt.name,
            stmt.kind,
            allow_missing_keys=self.state.new_planner(),
        )
        _reject_windowed_tables(analysis)
        check_partition_by_null_key_format(stmt.query, stmt.props)
        columns = list(analysis.columns)
        sink = self.sources.source_from_props(
            stmt.kind, stmt.name, columns, dict(stmt.props), text, inherit=analysis.source
        )
        if analysis.aggregate is not None and analysis.aggregate.window is not None:
            sink.window_type = analysis.aggregate.window.kind
            size = analysis.aggregate.window.size
            sink.window_size_ms = size.ms if size is not None else None
        elif analysis.aggregate is None and analysis.source.window_type:
            # Without an aggregation the rows keep their source's windowed keys (a join's, its
            # left source's), so the sink is windowed the same way.
            sink.window_type = analysis.source.window_type
            sink.window_size_ms = analysis.source.window_size_ms
        if analysis.aggregate is not None and stmt.kind == "STREAM":
            raise KsqlStatementError(
                "Invalid result type. Your SELECT query produces a TABLE. Please use CREATE "
                "TABLE AS SELECT statement instead."
            )
        self.sources.validate_formats(sink)
        prefix = "CSAS" if stmt.kind == "STREAM" else "CTAS"
        replaced = self._replaced_query(stmt) if stmt.or_replace else None
        if replaced is not None:
            _check_upgrade(analysis)
            # An upgrade keeps the query's id, so it goes on from the old one's committed
            # offsets (its consumer group is the id's), as ksqlDB upgrades in place.
            self.state.stop_query(replaced)
            query_id = replaced
        else:
            query_id = self._query_id(stmt.props, prefix, stmt.name)
        self.state.catalog.sources[stmt.name] = sink
        self.state.catalog.ensure_topic(sink.topic, sink.partitions)
        try:
            self._start(query_id, analysis, sink, text, upgrade=replaced is not None)
        except KsqlError:
            del self.state.catalog.sources[stmt.name]
            raise
        return StatementOutcome(stmt, text, f"Created query with ID {query_id}", query_id)

    def insert_into(self, stmt: t.InsertInto, text: str) -> StatementOutcome:
        target = self.state.catalog.source(stmt.target)
        if target is None:
            raise KsqlStatementError(
                f"Line: {stmt.pos.line}, Col: {stmt.pos.col}: Source `{stmt.target}` does not "
                "exist."
            )
        if target.kind == "TABLE":
            raise KsqlStatementError(
                f"INSERT INTO can only be used to insert into a stream. {target.name} is a table."
            )
        if target.is_source:
            raise KsqlStatementError(
                f"Cannot insert into read-only {target.kind.lower()}: {target.name}"
            )
        analysis = analyze_query(
            stmt.query,
            self.state.catalog,
            self.state.compiler,
            target.name,
            allow_missing_keys=self.state.new_planner(),
        )
        _reject_windowed_tables(analysis)
        result_schema = _schema_text(analysis.columns, "STREAM")
        # A sink's header columns are part of its schema, and no query result has any.
        sink_schema = _schema_text(target.columns, "STREAM")
        if [(c.name, c.type, c.namespace) for c in analysis.columns] != [
            (c.name, c.type, c.namespace) for c in target.columns
        ]:
            raise KsqlStatementError(
                "Incompatible schema between results and sink.\n"
                f"Result schema is {result_schema}\nSink schema is {sink_schema}"
            )
        query_id = self._query_id(stmt.props, "INSERTQUERY", None)
        self._start(query_id, analysis, target, text)
        return StatementOutcome(stmt, text, f"Created query with ID {query_id}", query_id)

    def insert_values(self, stmt: t.InsertValues, text: str) -> StatementOutcome:
        target = self.state.catalog.source(stmt.target)
        if target is None:
            hint = ""
            if stmt.quoted and self.state.catalog.source(stmt.target.upper()) is not None:
                hint = (
                    f"\nDid you mean {stmt.target.upper()}? Hint: try removing double quotes "
                    "from the source name."
                )
            raise KsqlStatementError(
                f"Cannot insert values into an unknown stream/table: `{stmt.target}`{hint}"
            )
        if target.window_type:
            # A windowed key needs its window, which a VALUES list cannot give.
            raise KsqlStatementError("Cannot insert values into windowed stream/table!")
        if target.is_source:
            raise KsqlStatementError(
                f"Cannot insert values into read-only {target.kind.lower()}: {target.name}"
            )
        # Header columns are read from records, never written: naming none means naming all.
        headers = (
            [c.name for c in target.header_columns]
            if not stmt.columns
            else [
                n
                for n in stmt.columns
                if (c := target.column(n)) is not None and c in target.header_columns
            ]
        )
        if headers:
            raise KsqlStatementError(f"Cannot insert into HEADER columns: {', '.join(headers)}")
        names = list(stmt.columns) or [
            c.name
            for ns in ("KEY", "VALUE", "HEADER")
            for c in target.columns
            if c.namespace.startswith(ns)
        ]
        for n in names:
            if n in ("ROWPARTITION", "ROWOFFSET", "WINDOWSTART", "WINDOWEND"):
                raise KsqlStatementError(f"Inserting into column `{n}` is not allowed.")
        headers = [
            n
            for n in names
            if (c := target.column(n)) is not None
            and c.namespace != "KEY"
            and c.namespace != "VALUE"
        ]
        if headers:
            raise KsqlStatementError(f"Cannot insert into HEADER columns: {', '.join(headers)}")
        if len(names) != len(stmt.values):
            if stmt.columns:
                raise KsqlStatementError(
                    "Failed to prepare statement: Expected number columns and values to match: "
                    f"{len(names)}, {len(stmt.values)}"
                )
            raise KsqlStatementError(
                f"Expected a value for each column. Expected Columns: {names}. "
                f"Got {[format_expr(v) for v in stmt.values]}"
            )
        for expr in stmt.values:
            _check_qualifiers(expr, target.name)
        compiler = self.state.compiler
        scope = Scope([])
        values: dict[str, Any] = {}
        for name, expr in zip(names, stmt.values, strict=True):
            col = target.column(name)
            compiled = compiler.compile(expr, scope)
            value = compiled.fn(())
            if name == "ROWTIME":
                values[name] = value
                continue
            if col is None:
                raise KsqlStatementError(f"Column name {name} does not exist.")
            if value is not None and compiled.type is not None and compiled.type != col.type:
                from ksql_emulator import casts

                value = casts.cast_function(compiled.type, col.type)(value)
            values[name] = value
        key = [values.get(c.name) for c in target.key_columns]
        value_row = [values.get(c.name) for c in target.value_columns]
        timestamp = values.get("ROWTIME")
        msg = Message(
            target.topic,
            key_serde(target).serialize(key) if key else None,
            value_serde(target).serialize(value_row),
            int(timestamp) if timestamp is not None else 0,
        )
        self.state.broker.produce(msg)
        return StatementOutcome(stmt, text, "")

    def terminate(self, stmt: t.Terminate, text: str) -> StatementOutcome:
        if stmt.query_id is None:
            for qid in list(self.state.queries):
                self.state.stop_query(qid)
            return StatementOutcome(stmt, text, "All queries terminated.")
        if stmt.query_id not in self.state.queries:
            raise KsqlStatementError(f"Unknown queryId: {stmt.query_id}")
        self.state.stop_query(stmt.query_id)
        return StatementOutcome(stmt, text, "Query terminated.")

    def pause(self, stmt: t.PauseQuery, text: str) -> StatementOutcome:
        for qid in self._targets(stmt.query_id):
            self.state.pause_query(qid)
        return StatementOutcome(stmt, text, "Query paused.")

    def resume(self, stmt: t.ResumeQuery, text: str) -> StatementOutcome:
        for qid in self._targets(stmt.query_id):
            self.state.resume_query(qid)
        return StatementOutcome(stmt, text, "Query resumed.")

    def _targets(self, query_id: str | None) -> list[str]:
        """The persistent queries PAUSE/RESUME acts on: one by id, or all (None)."""
        if query_id is None:
            return list(self.state.queries)
        if query_id not in self.state.queries:
            raise KsqlStatementError(f"Unknown queryId: {query_id}")
        return [query_id]


def _check_upgrade(analysis: Any) -> None:
    """ksqlDB upgrades only stateless queries in place: a new aggregate or join would start
    from state the old query never kept."""
    step = None
    if analysis.join is not None:
        step = "StreamTableJoin" if analysis.source.kind == "STREAM" else "TableTableJoin"
    elif analysis.aggregate is not None:
        if analysis.source.kind == "TABLE":
            step = "TableAggregate"
        elif analysis.aggregate.window is not None:
            step = "StreamWindowedAggregate"
        else:
            step = "StreamAggregate"
    if step is not None:
        raise KsqlStatementError(f"Upgrades not yet supported for {step}")


def _schema_text(columns: list[Column], kind: str) -> str:
    parts = []
    for c in columns:
        suffix = ""
        if c.namespace == "KEY":
            suffix = " PRIMARY KEY" if kind == "TABLE" else " KEY"
        elif c.namespace == "HEADER":
            suffix = f" HEADER('{c.header_key}')"
        elif c.namespace == "HEADERS":
            suffix = " HEADERS"
        parts.append(f"`{c.name}` {c.type}{suffix}")
    return ", ".join(parts)


def _reject_windowed_tables(analysis: Any) -> None:
    """ksqlDB's PushQueryValidator: a persistent query may not read a windowed TABLE."""
    join = analysis.join
    sources = [leaf.source for leaf in join.leaves()] if join is not None else [analysis.source]
    if any(s.kind == "TABLE" and s.window_type for s in sources):
        raise KsqlStatementError("KSQL does not support persistent queries on windowed tables.")


def _check_qualifiers(expr: t.Expr, target: str) -> None:
    """ksqlDB prepares INSERT VALUES against its target alone, so a column qualified by any
    other name fails there (before the values are evaluated)."""
    for ref in expr.find_all(t.ColumnRef):
        if ref.source and ref.source != target:
            raise KsqlStatementError(
                f"Failed to prepare statement: '{ref.source}' is not a valid stream/table name "
                "or alias."
            )
