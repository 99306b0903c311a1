"""Tokens -> syntax tree: a recursive-descent reading of ksqlDB's SqlBase.g4."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from typing import Any

from ksql_emulator.errors import ParseError
from ksql_emulator.parser import tree as t
from ksql_emulator.parser.keywords import RESERVED, TIME_UNITS, TYPE_ALIASES
from ksql_emulator.parser.tokens import Token, TokenKind, tokenize
from ksql_emulator.parser.variables import substitute_tokens

__all__ = ["parse", "parse_expression", "parse_iter", "parse_type"]

# ksqlDB reports literal errors found while building the tree with this prefix, and a column
# one further right than its syntax errors (literals.json checks both).
_PREPARE = "Failed to prepare statement: "
_MAX_BIGINT = 2**63 - 1
_MAX_INT = 2**31 - 1
_COMPARISONS = {"=": "=", "<>": "<>", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_SIMPLE_TYPES = {
    "BOOLEAN",
    "INTEGER",
    "BIGINT",
    "DOUBLE",
    "STRING",
    "BYTES",
    "TIMESTAMP",
    "DATE",
    "TIME",
}


def parse(sql: str, variables: Mapping[str, str] | None = None) -> list[t.ParsedStatement]:
    """Parse every statement of `sql`; `variables` fill `${name}` references."""
    return list(parse_iter(sql, variables if variables is not None else {}))


def parse_iter(sql: str, variables: Mapping[str, str]) -> Iterator[t.ParsedStatement]:
    """Parse statements one at a time, so a DEFINE run in between changes `variables` for the
    statements after it."""
    tokens = tokenize(sql)
    start = 0
    while tokens[start].kind is not TokenKind.EOF:
        end = start
        depth = 0
        while tokens[end].kind is not TokenKind.EOF:
            tok = tokens[end]
            if tok.kind is TokenKind.OP and tok.text == ";" and depth == 0:
                break
            if tok.kind is TokenKind.OP and tok.text in "([":
                depth += 1
            elif tok.kind is TokenKind.OP and tok.text in ")]":
                depth -= 1
            end += 1
        if tokens[start].kind is TokenKind.OP and tokens[start].text == ";":
            start += 1
            continue
        piece = [*tokens[start:end], _eof_after(tokens[end])]
        piece = substitute_tokens(piece, variables)
        parser = _Parser(piece)
        stmt = parser.statement()
        parser.expect_end()
        text_end = tokens[end].end if tokens[end].kind is TokenKind.OP else tokens[end].start
        yield t.ParsedStatement(stmt, sql[tokens[start].start : text_end], tokens[start].line)
        start = end + 1 if tokens[end].kind is not TokenKind.EOF else end


def parse_expression(text: str) -> t.Expr:
    """Parse one expression (used for pull-query predicates and tests)."""
    parser = _Parser(tokenize(text))
    expr = parser.expression()
    parser.expect_end()
    return expr


def parse_type(text: str) -> t.TypeSpec:
    parser = _Parser(tokenize(text))
    spec = parser.type_spec()
    parser.expect_end()
    return spec


def _eof_after(tok: Token) -> Token:
    return Token(
        TokenKind.EOF, ";" if tok.text == ";" else "", tok.line, tok.col, tok.start, tok.end
    )


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.i = 0
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
        }

    # --- token helpers -----------------------------------------------------------------------

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def peek(self, ahead: int = 1) -> Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def advance(self) -> Token:
        tok = self.tokens[self.i]
        if tok.kind is not TokenKind.EOF:
            self.i += 1
        return tok

    def at(self, *words: str) -> bool:
        return self.tok.upper in words

    def at_op(self, *ops: str) -> bool:
        return self.tok.kind is TokenKind.OP and self.tok.text in ops

    def accept(self, *words: str) -> bool:
        if self.at(*words):
            self.i += 1
            return True
        return False

    def accept_op(self, op: str) -> bool:
        if self.at_op(op):
            self.i += 1
            return True
        return False

    def error(self, expecting: str, tok: Token | None = None) -> ParseError:
        tok = tok or self.tok
        shown = tok.shown()
        if tok.kind is TokenKind.EOF:
            hint = f"Syntax Error\nmismatched input '<EOF>' expecting {expecting}"
        else:
            hint = f"Syntax Error\nmismatched input '{shown}' expecting {expecting}"
        return ParseError(tok.line, tok.col + 1, shown, hint)

    def expect(self, word: str) -> Token:
        if not self.at(word):
            raise self.error(f"'{word}'")
        return self.advance()

    def expect_op(self, op: str) -> Token:
        if not self.at_op(op):
            raise self.error(f"'{op}'")
        return self.advance()

    def here(self) -> t.Pos:
        return t.Pos(self.tok.line, self.tok.col + 1)

    def expect_end(self) -> None:
        if self.tok.kind is not TokenKind.EOF:
            tok = self.tok
            raise ParseError(
                tok.line,
                tok.col + 1,
                tok.shown(),
                f"Syntax Error\nextraneous input '{tok.shown()}' expecting ';'"
                if tok.kind is not TokenKind.OP
                else f"Syntax Error\nmismatched input '{tok.shown()}' expecting ';'",
            )

    def identifier(self, what: str = "an identifier") -> str:
        tok = self.tok
        if tok.kind is TokenKind.QUOTED:
            self.i += 1
            return tok.text
        if tok.kind is TokenKind.IDENT and tok.upper not in RESERVED:
            self.i += 1
            return tok.upper
        raise self.error(what)

    def at_identifier(self) -> bool:
        tok = self.tok
        return tok.kind is TokenKind.QUOTED or (
            tok.kind is TokenKind.IDENT and tok.upper not in RESERVED
        )

    def string(self) -> str:
        if self.tok.kind is not TokenKind.STRING:
            raise self.error("a string literal")
        return self.advance().text

    def integer(self) -> int:
        negative = self.accept_op("-")
        if self.tok.kind is not TokenKind.INTEGER:
            raise self.error("an integer")
        value = int(self.advance().text)
        return -value if negative else value

    # --- statements --------------------------------------------------------------------------

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
            cols.append(t.ColumnDef(name, spec, constraint, header_key))
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
        if not self.at("STREAM", "TABLE", "TYPE"):
            raise self.error("{'STREAM', 'TABLE', 'TYPE'}")
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
        if not self.at("STREAM", "TABLE"):
            raise self.error("{'STREAM', 'TABLE'}")
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
            "CONNECTORS",
        ):
            raise self.error("{'STREAMS', 'TABLES', 'TOPICS', 'QUERIES', 'PROPERTIES', ...}")
        self.advance()
        return t.Show(what, self.accept("EXTENDED"))

    def describe(self) -> t.Statement:
        self.expect("DESCRIBE")
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
            limit = self.integer()
        return t.PrintTopic(topic, from_beginning, limit)

    def select_statement(self) -> t.Statement:
        return t.SelectStatement(self.query())

    # --- queries -----------------------------------------------------------------------------

    def query(self) -> t.Query:
        self.expect("SELECT")
        items: list[t.SelectItem | t.AllColumns | t.StructAll] = []
        while True:
            items.append(self.select_item())
            if not self.accept_op(","):
                break
        self.expect("FROM")
        relation = self.relation()
        window = self.window() if self.at("WINDOW") else None
        where = self.expression() if self.accept("WHERE") else None
        group_by: tuple[t.Expr, ...] = ()
        if self.accept("GROUP"):
            self.expect("BY")
            group_by = self.expression_list()
        partition_by: tuple[t.Expr, ...] = ()
        if self.accept("PARTITION"):
            self.expect("BY")
            at = self.tok
            partition_by = self.expression_list()
            if not partition_by:
                raise ParseError(
                    at.line,
                    at.col + 1,
                    at.shown(),
                    "PARTITION BY requires at least one expression",
                )
        having = self.expression() if self.accept("HAVING") else None
        emit = None
        if self.accept("EMIT"):
            if not self.at("CHANGES", "FINAL"):
                raise self.error("{'CHANGES', 'FINAL'}")
            emit = self.advance().upper
        limit = None
        if self.accept("LIMIT"):
            limit = self.integer()
        return t.Query(
            tuple(items), relation, window, where, group_by, partition_by, having, emit, limit
        )

    def expression_list(self) -> tuple[t.Expr, ...]:
        if self.at_op("("):
            save = self.i
            self.advance()
            exprs: list[t.Expr] = []
            if self.accept_op(")"):
                return ()
            try:
                while True:
                    exprs.append(self.expression())
                    if not self.accept_op(","):
                        break
                self.expect_op(")")
                if len(exprs) > 1 and not self.at_op(","):
                    return tuple(exprs)
            except ParseError:
                pass
            self.i = save
        out = [self.expression()]
        while self.accept_op(","):
            out.append(self.expression())
        return tuple(out)

    def select_item(self) -> t.SelectItem | t.AllColumns | t.StructAll:
        if self.accept_op("*"):
            return t.AllColumns()
        if (
            self.at_identifier()
            and self.peek().kind is TokenKind.OP
            and self.peek().text == "."
            and self.peek(2).kind is TokenKind.OP
            and self.peek(2).text == "*"
        ):
            source = self.identifier()
            self.advance()
            self.advance()
            return t.AllColumns(source)
        expr = self.expression()
        if self.at_op("->") and self.peek().text == "*":
            self.advance()
            self.advance()
            return t.StructAll(expr)
        alias = None
        if self.accept("AS"):
            alias = self.identifier("an alias")
        elif self.at_identifier():
            alias = self.identifier()
        return t.SelectItem(expr, alias)

    def relation(self) -> t.Relation:
        left: t.Relation = self.source_ref()
        while True:
            kind = "INNER"
            if self.accept("INNER"):
                kind = "INNER"
            elif self.at("LEFT", "RIGHT", "FULL"):
                kind = self.advance().upper
                self.accept("OUTER")
            elif not self.at("JOIN"):
                return left
            self.expect("JOIN")
            right = self.source_ref()
            within = self.within() if self.at("WITHIN") else None
            self.expect("ON")
            criteria = self.expression()
            left = t.Join(kind, left, right, criteria, within)

    def source_ref(self) -> t.SourceRef:
        tok = self.tok
        name = self.identifier("a source name")
        alias = None
        if self.accept("AS"):
            alias = self.identifier("an alias")
        elif self.at_identifier() and not self.at("WINDOW", "EMIT", "PARTITION", "GROUP"):
            alias = self.identifier()
        return t.SourceRef(name, alias, t.Pos(tok.line, tok.col + 1))

    def duration(self) -> t.Duration:
        value = self.integer()
        if self.tok.upper not in TIME_UNITS:
            raise self.error("a time unit")
        unit = self.advance().upper
        return t.Duration(value, unit if unit.endswith("S") else unit + "S")

    def within(self) -> t.Within:
        self.expect("WITHIN")
        if self.accept_op("("):
            before = self.duration()
            self.expect_op(",")
            after = self.duration()
            self.expect_op(")")
        else:
            before = after = self.duration()
        grace = None
        if self.accept("GRACE"):
            self.expect("PERIOD")
            grace = self.duration()
        return t.Within(before, after, grace)

    def window(self) -> t.WindowSpec:
        self.expect("WINDOW")
        if not self.at("TUMBLING", "HOPPING", "SESSION"):
            raise self.error("{'TUMBLING', 'HOPPING', 'SESSION'}")
        kind = self.advance().upper
        self.expect_op("(")
        size = advance = gap = retention = grace = None
        if kind == "SESSION":
            gap = self.duration()
            if not self.accept_op(","):
                self.expect_op(")")
                return t.WindowSpec(kind, gap=gap)
        while True:
            if kind != "SESSION" and self.accept("SIZE"):
                size = self.duration()
            elif kind == "HOPPING" and self.accept("ADVANCE"):
                self.expect("BY")
                advance = self.duration()
            elif self.accept("RETENTION"):
                retention = self.duration()
            elif self.accept("GRACE"):
                self.expect("PERIOD")
                grace = self.duration()
            elif not (kind == "SESSION" and gap is not None and self.at_op(")")):
                raise self.error("{'SIZE', 'ADVANCE', 'RETENTION', 'GRACE'}")
            if not self.accept_op(","):
                break
        self.expect_op(")")
        return t.WindowSpec(kind, size, advance, gap, retention, grace)

    # --- types -------------------------------------------------------------------------------

    def type_spec(self) -> t.TypeSpec:
        tok = self.tok
        if tok.kind is TokenKind.QUOTED:
            return t.TypeSpec(self.advance().text)
        if tok.kind is not TokenKind.IDENT:
            raise self.error("a type")
        name = TYPE_ALIASES.get(tok.upper, tok.upper)
        if name in _SIMPLE_TYPES:
            self.advance()
            return t.TypeSpec(name)
        if name == "DECIMAL":
            self.advance()
            self.expect_op("(")
            precision = self.integer()
            self.expect_op(",")
            scale = self.integer()
            self.expect_op(")")
            return t.TypeSpec(name, (precision, scale))
        if name == "ARRAY":
            self.advance()
            self.expect_op("<")
            item = self.type_spec()
            self.expect_op(">")
            return t.TypeSpec(name, items=(item,))
        if name == "MAP":
            self.advance()
            self.expect_op("<")
            key = self.type_spec()
            self.expect_op(",")
            value = self.type_spec()
            self.expect_op(">")
            return t.TypeSpec(name, items=(key, value))
        if name == "STRUCT":
            self.advance()
            self.expect_op("<")
            fields: list[tuple[str, t.TypeSpec]] = []
            if not self.at_op(">"):
                while True:
                    fname = self._field_name()
                    fields.append((fname, self.type_spec()))
                    if not self.accept_op(","):
                        break
            self.expect_op(">")
            return t.TypeSpec(name, fields=tuple(fields))
        if name in RESERVED:
            raise self.error("a type")
        self.advance()
        return t.TypeSpec(name)

    def _field_name(self) -> str:
        tok = self.tok
        if tok.kind is TokenKind.QUOTED:
            return self.advance().text
        if tok.kind is TokenKind.IDENT:
            return self.advance().upper
        raise self.error("a field name")

    # --- expressions -------------------------------------------------------------------------

    def expression(self) -> t.Expr:
        return self.or_expr()

    def or_expr(self) -> t.Expr:
        at = self.here()
        left = self.and_expr()
        while self.accept("OR"):
            left = t.Logical("OR", left, self.and_expr(), pos=at)
        return left

    def and_expr(self) -> t.Expr:
        at = self.here()
        left = self.not_expr()
        while self.accept("AND"):
            left = t.Logical("AND", left, self.not_expr(), pos=at)
        return left

    def not_expr(self) -> t.Expr:
        if self.accept("NOT"):
            return t.Not(self.not_expr())
        return self.predicate()

    def predicate(self) -> t.Expr:
        at = self.here()
        value = self.value_expr()
        while True:
            if self.tok.kind is TokenKind.OP and self.tok.text in _COMPARISONS:
                op = _COMPARISONS[self.advance().text]
                value = t.Comparison(op, value, self.value_expr(), pos=at)
                continue
            negated = False
            save = self.i
            if self.accept("NOT"):
                negated = True
            if self.accept("BETWEEN"):
                low = self.value_expr()
                self.expect("AND")
                high = self.value_expr()
                value = t.Between(value, low, high, negated, pos=at)
            elif self.accept("IN"):
                self.expect_op("(")
                items = [self.expression()]
                while self.accept_op(","):
                    items.append(self.expression())
                self.expect_op(")")
                value = t.InList(value, tuple(items), negated, pos=at)
            elif self.accept("LIKE"):
                pattern = self.value_expr()
                escape = None
                if self.accept("ESCAPE"):
                    escape = self.string()
                value = t.Like(value, pattern, escape, negated, pos=at)
            elif not negated and self.accept("IS"):
                is_not = self.accept("NOT")
                if self.accept("NULL"):
                    value = t.IsNull(value, is_not, pos=at)
                elif self.accept("DISTINCT"):
                    self.expect("FROM")
                    value = t.IsDistinct(value, self.value_expr(), is_not, pos=at)
                else:
                    raise self.error("{'NULL', 'DISTINCT'}")
            else:
                self.i = save
                return value

    def value_expr(self) -> t.Expr:
        at = self.here()
        left = self.additive()
        while self.accept_op("||"):
            left = t.Concat(left, self.additive(), pos=at)
        return left

    def additive(self) -> t.Expr:
        at = self.here()
        left = self.multiplicative()
        while self.at_op("+", "-"):
            op = self.advance().text
            left = t.Arithmetic(op, left, self.multiplicative(), pos=at)
        return left

    def multiplicative(self) -> t.Expr:
        at = self.here()
        left = self.unary()
        while self.at_op("*", "/", "%"):
            op = self.advance().text
            left = t.Arithmetic(op, left, self.unary(), pos=at)
        return left

    def unary(self) -> t.Expr:
        if self.at_op("-"):
            minus = self.advance()
            if self.tok.kind in (TokenKind.INTEGER, TokenKind.DECIMAL, TokenKind.FLOAT):
                return self.postfix(self.number(negative=True, sign=minus))
            return t.Negate(self.unary())
        if self.accept_op("+"):
            return self.unary()
        return self.postfix(self.primary())

    def postfix(self, expr: t.Expr) -> t.Expr:
        while True:
            if self.accept_op("["):
                index = self.expression()
                self.expect_op("]")
                expr = t.Subscript(expr, index)
            elif self.at_op("->") and self.peek().text == "*":
                return expr  # `->*` belongs to the SELECT list
            elif self.accept_op("->"):
                expr = t.Dereference(expr, self._field_name())
            else:
                return expr

    def number(self, negative: bool = False, sign: Token | None = None) -> t.Expr:
        tok = self.advance()
        text = ("-" if negative else "") + tok.text
        where = sign or tok
        if tok.kind is TokenKind.INTEGER:
            value = int(text)
            if value > _MAX_BIGINT or value < -_MAX_BIGINT - 1:
                raise ParseError(
                    where.line,
                    where.col + 2,
                    text,
                    f"Invalid numeric literal: {text}",
                    _PREPARE,
                )
            kind = "INTEGER" if -_MAX_INT - 1 <= value <= _MAX_INT else "BIGINT"
            return t.Literal(kind, value, text)
        if tok.kind is TokenKind.DECIMAL:
            return t.Literal("DECIMAL", Decimal(text), text)
        value_f = float(text)
        if value_f in (float("inf"), float("-inf")):
            raise ParseError(
                where.line, where.col + 2, text, f"Number overflows DOUBLE: {text}", _PREPARE
            )
        return t.Literal("DOUBLE", value_f, text)

    def primary(self) -> t.Expr:
        tok = self.tok
        kind = tok.kind
        if kind in (TokenKind.INTEGER, TokenKind.DECIMAL, TokenKind.FLOAT):
            return self.number()
        if kind is TokenKind.STRING:
            self.advance()
            return t.Literal("STRING", tok.text, tok.shown())
        if kind is TokenKind.OP and tok.text == "(":
            lam = self.try_lambda()
            if lam is not None:
                return lam
            self.advance()
            expr = self.expression()
            self.expect_op(")")
            return expr
        if kind is TokenKind.IDENT:
            word = tok.upper
            if word == "NULL":
                self.advance()
                return t.Literal("NULL", None, "null")
            if word in ("TRUE", "FALSE"):
                self.advance()
                return t.Literal("BOOLEAN", word == "TRUE", word.lower())
            if word == "CASE":
                return self.case()
            if word == "CAST":
                self.advance()
                self.expect_op("(")
                value = self.expression()
                self.expect("AS")
                spec = self.type_spec()
                self.expect_op(")")
                return t.Cast(value, spec)
            if word == "ARRAY" and self.peek().text == "[":
                self.advance()
                self.advance()
                items: list[t.Expr] = []
                if not self.at_op("]"):
                    items.append(self.expression())
                    while self.accept_op(","):
                        items.append(self.expression())
                self.expect_op("]")
                return t.ArrayCtor(tuple(items))
            if word == "MAP" and self.peek().text == "(":
                self.advance()
                self.advance()
                entries: list[tuple[t.Expr, t.Expr]] = []
                if not self.at_op(")"):
                    while True:
                        key = self.expression()
                        self.expect_op(":=")
                        entries.append((key, self.expression()))
                        if not self.accept_op(","):
                            break
                self.expect_op(")")
                return t.MapCtor(tuple(entries))
            if word == "STRUCT" and self.peek().text == "(":
                self.advance()
                self.advance()
                fields: list[tuple[str, t.Expr]] = []
                if not self.at_op(")"):
                    while True:
                        fname = self._field_name()
                        self.expect_op(":=")
                        fields.append((fname, self.expression()))
                        if not self.accept_op(","):
                            break
                self.expect_op(")")
                return t.StructCtor(tuple(fields))
        if self.at_identifier():
            lam = self.try_lambda()
            if lam is not None:
                return lam
            if self.peek().kind is TokenKind.OP and self.peek().text == "(":
                return self.function_call()
            name = self.identifier()
            if self.at_op(".") and self.peek().kind in (TokenKind.IDENT, TokenKind.QUOTED):
                self.advance()
                column = self.identifier("a column name")
                return t.ColumnRef(column, name, pos=t.Pos(tok.line, tok.col + 1))
            return t.ColumnRef(name, None, pos=t.Pos(tok.line, tok.col + 1))
        raise self.error("an expression")

    def try_lambda(self) -> t.Lambda | None:
        save = self.i
        params: list[str] = []
        if self.at_op("("):
            self.advance()
            while self.tok.kind is TokenKind.IDENT:
                params.append(self.advance().upper)
                if not self.accept_op(","):
                    break
            if not params or not self.accept_op(")"):
                self.i = save
                return None
        elif self.tok.kind is TokenKind.IDENT:
            params.append(self.advance().upper)
        if not self.accept_op("=>"):
            self.i = save
            return None
        return t.Lambda(tuple(params), self.expression())

    def function_call(self) -> t.Expr:
        tok = self.advance()
        name = tok.text if tok.kind is TokenKind.QUOTED else tok.upper
        self.expect_op("(")
        if self.accept_op("*"):
            self.expect_op(")")
            return t.FunctionCall(name, (), star=True, pos=t.Pos(tok.line, tok.col + 1))
        distinct = self.accept("DISTINCT")
        args: list[t.Expr] = []
        if not self.at_op(")"):
            while True:
                if (
                    self.tok.upper in TIME_UNITS
                    and self.peek().kind is TokenKind.OP
                    and self.peek().text in (",", ")")
                ):
                    args.append(t.Literal("UNIT", self.advance().upper, self.tok.text))
                else:
                    args.append(self.expression())
                if not self.accept_op(","):
                    break
        self.expect_op(")")
        return t.FunctionCall(name, tuple(args), distinct, pos=t.Pos(tok.line, tok.col + 1))

    def case(self) -> t.Expr:
        self.expect("CASE")
        operand = None if self.at("WHEN") else self.expression()
        whens: list[tuple[t.Expr, t.Expr]] = []
        while self.accept("WHEN"):
            cond = self.expression()
            self.expect("THEN")
            whens.append((cond, self.expression()))
        if not whens:
            raise self.error("'WHEN'")
        default = self.expression() if self.accept("ELSE") else None
        self.expect("END")
        return t.Case(operand, tuple(whens), default)
