"""Expressions: operator precedence, literals, function calls, lambdas, CASE and CAST."""

from __future__ import annotations

from decimal import Decimal

from ksql_emulator.errors import ParseError
from ksql_emulator.parser import tree as t
from ksql_emulator.parser.keywords import TIME_UNITS
from ksql_emulator.parser.tokens import Token, TokenKind
from ksql_emulator.parser.type_syntax import TypeParser

__all__ = ["ExpressionParser"]

# ksqlDB reports literal errors found while building the tree with this prefix, and a column
# one further right than its syntax errors (literals.json checks both).
_PREPARE = "Failed to prepare statement: "
_MAX_BIGINT = 2**63 - 1
_MAX_INT = 2**31 - 1
_COMPARISONS = {"=": "=", "<>": "<>", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


class ExpressionParser(TypeParser):
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
                items = [self.list_item(self.expression)]
                while self.accept_op(","):
                    items.append(self.list_item(self.expression))
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
                index = self.enclosed(self.expression)
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
            in_list, self.in_list = self.in_list, False
            try:
                expr = self.expression()
            finally:
                self.in_list = in_list
            self.expect_closing(in_list)
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
                value = self.enclosed(self.expression)
                self.expect("AS")
                spec = self.type_spec()
                self.expect_op(")")
                return t.Cast(value, spec)
            if word == "ARRAY" and self.peek().text == "[":
                self.advance()
                self.advance()
                items: list[t.Expr] = []
                if not self.at_op("]"):
                    items.append(self.list_item(self.expression))
                    while self.accept_op(","):
                        items.append(self.list_item(self.expression))
                self.expect_op("]")
                return t.ArrayCtor(tuple(items))
            if word == "MAP" and self.peek().text == "(":
                self.advance()
                self.advance()
                entries: list[tuple[t.Expr, t.Expr]] = []
                if not self.at_op(")"):
                    while True:
                        key = self.enclosed(self.expression)
                        self.expect_op(":=")
                        entries.append((key, self.list_item(self.expression)))
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
                        fields.append((fname, self.list_item(self.expression)))
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
                    args.append(self.list_item(self.expression))
                if not self.accept_op(","):
                    break
        self.expect_op(")")
        return t.FunctionCall(name, tuple(args), distinct, pos=t.Pos(tok.line, tok.col + 1))

    def case(self) -> t.Expr:
        self.expect("CASE")
        operand = None if self.at("WHEN") else self.enclosed(self.expression)
        whens: list[tuple[t.Expr, t.Expr]] = []
        while self.accept("WHEN"):
            cond = self.enclosed(self.expression)
            self.expect("THEN")
            whens.append((cond, self.enclosed(self.expression)))
        if not whens:
            raise self.error("'WHEN'")
        default = self.enclosed(self.expression) if self.accept("ELSE") else None
        self.expect("END")
        return t.Case(operand, tuple(whens), default)
