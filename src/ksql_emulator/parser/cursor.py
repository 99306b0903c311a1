"""Token cursor the parser's parts share: look ahead, accept, expect, ksqlDB's syntax errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from ksql_emulator.errors import KsqlStatementError, ParseError
from ksql_emulator.parser import tree as t
from ksql_emulator.parser.keywords import RESERVED
from ksql_emulator.parser.tokens import Token, TokenKind

__all__ = ["TokenCursor"]

T = TypeVar("T")


class TokenCursor:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.i = 0
        # Whether a ',' may follow the expression being parsed (it is an item of a list): then
        # ANTLR's single-token insertion reports a ',' met where ')' is due as a missing ')'.
        self.in_list = False

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

    def expect_closing(self, in_list: bool) -> Token:
        """The ')' of a parenthesised expression, with ANTLR's recovery messages: a token
        just before the ')' is extraneous; a ',' where a ',' may follow the ')' (the
        parenthesised expression is a list item) means the ')' is missing."""
        tok = self.tok
        if not self.at_op(")") and tok.kind is not TokenKind.EOF:
            after = self.peek()
            if after.kind is TokenKind.OP and after.text == ")":
                hint = f"Syntax Error\nextraneous input '{tok.shown()}' expecting ')'"
                raise ParseError(tok.line, tok.col + 1, tok.shown(), hint)
            if in_list and tok.kind is TokenKind.OP and tok.text == ",":
                hint = f"Syntax Error\nmissing ')' at '{tok.shown()}'"
                raise ParseError(tok.line, tok.col + 1, tok.shown(), hint)
        return self.expect_op(")")

    def list_item(self, parse: Callable[[], T], in_list: bool = True) -> T:
        """`parse()` run as an item of a comma-separated list (or, `in_list` False, as a part
        that a closing keyword or bracket must follow, never a ',')."""
        outer, self.in_list = self.in_list, in_list
        try:
            return parse()
        finally:
            self.in_list = outer

    def enclosed(self, parse: Callable[[], T]) -> T:
        """`parse()` run where a closing keyword or bracket, not a ',', must follow."""
        return self.list_item(parse, in_list=False)

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
        after = self.peek()
        if tok.kind is TokenKind.IDENT and (
            after.kind is TokenKind.QUOTED
            or (after.kind is TokenKind.IDENT and after.upper not in RESERVED)
        ):
            # A reserved word where a name is due, a name right after it: ANTLR drops the word
            # as extraneous, and ksqlDB says the word is reserved and how to quote it.
            hint = (
                f'Syntax Error\n"{tok.text}" is a reserved keyword and it can\'t be used as an '
                f"identifier. You can use it as an identifier by escaping it as '{tok.text}' "
            )
            raise ParseError(tok.line, tok.col + 1, tok.shown(), hint)
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

    def integer_number(self, command: str) -> int:
        """Where ksqlDB's grammar takes any number but the statement needs an integer (LIMIT,
        DECIMAL's precision and scale): a decimal or floating-point number parses, then is
        refused with ksqlDB's message naming the command."""
        at = 1 if self.at_op("-") else 0
        if self.peek(at).kind in (TokenKind.DECIMAL, TokenKind.FLOAT):
            raise KsqlStatementError(f"Value must be integer for command: {command}")
        return self.integer()

    def _field_name(self) -> str:
        tok = self.tok
        if tok.kind is TokenKind.QUOTED:
            return self.advance().text
        if tok.kind is TokenKind.IDENT:
            return self.advance().upper
        raise self.error("a field name")
