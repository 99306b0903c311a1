"""Type names in statement text (`DECIMAL(4, 2)`, `ARRAY<STRING>`, `STRUCT<...>`) -> TypeSpec."""

from __future__ import annotations

from ksql_emulator.errors import ParseError
from ksql_emulator.parser import tree as t
from ksql_emulator.parser.cursor import TokenCursor
from ksql_emulator.parser.keywords import RESERVED, TYPE_ALIASES
from ksql_emulator.parser.tokens import TokenKind

__all__ = ["TypeParser"]

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


class TypeParser(TokenCursor):
    def type_spec(self) -> t.TypeSpec:
        tok = self.tok
        if tok.kind is TokenKind.QUOTED:
            return t.TypeSpec(self.advance().text)
        if tok.kind is not TokenKind.IDENT:
            raise self.error("a type")
        name = TYPE_ALIASES.get(tok.upper, tok.upper)
        if name in _SIMPLE_TYPES:
            self.advance()
            self._check_type_parameters()
            return t.TypeSpec(name)
        if name == "DECIMAL":
            self.advance()
            self.expect_op("(")
            precision = self.integer_number("DECIMAL(PRECISION)")
            self.expect_op(",")
            scale = self.integer_number("DECIMAL(SCALE)")
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
        self._check_type_parameters()
        return t.TypeSpec(name)

    def _check_type_parameters(self) -> None:
        """ksqlDB's grammar lets any base type take `(` typeParameter, ... `)`, where a parameter
        is an integer or STRING; anything else there fails at the parameter, not at the `(`.
        The parameters do not change the type: `VARCHAR(STRING)` is a STRING."""
        if not self.accept_op("("):
            return
        while True:
            param = self.tok
            if not (
                param.kind is TokenKind.INTEGER
                or (param.kind is TokenKind.IDENT and param.upper == "STRING")
            ):
                raise ParseError(
                    param.line,
                    param.col + 1,
                    param.shown(),
                    "Syntax Error\nExpecting {'STRING', INTEGER_VALUE}",
                )
            self.advance()
            if not self.accept_op(","):
                break
        self.expect_op(")")
