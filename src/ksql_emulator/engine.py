"""Statements -> catalog changes and running queries; one handler per statement kind."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ksql_emulator import types as ty
from ksql_emulator.analysis.format import format_expr
from ksql_emulator.analysis.query import analyze_query
from ksql_emulator.analysis.scope import Scope
from ksql_emulator.analysis.typing import resolve_type_spec
from ksql_emulator.catalog import Catalog, Column, Source
from ksql_emulator.errors import KsqlError, KsqlStatementError, PrepareError
from ksql_emulator.expressions import ExpressionCompiler
from ksql_emulator.parser import tree as t
from ksql_emulator.parser.grammar import parse_iter
from ksql_emulator.parser.keywords import TIME_UNITS
from ksql_emulator.plan.builder import build_plan
from ksql_emulator.runtime.broker import InMemoryBroker
from ksql_emulator.runtime.formats import key_serde, value_serde
from ksql_emulator.runtime.message import Message
from ksql_emulator.runtime.topology import RunningQuery, build_query

__all__ = ["Engine", "StatementResult", "create_engine"]

KNOWN_FORMATS = frozenset(
    {"JSON", "KAFKA", "DELIMITED", "NONE", "AVRO", "PROTOBUF", "PROTOBUF_NOSR", "JSON_SR"}
)
_DURATION = re.compile(r"^\s*(\d+)\s*([A-Za-z]+)\s*$")


@dataclass
class StatementResult:
    """What one statement did: a message, and the query it started if any."""

    statement: t.Statement
    text: str
    message: str = ""
    query_id: str | None = None
    data: Any = None


@dataclass
class Engine:
    """Executes statements against a catalog, running persistent queries over a broker."""

    registry: Any = None
    properties: dict[str, str] = field(default_factory=dict)
    catalog: Catalog = field(default_factory=Catalog)
    broker: InMemoryBroker = field(default_factory=InMemoryBroker)
    queries: dict[str, RunningQuery] = field(default_factory=dict)
    variables: dict[str, str] = field(default_factory=dict)
    _query_counter: int = 0

    def __post_init__(self) -> None:
        if self.registry is None:
            from ksql_emulator.functions import default_registry

            self.registry = default_registry()
        self._handlers: dict[type, Callable[[Any, str], StatementResult]] = {
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

    @property
    def compiler(self) -> ExpressionCompiler:
        return ExpressionCompiler(self.registry, self.catalog.types)

    def execute(self, sql: str) -> list[StatementResult]:
        """Parse and run every statement of `sql` in order; the first failure raises."""
        results = []
        for parsed in parse_iter(sql, self.variables):
            results.append(self.execute_statement(parsed.statement, parsed.text))
        return results

    def execute_statement(self, stmt: t.Statement, text: str) -> StatementResult:
        handler = self._handlers.get(type(stmt))
        if handler is None:
            raise KsqlStatementError(f"Statement not supported by this emulator: {text}")
        return handler(stmt, text)

    # --- DDL ---------------------------------------------------------------------------------

    def _new_planner(self) -> bool:
        return str(self._prop("ksql.new.query.planner.enabled", "false")).lower() == "true"

    def _prop(self, name: str, default: str | None = None) -> str | None:
        return self.properties.get(name, default)

    def _check_new_source(
        self, kind: str, name: str, or_replace: bool, if_not_exists: bool
    ) -> bool:
        existing = self.catalog.source(name)
        if existing is None:
            return True
        if if_not_exists:
            return False
        if or_replace:
            if existing.is_source:
                raise KsqlStatementError(
                    f"Cannot add {kind.lower()} '{name}': CREATE OR REPLACE is not supported on "
                    f"source {existing.kind.lower()}s."
                )
            return True
        raise KsqlStatementError(
            f"Cannot add {kind.lower()} '{name}': A {existing.kind.lower()} with the same name "
            "already exists"
        )

    def _create_source(self, stmt: t.CreateSource, text: str) -> StatementResult:
        if not self._check_new_source(stmt.kind, stmt.name, stmt.or_replace, stmt.if_not_exists):
            return StatementResult(stmt, text, f"{stmt.kind.title()} already exists.")
        existing = self.catalog.source(stmt.name)
        if existing is not None and stmt.is_source is False and stmt.or_replace is False:
            pass
        if stmt.or_replace and stmt.is_source:
            raise KsqlStatementError(
                f"Cannot add {stmt.kind.lower()} '{stmt.name}': CREATE OR REPLACE is not "
                f"supported on source {stmt.kind.lower()}s."
            )
        props = dict(stmt.props)
        columns: list[Column] = []
        seen: set[str] = set()
        for cd in stmt.columns:
            if cd.name in seen:
                raise KsqlStatementError(f"Duplicate column names: {cd.name}")
            seen.add(cd.name)
            if cd.name in ("ROWTIME", "ROWPARTITION", "ROWOFFSET", "WINDOWSTART", "WINDOWEND"):
                raise KsqlStatementError(
                    f"'{cd.name}' is a reserved column name. You cannot use it as a name for a "
                    "column."
                )
            typ = resolve_type_spec(cd.type, self.catalog.types)
            if cd.constraint == "KEY" and stmt.kind == "TABLE":
                raise PrepareError(
                    f"Column `{cd.name}` is a 'KEY' column: please use 'PRIMARY KEY' for tables.\n"
                    "Tables have PRIMARY KEYs, which are unique and NON NULL.\n"
                    "Streams have KEYs, which have no uniqueness or NULL constraints."
                )
            if cd.constraint == "PRIMARY KEY" and stmt.kind == "STREAM":
                raise PrepareError(
                    f"Column `{cd.name}` is a 'PRIMARY KEY' column: please use 'KEY' for streams.\n"
                    "Tables have PRIMARY KEYs, which are unique and NON NULL.\n"
                    "Streams have KEYs, which have no uniqueness or NULL constraints."
                )
            namespace = {"KEY": "KEY", "PRIMARY KEY": "KEY", "HEADERS": "HEADERS"}.get(
                cd.constraint or "", "HEADER" if cd.constraint == "HEADER" else "VALUE"
            )
            if cd.constraint == "HEADER" and typ != ty.BYTES:
                raise KsqlStatementError(
                    f"Invalid type for HEADER('{cd.header_key}') column: expected BYTES, got {typ}"
                )
            columns.append(Column(cd.name, typ, namespace, cd.header_key))
        if stmt.kind == "TABLE" and not any(c.namespace == "KEY" for c in columns) and columns:
            raise KsqlStatementError(
                "Tables require a PRIMARY KEY. Please define the PRIMARY KEY.\n"
                "Use a partial schema to define the primary key and still let the value columns "
                "be inferred from the Schema Registry, eg. CREATE TABLE t (ID INT PRIMARY KEY) "
                "WITH (...);"
            )
        source = self._source_from_props(stmt.kind, stmt.name, columns, props, text)
        source.is_source = stmt.is_source
        self._validate_formats(source)
        if not columns:
            raise KsqlError("No columns supplied.")
        if source.window_type and not source.key_columns:
            raise KsqlStatementError("Windowed sources require a key column.")
        self.catalog.sources[stmt.name] = source
        self.catalog.ensure_topic(source.topic, source.partitions)
        self.broker.create_topic(source.topic, source.partitions)
        return StatementResult(stmt, text, f"{stmt.kind.title()} created")

    def _source_from_props(
        self,
        kind: str,
        name: str,
        columns: list[Column],
        props: dict[str, Any],
        text: str,
        inherit: Source | None = None,
    ) -> Source:
        topic = props.get("KAFKA_TOPIC")
        if topic is None:
            if inherit is None:
                raise KsqlStatementError(
                    'Missing required property "KAFKA_TOPIC" which has no default value.'
                )
            topic = str(self._prop("ksql.output.topic.name.prefix", "")) + name
        fmt = props.get("FORMAT")
        if fmt is not None and ("KEY_FORMAT" in props or "VALUE_FORMAT" in props):
            raise KsqlStatementError(
                "Cannot supply both 'KEY_FORMAT' and 'FORMAT' properties, as 'FORMAT' sets both "
                "key and value formats. Either use just 'FORMAT', or use 'KEY_FORMAT' and "
                "'VALUE_FORMAT'."
            )
        key_format = props.get("KEY_FORMAT") or fmt
        value_format = props.get("VALUE_FORMAT") or fmt
        if key_format is None:
            key_format = (
                inherit.key_format
                if inherit is not None
                else self._prop("ksql.persistence.default.format.key", "KAFKA")
            )
        if value_format is None:
            value_format = (
                inherit.value_format
                if inherit is not None
                else self._prop("ksql.persistence.default.format.value")
            )
            if value_format is None:
                raise KsqlStatementError(
                    "Statement is missing the 'VALUE_FORMAT' property from the WITH clause. "
                    "Either provide one or set a default via the "
                    "'ksql.persistence.default.format.value' config."
                )
        key_format = str(key_format).upper()
        value_format = str(value_format).upper()
        for f in (key_format, value_format):
            if f not in KNOWN_FORMATS:
                raise KsqlStatementError(f"Unknown format: {f}")
        if not any(c.namespace == "KEY" for c in columns) and inherit is not None:
            key_format = "NONE" if key_format != "NONE" else key_format
        elif key_format == "NONE" and inherit is not None and "KEY_FORMAT" not in props:
            # A sink that gains a key (PARTITION BY, GROUP BY, JOIN) cannot keep NONE.
            key_format = str(self._prop("ksql.persistence.default.format.key", "KAFKA")).upper()
        key_props: dict[str, str] = {}
        value_props: dict[str, str] = {}
        if "VALUE_DELIMITER" in props:
            value_props["VALUE_DELIMITER"] = str(props["VALUE_DELIMITER"])
        if "KEY_DELIMITER" in props:
            key_props["KEY_DELIMITER"] = str(props["KEY_DELIMITER"])
        if inherit is not None:
            # A sink in the same format keeps its source's delimiters unless WITH sets them.
            if not value_props and value_format == inherit.value_format:
                value_props = dict(inherit.value_props)
            if not key_props and key_format == inherit.key_format:
                key_props = dict(inherit.key_props)
        wrap = props.get("WRAP_SINGLE_VALUE")
        if wrap is None and self._prop("ksql.persistence.wrap.single.values") is not None:
            wrap = str(self._prop("ksql.persistence.wrap.single.values")).lower() == "true"
        if isinstance(wrap, str):
            wrap = wrap.lower() == "true"
        partitions = props.get("PARTITIONS")
        if partitions is None:
            existing = self.catalog.topics.get(str(topic))
            if existing is not None:
                partitions = existing.partitions
            elif inherit is not None:
                src_topic = self.catalog.topics.get(inherit.topic)
                partitions = src_topic.partitions if src_topic else 1
            else:
                partitions = 1
        ts_col = props.get("TIMESTAMP")
        if ts_col is not None:
            ts_col = str(ts_col).upper() if not str(ts_col).startswith("`") else str(ts_col)[1:-1]
            col = next((c for c in columns if c.name == ts_col), None)
            if col is None:
                raise KsqlStatementError(
                    "The TIMESTAMP column set in the WITH clause does not exist in the schema: "
                    f"'{ts_col}'"
                )
            if col.type not in (ty.BIGINT, ty.TIMESTAMP, ty.STRING):
                raise KsqlStatementError(
                    f"Timestamp column, `{ts_col}`, should be LONG(INT64), TIMESTAMP, or a String "
                    "with a timestamp_format specified."
                )
        window_type = props.get("WINDOW_TYPE")
        window_size = props.get("WINDOW_SIZE")
        window_size_ms = None
        if window_size is not None:
            if str(window_type or "").upper() == "SESSION":
                raise PrepareError("'WINDOW_SIZE' should not be set for SESSION windows.")
            m = _DURATION.match(str(window_size))
            unit = m.group(2).upper() if m else ""
            if m is None or unit not in TIME_UNITS:
                shown = m.group(2).upper() if m else str(window_size)
                raise PrepareError(
                    f"Configuration WINDOW_SIZE is invalid: Invalid duration: '{window_size}'. "
                    f"Unknown time unit: '{shown}'"
                )
            window_size_ms = t.Duration(int(m.group(1)), unit).ms
        return Source(
            kind=kind,
            name=name,
            columns=columns,
            topic=str(topic),
            key_format=key_format,
            value_format=value_format,
            key_props=key_props,
            value_props=value_props,
            wrap_single_value=wrap if isinstance(wrap, bool) else None,
            wrap_single_value_in_with="WRAP_SINGLE_VALUE" in props,
            timestamp_column=ts_col,
            timestamp_format=props.get("TIMESTAMP_FORMAT"),
            window_type=str(window_type).upper() if window_type else None,
            window_size_ms=window_size_ms,
            sql=text,
            partitions=int(partitions),
        )

    def _validate_formats(self, source: Source) -> None:
        for c in source.key_columns:
            if _contains_map(c.type):
                raise KsqlStatementError(
                    "Map keys, including types that contain maps, are not supported as they may "
                    "lead to unexpected behavior due to inconsistent serialization. Key column "
                    f"name: `{c.name}`. Column type: {c.type}. See "
                    "https://github.com/confluentinc/ksql/issues/6621 for more."
                )
        for fmt, cols in (
            (source.key_format, source.key_columns),
            (source.value_format, source.value_columns),
        ):
            if fmt == "JSON" and any(_non_string_map_key(c.type) for c in cols):
                raise KsqlStatementError("JSON only supports MAP types with STRING keys")
        from ksql_emulator import serde

        check = getattr(serde, "check_schema", None)
        try:
            if check is not None:
                key_schema = [(c.name, c.type) for c in source.key_columns]
                value_schema = [(c.name, c.type) for c in source.value_columns]
                try:
                    check(source.key_format, key_schema, is_key=True)
                except KsqlError as err:
                    columns = ", ".join(f"`{c.name}` {c.type} KEY" for c in source.key_columns)
                    raise KsqlError(
                        f"Key format does not support schema.\nformat: {source.key_format}\n"
                        f"schema: Persistence{{columns=[{columns}], features=[]}}\n"
                        f"reason: {err.message}"
                    ) from err
                check(
                    source.value_format,
                    value_schema,
                    is_key=False,
                    wrap_single=source.wrap_single_value
                    if source.wrap_single_value_in_with
                    else None,
                )
            key_serde(source)
            value_serde(source)
        except KsqlError as err:
            raise KsqlStatementError(err.message) from err

    def _next_query_id(self, prefix: str, name: str | None) -> str:
        n = self._query_counter
        self._query_counter += 1
        return f"{prefix}_{name}_{n}" if name else f"{prefix}_{n}"

    def _start(self, plan_query_id: str, analysis: Any, sink: Source, text: str) -> RunningQuery:
        plan = build_plan(plan_query_id, analysis, sink)
        running = build_query(plan, self.registry, self.properties, text)
        self.queries[running.query_id] = running
        self.broker.create_topic(running.sink_topic, sink.partitions)
        for topic in running.source_topics:
            self.broker.subscribe(topic, running.process)
        return running

    def _create_as_select(self, stmt: t.CreateAsSelect, text: str) -> StatementResult:
        if stmt.query.limit is not None:
            raise KsqlStatementError(
                f"CREATE {stmt.kind} AS SELECT statements don't support LIMIT clause."
            )
        if not self._check_new_source(stmt.kind, stmt.name, stmt.or_replace, stmt.if_not_exists):
            return StatementResult(stmt, text, f"{stmt.kind.title()} already exists.")
        analysis = analyze_query(
            stmt.query,
            self.catalog,
            self.compiler,
            stmt.name,
            stmt.kind,
            allow_missing_keys=self._new_planner(),
        )
        columns = list(analysis.columns)
        sink = self._source_from_props(
            stmt.kind, stmt.name, columns, dict(stmt.props), text, inherit=analysis.source
        )
        if analysis.aggregate is not None and analysis.aggregate.window is not None:
            sink.window_type = analysis.aggregate.window.kind
            size = analysis.aggregate.window.size
            sink.window_size_ms = size.ms if size is not None else None
        if analysis.aggregate is not None and stmt.kind == "STREAM":
            raise KsqlStatementError(
                "Invalid result type. Your SELECT query produces a TABLE. Please use CREATE "
                "TABLE AS SELECT statement instead."
            )
        self._validate_formats(sink)
        if stmt.or_replace and stmt.name in self.catalog.sources:
            for qid, q in list(self.queries.items()):
                if q.sink_name == stmt.name and qid.startswith("C"):
                    self._stop(qid)
        prefix = "CSAS" if stmt.kind == "STREAM" else "CTAS"
        query_id = self._next_query_id(prefix, stmt.name)
        self.catalog.sources[stmt.name] = sink
        self.catalog.ensure_topic(sink.topic, sink.partitions)
        try:
            self._start(query_id, analysis, sink, text)
        except KsqlError:
            del self.catalog.sources[stmt.name]
            raise
        return StatementResult(stmt, text, f"Created query with ID {query_id}", query_id)

    def _insert_into(self, stmt: t.InsertInto, text: str) -> StatementResult:
        target = self.catalog.source(stmt.target)
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
            self.catalog,
            self.compiler,
            target.name,
            allow_missing_keys=self._new_planner(),
        )
        result_schema = _schema_text(analysis.columns, "STREAM")
        sink_schema = _schema_text(
            [c for c in target.columns if c.namespace in ("KEY", "VALUE")], "STREAM"
        )
        if [(c.name, c.type, c.namespace) for c in analysis.columns] != [
            (c.name, c.type, c.namespace) for c in target.columns if c.namespace in ("KEY", "VALUE")
        ]:
            raise KsqlStatementError(
                "Incompatible schema between results and sink.\n"
                f"Result schema is {result_schema}\nSink schema is {sink_schema}"
            )
        query_id = self._next_query_id("INSERTQUERY", None)
        self._start(query_id, analysis, target, text)
        return StatementResult(stmt, text, f"Created query with ID {query_id}", query_id)

    def _insert_values(self, stmt: t.InsertValues, text: str) -> StatementResult:
        target = self.catalog.source(stmt.target)
        if target is None:
            hint = ""
            if stmt.quoted and self.catalog.source(stmt.target.upper()) is not None:
                hint = (
                    f"\nDid you mean {stmt.target.upper()}? Hint: try removing double quotes "
                    "from the source name."
                )
            raise KsqlStatementError(
                f"Cannot insert values into an unknown stream/table: `{stmt.target}`{hint}"
            )
        if target.is_source:
            raise KsqlStatementError(
                f"Cannot insert values into read-only {target.kind.lower()}: {target.name}"
            )
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
        compiler = self.compiler
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
        self.broker.produce(msg)
        return StatementResult(stmt, text, "")

    def _drop(self, stmt: t.Drop, text: str) -> StatementResult:
        if stmt.kind == "TYPE":
            if stmt.name not in self.catalog.types and not stmt.if_exists:
                raise KsqlStatementError(f"Type {stmt.name} does not exist.")
            self.catalog.types.pop(stmt.name, None)
            return StatementResult(stmt, text, "Dropped type")
        source = self.catalog.source(stmt.name)
        if source is None:
            if stmt.if_exists:
                return StatementResult(stmt, text, "Source does not exist.")
            raise KsqlStatementError(f"{stmt.kind.title()} {stmt.name} does not exist.")
        if source.kind != stmt.kind:
            raise KsqlStatementError(
                f"Incompatible data source type is {source.kind}, but statement was DROP "
                f"{stmt.kind}"
            )
        if stmt.delete_topic and source.is_source:
            raise KsqlStatementError(f"Cannot delete topic for read-only source: {source.name}")
        readers = [
            q.sink_name
            for q in self.queries.values()
            if source.topic in q.source_topics and q.sink_name != source.name
        ]
        readers = [r for r in readers if self._reads_source(r, source.name)]
        if readers:
            raise KsqlStatementError(
                f"Cannot drop {source.name}.\nThe following streams and/or tables read from this "
                f"source: [{', '.join(sorted(set(readers)))}].\nYou need to drop them before "
                f"dropping {source.name}."
            )
        for qid, q in list(self.queries.items()):
            if q.sink_name == source.name:
                self._stop(qid)
        del self.catalog.sources[source.name]
        if stmt.delete_topic:
            self.catalog.topics.pop(source.topic, None)
        return StatementResult(stmt, text, f"Source `{source.name}` was dropped.")

    def _reads_source(self, sink_name: str, source_name: str) -> bool:
        for q in self.queries.values():
            if q.sink_name == sink_name and source_name in q.sql.upper():
                return True
        return False

    def _alter(self, stmt: t.AlterSource, text: str) -> StatementResult:
        source = self.catalog.source(stmt.name)
        if source is None:
            raise KsqlStatementError(f"Source {stmt.name} does not exist.")
        if source.is_source:
            raise KsqlStatementError(
                f"Cannot alter {source.kind.lower()} '{source.name}': ALTER operations are not "
                f"supported on source {source.kind.lower()}s."
            )
        for cd in stmt.columns:
            if source.column(cd.name) is not None:
                raise KsqlStatementError(
                    f"Cannot add column `{cd.name}` to schema. A column with the same name "
                    "already exists."
                )
            source.columns.append(Column(cd.name, resolve_type_spec(cd.type, self.catalog.types)))
        return StatementResult(stmt, text, "Stream altered")

    def _stop(self, query_id: str) -> None:
        q = self.queries.pop(query_id)
        self.broker.unsubscribe(q.process)

    def _terminate(self, stmt: t.Terminate, text: str) -> StatementResult:
        if stmt.query_id is None:
            for qid in list(self.queries):
                self._stop(qid)
            return StatementResult(stmt, text, "All queries terminated.")
        if stmt.query_id not in self.queries:
            raise KsqlStatementError(f"Unknown queryId: {stmt.query_id}")
        self._stop(stmt.query_id)
        return StatementResult(stmt, text, "Query terminated.")

    def _set(self, stmt: t.SetProperty, text: str) -> StatementResult:
        self.properties[stmt.name] = stmt.value
        return StatementResult(stmt, text, "")

    def _unset(self, stmt: t.UnsetProperty, text: str) -> StatementResult:
        self.properties.pop(stmt.name, None)
        return StatementResult(stmt, text, "")

    def _define(self, stmt: t.DefineVariable, text: str) -> StatementResult:
        self.variables[stmt.name] = stmt.value
        return StatementResult(stmt, text, "")

    def _undefine(self, stmt: t.UndefineVariable, text: str) -> StatementResult:
        self.variables.pop(stmt.name, None)
        return StatementResult(stmt, text, "")

    def _create_type(self, stmt: t.CreateType, text: str) -> StatementResult:
        if stmt.name in self.catalog.types and not stmt.if_not_exists:
            raise KsqlStatementError(
                f"Cannot register custom type '{stmt.name}' since it is already registered "
                f"with type: {self.catalog.types[stmt.name]}"
            )
        self.catalog.types[stmt.name] = resolve_type_spec(stmt.type, self.catalog.types)
        return StatementResult(stmt, text, "Registered custom type")

    def _show(self, stmt: t.Show, text: str) -> StatementResult:
        what = stmt.what
        data: Any
        if what in ("STREAMS", "TABLES"):
            kind = what[:-1]
            data = [s for s in self.catalog.sources.values() if s.kind == kind]
        elif what == "TOPICS":
            data = list(self.catalog.topics.values())
        elif what == "QUERIES":
            data = list(self.queries.values())
        elif what == "PROPERTIES":
            data = dict(self.properties)
        elif what == "VARIABLES":
            data = dict(self.variables)
        elif what == "TYPES":
            data = dict(self.catalog.types)
        else:
            data = []
        return StatementResult(stmt, text, "", data=data)

    def _describe(self, stmt: t.Describe, text: str) -> StatementResult:
        if stmt.name is None or stmt.function:
            return StatementResult(stmt, text, "", data=stmt.name)
        source = self.catalog.source(stmt.name)
        if source is None:
            raise KsqlStatementError(f"Could not find STREAM/TABLE '{stmt.name}' in the Metastore")
        return StatementResult(stmt, text, "", data=source)


def _non_string_map_key(typ: Any) -> bool:
    if isinstance(typ, ty.MapType):
        return typ.key != ty.STRING or _non_string_map_key(typ.value)
    if isinstance(typ, ty.ArrayType):
        return _non_string_map_key(typ.item)
    if isinstance(typ, ty.StructType):
        return any(_non_string_map_key(f) for _, f in typ.fields)
    return False


def _contains_map(typ: Any) -> bool:
    if isinstance(typ, ty.MapType):
        return True
    if isinstance(typ, ty.ArrayType):
        return _contains_map(typ.item)
    if isinstance(typ, ty.StructType):
        return any(_contains_map(f) for _, f in typ.fields)
    return False


def _schema_text(columns: list[Column], kind: str) -> str:
    parts = []
    for c in columns:
        suffix = ""
        if c.namespace == "KEY":
            suffix = " PRIMARY KEY" if kind == "TABLE" else " KEY"
        parts.append(f"`{c.name}` {c.type}{suffix}")
    return ", ".join(parts)


def create_engine(gateway: Any, properties: Mapping[str, str]) -> Any:
    """The engine behind the REST server (see server/engine_api.py), reaching Kafka via
    `gateway`."""
    from ksql_emulator.service import create_engine as create

    return create(gateway, properties)
