"""DDL handlers: CREATE STREAM/TABLE, ALTER, CREATE TYPE and DROP against the catalog."""

from __future__ import annotations

from ksql_emulator import sql_types as ty
from ksql_emulator.catalog import Column
from ksql_emulator.engine.base import EngineState, StatementOutcome
from ksql_emulator.engine.sources import SourceBuilder
from ksql_emulator.errors import KsqlError, KsqlStatementError, PrepareError
from ksql_emulator.parser import tree as t
from ksql_emulator.semantics.type_rules import resolve_type_spec

__all__ = ["DdlStatements"]

_HEADERS_TYPE = "ARRAY<STRUCT<`KEY` STRING, `VALUE` BYTES>>"


class DdlStatements:
    """Statements that define, change or remove streams, tables and types."""

    def __init__(self, state: EngineState, sources: SourceBuilder) -> None:
        self.state = state
        self.sources = sources

    def create_source(self, stmt: t.CreateSource, text: str) -> StatementOutcome:
        if not self.sources.check_new_source(
            stmt.kind, stmt.name, stmt.or_replace, stmt.if_not_exists
        ):
            return StatementOutcome(stmt, text, f"{stmt.kind.title()} already exists.")
        existing = self.state.catalog.source(stmt.name)
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
            typ = resolve_type_spec(cd.type, self.state.catalog.types)
            key_word = "PRIMARY KEY" if stmt.kind == "TABLE" else "KEY"
            if cd.constraint in ("KEY", "PRIMARY KEY") and cd.constraint != key_word:
                raise PrepareError(
                    f"Column `{cd.name}` is a '{cd.constraint}' column: please use "
                    f"'{key_word}' for {stmt.kind.lower()}s.\n"
                    "Tables have PRIMARY KEYs, which are unique and NON NULL.\n"
                    "Streams have KEYs, which have no uniqueness or NULL constraints."
                ).locate(cd.pos.line, cd.pos.col)
            namespace = {"KEY": "KEY", "PRIMARY KEY": "KEY", "HEADERS": "HEADERS"}.get(
                cd.constraint or "", "HEADER" if cd.constraint == "HEADER" else "VALUE"
            )
            if cd.constraint == "HEADER" and typ != ty.BYTES:
                raise KsqlStatementError(
                    f"Invalid type for HEADER('{cd.header_key}') column: expected BYTES, got {typ}"
                )
            if cd.constraint == "HEADERS" and str(typ) != _HEADERS_TYPE:
                # HEADERS holds every header of the record as key/value pairs.
                raise KsqlStatementError(
                    f"Invalid type for HEADERS column: expected {_HEADERS_TYPE}, got {typ}"
                )
            columns.append(Column(cd.name, typ, namespace, cd.header_key))
        if stmt.kind == "TABLE" and not any(c.namespace == "KEY" for c in columns) and columns:
            raise KsqlStatementError(
                "Tables require a PRIMARY KEY. Please define the PRIMARY KEY.\n"
                "Use a partial schema to define the primary key and still let the value columns "
                "be inferred from the Schema Registry, eg. CREATE TABLE t (ID INT PRIMARY KEY) "
                "WITH (...);"
            )
        source = self.sources.source_from_props(stmt.kind, stmt.name, columns, props, text)
        source.is_source = stmt.is_source
        self.sources.validate_formats(source)
        if not columns:
            raise KsqlError("No columns supplied.")
        if source.window_type and not source.key_columns:
            raise KsqlStatementError("Windowed sources require a key column.")
        self.state.catalog.sources[stmt.name] = source
        self.state.catalog.ensure_topic(source.topic, source.partitions)
        self.state.broker.create_topic(source.topic, source.partitions)
        return StatementOutcome(stmt, text, f"{stmt.kind.title()} created")

    def drop(self, stmt: t.Drop, text: str) -> StatementOutcome:
        if stmt.kind == "TYPE":
            if stmt.name not in self.state.catalog.types and not stmt.if_exists:
                raise KsqlStatementError(f"Type {stmt.name} does not exist.")
            self.state.catalog.types.pop(stmt.name, None)
            return StatementOutcome(stmt, text, "Dropped type")
        source = self.state.catalog.source(stmt.name)
        if source is None:
            if stmt.if_exists:
                return StatementOutcome(stmt, text, "Source does not exist.")
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
            for q in self.state.queries.values()
            if source.topic in q.source_topics and q.sink_name != source.name
        ]
        readers = [r for r in readers if self._reads_source(r, source.name)]
        if readers:
            raise KsqlStatementError(
                f"Cannot drop {source.name}.\nThe following streams and/or tables read from this "
                f"source: [{', '.join(sorted(set(readers)))}].\nYou need to drop them before "
                f"dropping {source.name}."
            )
        for qid, q in list(self.state.queries.items()):
            if q.sink_name == source.name:
                self.state.stop_query(qid)
        del self.state.catalog.sources[source.name]
        if stmt.delete_topic:
            self.state.catalog.topics.pop(source.topic, None)
        return StatementOutcome(stmt, text, f"Source `{source.name}` was dropped.")

    def _reads_source(self, sink_name: str, source_name: str) -> bool:
        for q in self.state.queries.values():
            if q.sink_name == sink_name and source_name in q.sql.upper():
                return True
        return False

    def alter(self, stmt: t.AlterSource, text: str) -> StatementOutcome:
        source = self.state.catalog.source(stmt.name)
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
            source.columns.append(
                Column(cd.name, resolve_type_spec(cd.type, self.state.catalog.types))
            )
        return StatementOutcome(stmt, text, "Stream altered")

    def create_type(self, stmt: t.CreateType, text: str) -> StatementOutcome:
        if stmt.name in self.state.catalog.types and not stmt.if_not_exists:
            raise KsqlStatementError(
                f"Cannot register custom type '{stmt.name}' since it is already registered "
                f"with type: {self.state.catalog.types[stmt.name]}"
            )
        self.state.catalog.types[stmt.name] = resolve_type_spec(stmt.type, self.state.catalog.types)
        return StatementOutcome(stmt, text, "Registered custom type")
