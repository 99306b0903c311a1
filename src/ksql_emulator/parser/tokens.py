"""Statement text -> tokens, each with its line, column and character offsets."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ksql_emulator.errors import ParseError

__all__ = ["Token", "TokenKind", "tokenize"]


class TokenKind(enum.Enum):
    IDENT = "identifier"
    QUOTED = "quoted identifier"
    STRING = "string"
    INTEGER = "integer"
    DECIMAL = "decimal"
    FLOAT = "float"
    OP = "operator"
    VARIABLE = "variable"
    EOF = "end of input"


@dataclass(frozen=True)
class Token:
    kind: TokenKind
    text: str  # identifiers as written; strings unescaped; quoted identifiers without quotes
    line: int
    col: int  # 0-based, as ANTLR counts; ksqlDB's messages add 1
    start: int
    end: int

    @property
    def upper(self) -> str:
        return self.text.upper() if self.kind is TokenKind.IDENT else ""

    def shown(self) -> str:
        """The token as ksqlDB's error messages quote it."""
        if self.kind is TokenKind.EOF:
            return "<EOF>"
        if self.kind is TokenKind.STRING:
            return "'" + self.text.replace("'", "''") + "'"
        if self.kind is TokenKind.QUOTED:
            return "`" + self.text + "`"
        return self.text


# Longest first, so "<=" wins over "<".
_OPERATORS = (
    ":=",
    "=>",
    "->",
    "<=",
    ">=",
    "<>",
    "!=",
    "||",
    "=",
    "<",
    ">",
    "+",
    "-",
    "*",
    "/",
    "%",
    "(",
    ")",
    "[",
    "]",
    ",",
    ";",
    ".",
    ":",
)


def tokenize(sql: str) -> list[Token]:
    """Split `sql` into tokens; comments and whitespace are dropped; ends with an EOF token."""
    tokens: list[Token] = []
    i = 0
    line = 1
    line_start = 0
    n = len(sql)

    def error(pos: int, token: str, hint: str) -> ParseError:
        return ParseError(line, pos - line_start + 1, token, hint)

    while i < n:
        c = sql[i]
        if c == "\n":
            line += 1
            i += 1
            line_start = i
            continue
        if c.isspace():
            i += 1
            continue
        if sql.startswith("--", i):
            while i < n and sql[i] != "\n":
                i += 1
            continue
        if sql.startswith("/*", i):
            close = sql.find("*/", i + 2)
            if close < 0:
                raise error(i, "/*", "Syntax Error\nUnterminated comment")
            for j in range(i, close):
                if sql[j] == "\n":
                    line += 1
                    line_start = j + 1
            i = close + 2
            continue
        start = i
        col = i - line_start
        if c == "'":
            parts: list[str] = []
            i += 1
            while True:
                if i >= n:
                    raise error(start, sql[start : start + 20], "Syntax Error\nUnterminated string")
                if sql[i] == "'":
                    if i + 1 < n and sql[i + 1] == "'":
                        parts.append("'")
                        i += 2
                        continue
                    i += 1
                    break
                if sql[i] == "\n":
                    line += 1
                    line_start = i + 1
                parts.append(sql[i])
                i += 1
            tokens.append(Token(TokenKind.STRING, "".join(parts), line, col, start, i))
            continue
        if c in '`"':
            close = sql.find(c, i + 1)
            if close < 0:
                raise error(start, sql[start : start + 20], f"Syntax Error\nUnterminated {c} quote")
            text = sql[i + 1 : close]
            i = close + 1
            tokens.append(Token(TokenKind.QUOTED, text, line, col, start, i))
            continue
        if sql.startswith("${", i):
            close = sql.find("}", i)
            if close < 0:
                raise error(start, "${", "Syntax Error\nUnterminated variable reference")
            i = close + 1
            tokens.append(Token(TokenKind.VARIABLE, sql[start + 2 : close], line, col, start, i))
            continue
        if c.isdigit() or (c == "." and i + 1 < n and sql[i + 1].isdigit()):
            kind = TokenKind.INTEGER
            while i < n and sql[i].isdigit():
                i += 1
            if i < n and sql[i] == "." and not sql.startswith("..", i):
                kind = TokenKind.DECIMAL
                i += 1
                while i < n and sql[i].isdigit():
                    i += 1
            if i < n and sql[i] in "eE":
                j = i + 1
                if j < n and sql[j] in "+-":
                    j += 1
                if j < n and sql[j].isdigit():
                    kind = TokenKind.FLOAT
                    i = j
                    while i < n and sql[i].isdigit():
                        i += 1
            if i < n and (sql[i].isalpha() or sql[i] == "_"):
                # ksqlDB's lexer reads "1abc" as an identifier starting with digits.
                while i < n and (sql[i].isalnum() or sql[i] in "_@"):
                    i += 1
                tokens.append(Token(TokenKind.IDENT, sql[start:i], line, col, start, i))
                continue
            tokens.append(Token(kind, sql[start:i], line, col, start, i))
            continue
        if c.isalpha() or c == "_":
            while i < n and (sql[i].isalnum() or sql[i] in "_@$"):
                i += 1
            tokens.append(Token(TokenKind.IDENT, sql[start:i], line, col, start, i))
            continue
        for op in _OPERATORS:
            if sql.startswith(op, i):
                i += len(op)
                tokens.append(Token(TokenKind.OP, op, line, col, start, i))
                break
        else:
            raise error(start, c, f"Syntax Error\nextraneous input '{c}'")
    tokens.append(Token(TokenKind.EOF, "", line, n - line_start, n, n))
    return tokens
