"""Statements: one parser per leading keyword (CREATE, INSERT, DROP, SHOW, ...), as a table."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ksql_emulator.errors import ParseError
from ksql_emulator.parser import tree as t
from ksql_emulator.parser.keywords import RESERVED
from ksql_emulator.parser.queries import QueryParser
from ksql_emulator.parser.tokens import Token, TokenKind

__all__ = ["StatementParser"]


class StatementParser(QueryParser):
    def __init__(self, tokens: list[Token]) -> None:
        super().__init__(tokens)
        self.statements: dict[str, Callable[[], t.Statement]] = {
            "CREATE": self.create,
            "INSERT": self.insert,
            "DROP": self.drop,
            "SHOW": self.show,
            "LIST": self.show,
            "DESCRIBE": self.describe,
            "TERMINATE": self.terminate,
            "SET": self.set_property,
            "UNSET": self.unset_property,
            "DEFINE": self.define,
            "UNDEFINE": self.undefine,
            "SELECT": self.select_statement,
            "EXPLAIN": self.explain,
            "ALTER": self.alter,
            "PRINT": self.print_topic,
            "PAUSE": self.pause,
            "RESUME": self.resume,
            "ASSERT": self.assert_statement,
        }

    def statement(self) -> t.Statement:
        handler = self.statements.get(self.tok.upper)
        if handler is None:
            tok = self.tok
            raise ParseError(
                tok.line,
                tok.col + 1,
                tok.shown(),
                f"Syntax Error\nUnknown statement '{tok.shown()}'",
            )
        return handler()

    def create(self) -> t.Statement:
        self.expect("CREATE")
        or_replace = False
        if self.accept("OR"):
            self.expect("REPLACE")
            or_replace = True
        is_source = self.accept("SOURCE")
        if not or_replace and (is_source or self.at("SINK")) and self._at_connector():
            return self.create_connector("SOURCE" if is_source else self.advance().upper)
        if self.accept("TYPE"):
            if_not_exists = self._if_not_exists()
            name = self.identifier()
            self.expect("AS")
            return t.CreateType(name, self.type_spec(), if_not_exists)
        if not self.at("STREAM", "TABLE"):
            raise self.error("{'STREAM', 'TABLE', 'TYPE'}")
        kind = self.advance().upper
        if_not_exists = self._if_not_exists()
        name = self.identifier("a source name")
        columns: tuple[t.ColumnDef, ...] = ()
        if self.at_op("("):
            columns = self.column_defs()
        props = self.with_props()
        if self.accept("AS"):
            if columns:
                raise self.error("'WITH'")
            query = self.query()
            return t.CreateAsSelect(kind, name, props, query, or_replace, if_not_exists)
        return t.CreateSource(kind, name, columns, props, or_replace, if_not_exists, is_source)

    def _at_connector(self) -> bool:
        # CREATE SINK CONNECTOR: SINK is still the current token; CREATE SOURCE CONNECTOR: past.
        return self.at("CONNECTOR") or (self.at("SINK") and self.peek().upper == "CONNECTOR")

    def create_connector(self, kind: str) -> t.Statement:
        self.expect("CONNECTOR")
        if_not_exists = self._if_not_exists()
        name = self.identifier("a connector name")
        if not self.at("WITH"):
            raise self.error("'WITH'")
        return t.CreateConnector(kind, name, self.with_props(), if_not_exists)

    def _if_not_exists(self) -> bool:
        if self.accept("IF"):
            self.expect("NOT")
            self.expect("EXISTS")
            return True
        return False

    def column_defs(self) -> tuple[t.ColumnDef, ...]:
        self.expect_op("(")
        cols: list[t.ColumnDef] = []
        while True:
            pos = self.here()
            name = self.identifier("a column name")
            spec = self.type_spec()
            constraint: str | None = None
            header_key: str | None = None
            if self.accept("KEY"):
                constraint = "KEY"
            elif self.accept("PRIMARY"):
                self.expect("KEY")
                constraint = "PRIMARY KEY"
            elif self.accept("HEADERS"):
                constraint = "HEADERS"
            elif self.accept("HEADER"):
                self.expect_op("(")
                header_key = self.string()
                self.expect_op(")")
                constraint = "HEADER"
            cols.append(t.ColumnDef(name, spec, constraint, header_key, pos))
            if not self.accept_op(","):
                break
        self.expect_op(")")
        return tuple(cols)

    def with_props(self) -> t.Props:
        if not self.accept("WITH"):
            return ()
        self.expect_op("(")
        props: list[tuple[str, Any]] = []
        while True:
            if self.tok.kind is TokenKind.STRING:
                key = self.advance().text.upper()
            else:
                key = self.identifier("a property name").upper()
            self.expect_op("=")
            props.append((key, self.literal_value()))
            if not self.accept_op(","):
                break
        self.expect_op(")")
        return tuple(props)

    def literal_value(self) -> Any:
        tok = self.tok
        if tok.kind is TokenKind.STRING:
            return self.advance().text
        if self.at("TRUE", "FALSE"):
            return self.advance().upper == "TRUE"
        if self.at_op("-") or tok.kind is TokenKind.INTEGER:
            if self.peek().kind is TokenKind.DECIMAL or tok.kind is TokenKind.DECIMAL:
                return float(self.advance().text)
            return self.integer()
        if tok.kind in (TokenKind.DECIMAL, TokenKind.FLOAT):
            return float(self.advance().text)
        if tok.kind is TokenKind.IDENT and tok.upper not in RESERVED:
            return self.advance().text
        raise self.error("a literal")

    def insert(self) -> t.Statement:
        start = self.expect("INSERT")
        self.expect("INTO")
        quoted = self.tok.kind is TokenKind.QUOTED
        name_tok = self.tok
        target = self.identifier("a source name")
        if self.at("VALUES") or self.at_op("("):
            columns: list[str] = []
            if self.accept_op("("):
                while True:
                    columns.append(self.identifier("a column name"))
                    if not self.accept_op(","):
                        break
                self.expect_op(")")
            self.expect("VALUES")
            self.expect_op("(")
            values: list[t.Expr] = []
            if not self.at_op(")"):
                while True:
                    values.append(self.expression())
                    if not self.accept_op(","):
                        break
            self.expect_op(")")
            return t.InsertValues(target, tuple(columns), tuple(values), quoted)
        props = self.with_props()
        query = self.query()
        del start
        return t.InsertInto(target, query, props, t.Pos(name_tok.line, name_tok.col + 1))

    def drop(self) -> t.Statement:
        self.expect("DROP")
        if self.accept("CONNECTOR"):
            if_exists = False
            if self.accept("IF"):
                self.expect("EXISTS")
                if_exists = True
            return t.DropConnector(self.identifier("a connector name"), if_exists)
        if not self.at("STREAM", "TABLE", "TYPE"):
            raise self.error("{'STREAM', 'TABLE', 'TYPE', 'CONNECTOR'}")
        kind = self.advance().upper
        if_exists = False
        if self.accept("IF"):
            self.expect("EXISTS")
            if_exists = True
        name = self.identifier("a source name")
        delete_topic = False
        if self.accept("DELETE"):
            self.expect("TOPIC")
            delete_topic = True
        return t.Drop(kind, name, if_exists, delete_topic)

    def alter(self) -> t.Statement:
        self.expect("ALTER")
        if self.accept("SYSTEM"):
            name = self.string()
            self.expect_op("=")
            return t.AlterSystem(name, self.string())
        if not self.at("STREAM", "TABLE"):
            raise self.error("{'STREAM', 'TABLE', 'SYSTEM'}")
        kind = self.advance().upper
        name = self.identifier("a source name")
        cols: list[t.ColumnDef] = []
        while True:
            self.expect("ADD")
            self.accept("COLUMN")
            cname = self.identifier("a column name")
            cols.append(t.ColumnDef(cname, self.type_spec()))
            if not self.accept_op(","):
                break
        return t.AlterSource(kind, name, tuple(cols))

    def show(self) -> t.Statement:
        self.advance()
        if self.at("SOURCE", "SINK") and self.peek().upper == "CONNECTORS":
            scope = self.advance().upper
            self.advance()
            return t.ListConnectors(scope)
        if self.accept("CONNECTORS"):
            return t.ListConnectors()
        if self.accept("CONNECTOR"):
            self.expect("PLUGINS")
            return t.ListConnectorPlugins()
        what = self.tok.upper
        if what == "ALL":
            self.advance()
            what = self.tok.upper
        if what not in (
            "STREAMS",
            "TABLES",
            "TOPICS",
            "QUERIES",
            "PROPERTIES",
            "FUNCTIONS",
            "TYPES",
            "VARIABLES",
        ):
            raise self.error("{'STREAMS', 'TABLES', 'TOPICS', 'QUERIES', 'PROPERTIES', ...}")
        self.advance()
        return t.Show(what, self.accept("EXTENDED"))

    def describe(self) -> t.Statement:
        self.expect("DESCRIBE")
        if self.at("CONNECTOR") and self.peek().kind is not TokenKind.EOF:
            self.advance()
            return t.DescribeConnector(self.identifier("a connector name"))
        if self.accept("FUNCTION"):
            return t.Describe(self.identifier("a function name"), function=True)
        if self.at("STREAMS", "TABLES"):
            what = self.advance().upper
            return t.Describe(None, self.accept("EXTENDED"), what=what)
        extended = self.accept("EXTENDED")
        name = self.identifier("a source name")
        return t.Describe(name, extended or self.accept("EXTENDED"))

    def explain(self) -> t.Statement:
        self.expect("EXPLAIN")
        if self.at("SELECT", "CREATE", "INSERT"):
            return t.Explain(self.statement())
        return t.Explain(self.identifier("a query id"))

    def terminate(self) -> t.Statement:
        self.expect("TERMINATE")
        if self.accept("ALL"):
            return t.Terminate(None)
        if self.tok.kind is TokenKind.IDENT:
            return t.Terminate(self.advance().text.upper())
        return t.Terminate(self.identifier("a query id"))

    def _query_id_or_all(self) -> str | None:
        if self.accept("ALL"):
            return None
        if self.tok.kind is TokenKind.IDENT:
            return self.advance().text.upper()
        return self.identifier("a query id")

    def pause(self) -> t.Statement:
        self.expect("PAUSE")
        return t.PauseQuery(self._query_id_or_all())

    def resume(self) -> t.Statement:
        self.expect("RESUME")
        return t.ResumeQuery(self._query_id_or_all())

    def assert_statement(self) -> t.Statement:
        self.expect("ASSERT")
        exists = True
        if self.accept("NOT"):
            self.expect("EXISTS")
            exists = False
        if self.accept("TOPIC"):
            topic = self._resource_name("a topic name")
            props = self.with_props()
            return t.AssertTopic(topic, props, exists, self._timeout())
        if not self.accept("SCHEMA"):
            raise self.error("{'TOPIC', 'SCHEMA'}")
        subject = self._resource_name("a subject name") if self.accept("SUBJECT") else None
        schema_id = self.integer() if self.accept("ID") else None
        if subject is None and schema_id is None:
            raise self.error("{'SUBJECT', 'ID'}")
        return t.AssertSchema(subject, schema_id, exists, self._timeout())

    def _resource_name(self, what: str) -> str:
        if self.tok.kind is TokenKind.STRING:
            return self.advance().text
        return self.identifier(what)

    def _timeout(self) -> t.Duration | None:
        return self.duration() if self.accept("TIMEOUT") else None

    def set_property(self) -> t.Statement:
        self.expect("SET")
        name = self.string()
        self.expect_op("=")
        return t.SetProperty(name, self.string())

    def unset_property(self) -> t.Statement:
        self.expect("UNSET")
        return t.UnsetProperty(self.string())

    def define(self) -> t.Statement:
        self.expect("DEFINE")
        tok = self.tok
        if tok.kind not in (TokenKind.IDENT, TokenKind.QUOTED):
            raise self.error("a variable name")
        self.advance()
        self.expect_op("=")
        return t.DefineVariable(tok.text, self.string())

    def undefine(self) -> t.Statement:
        self.expect("UNDEFINE")
        tok = self.tok
        if tok.kind not in (TokenKind.IDENT, TokenKind.QUOTED):
            raise self.error("a variable name")
        self.advance()
        return t.UndefineVariable(tok.text)

    def print_topic(self) -> t.Statement:
        self.expect("PRINT")
        topic = self.string() if self.tok.kind is TokenKind.STRING else self.advance().text
        from_beginning = False
        if self.accept("FROM"):
            self.expect("BEGINNING")
            from_beginning = True
        limit = None
        if self.accept("LIMIT"):
            limit = self.integer_number("LIMIT")
        return t.PrintTopic(topic, from_beginning, limit)

    def select_statement(self) -> t.Statement:
        return t.SelectStatement(self.query())
