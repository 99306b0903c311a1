"""SELECT queries: select list, FROM and joins, WINDOW, WHERE, GROUP/PARTITION BY, EMIT, LIMIT."""

from __future__ import annotations

from ksql_emulator.errors import ParseError
from ksql_emulator.parser import tree as t
from ksql_emulator.parser.expressions import ExpressionParser
from ksql_emulator.parser.keywords import TIME_UNITS
from ksql_emulator.parser.tokens import TokenKind

__all__ = ["QueryParser"]


class QueryParser(ExpressionParser):
    def query(self) -> t.Query:
        self.expect("SELECT")
        items: list[t.SelectItem | t.AllColumns | t.StructAll] = []
        while True:
            items.append(self.list_item(self.select_item))
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
            limit = self.integer_number("LIMIT")
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
        out = [self.list_item(self.expression)]
        while self.accept_op(","):
            out.append(self.list_item(self.expression))
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
