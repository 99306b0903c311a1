"""Statement text -> syntax trees: cut at `;`, fill `${name}`, hand each piece to the parser."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from ksql_emulator.errors import ParseError, StatementTooLargeError
from ksql_emulator.parser import tree as t
from ksql_emulator.parser.expressions import ExpressionParser
from ksql_emulator.parser.statements import StatementParser
from ksql_emulator.parser.tokens import Token, TokenKind, tokenize
from ksql_emulator.parser.type_syntax import TypeParser
from ksql_emulator.parser.variables import substitute_tokens

__all__ = ["parse", "parse_expression", "parse_iter", "parse_type"]


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
        parser = StatementParser(piece)
        text_end = tokens[end].end if tokens[end].kind is TokenKind.OP else tokens[end].start
        try:
            stmt = parser.statement()
            parser.expect_end()
        except ParseError as err:
            if err.statement is None:
                err.statement = sql[tokens[start].start : text_end]
            raise
        except RecursionError:
            too_large = StatementTooLargeError()
            too_large.statement = sql[tokens[start].start : text_end]
            raise too_large from None
        yield t.ParsedStatement(stmt, sql[tokens[start].start : text_end], tokens[start].line)
        start = end + 1 if tokens[end].kind is not TokenKind.EOF else end


def parse_expression(text: str) -> t.Expr:
    """Parse one expression (used for pull-query predicates and tests)."""
    parser = ExpressionParser(tokenize(text))
    try:
        expr = parser.expression()
    except RecursionError:
        raise StatementTooLargeError() from None
    parser.expect_end()
    return expr


def parse_type(text: str) -> t.TypeSpec:
    parser = TypeParser(tokenize(text))
    spec = parser.type_spec()
    parser.expect_end()
    return spec


def _eof_after(tok: Token) -> Token:
    return Token(
        TokenKind.EOF, ";" if tok.text == ";" else "", tok.line, tok.col, tok.start, tok.end
    )
