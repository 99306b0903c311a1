"""The emulator's error tree; each class names the ksqlDB Java exception it stands for.

KsqlError
  ParseError                  (ParseFailedException: the text is not a statement)
  KsqlStatementError          (KsqlStatementException: a statement is valid SQL but wrong)
    UnknownFunctionError      (a function name the registry does not know)
    FunctionArgumentError     (a known function called with arguments it does not accept)
    UnknownSourceError        (a stream/table name the catalog does not know)
    UnknownColumnError        (a column name no source in scope has)
    TypeMismatchError         (an expression whose types do not fit)
  SerializationError          (bytes that do not decode, or values that do not encode)
  RuntimeEvaluationError      (an expression that failed on one record)
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "JAVA_SUPERTYPES",
    "FunctionArgumentError",
    "KsqlError",
    "KsqlStatementError",
    "ParseError",
    "PrepareError",
    "RuntimeEvaluationError",
    "SerializationError",
    "StreamsError",
    "TypeMismatchError",
    "UnknownColumnError",
    "UnknownFunctionError",
    "UnknownSourceError",
    "is_java_subtype",
]


# ksqlDB's exception hierarchy, so a check for a supertype (QTT uses instanceof) accepts subtypes.
JAVA_SUPERTYPES: dict[str, str] = {
    "ParseFailedException": "KsqlStatementException",
    "KsqlStatementException": "KsqlException",
    "KsqlException": "RuntimeException",
    "SerializationException": "KafkaException",
    "StreamsException": "KafkaException",
    "KafkaException": "RuntimeException",
}


def is_java_subtype(actual: str, expected: str) -> bool:
    """Whether ksqlDB's exception `actual` is `expected` or a subclass of it (simple names)."""
    name: str | None = actual
    while name is not None:
        if name == expected:
            return True
        name = JAVA_SUPERTYPES.get(name)
    return False


class KsqlError(Exception):
    """Root of every error the emulator raises on purpose."""

    ksql_type = "KsqlException"

    line: int | None = None
    col: int | None = None
    # The text of the statement that failed, when known: ksqlDB's KsqlStatementException
    # (ParseFailedException included) ends its message with it, though REST answers do not.
    statement: str | None = None
    # The statement as ksqlDB's engine printed it back while planning a persistent query
    # (sanitized: aliases, qualified columns, output names): its in-process message ends so.
    planned_statement: str | None = None
    # What a REST error answer carries besides: ksqlDB's error code when it is not the
    # endpoint's default, and the entities of the statements of the request that ran before.
    error_code: int | None = None
    entities: list[dict[str, Any]] | None = None
    # Answered as a `generic_error` (ksqlDB's plain KsqlException, or a failed ASSERT) rather
    # than a `statement_error`.
    generic: bool = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def locate(self, line: int, col: int) -> KsqlError:
        """Record where in the statement text the problem is, unless already known."""
        if self.line is None and line > 0:
            self.line = line
            self.col = col
        return self

    def __str__(self) -> str:
        if self.line is not None and not isinstance(self, ParseError):
            return f"Line: {self.line}, Col: {self.col}: {self.message}"
        return self.message

    def with_statement(self) -> str:
        """The message as ksqlDB's exception reads in process: with the statement text."""
        shown = self.statement if self.statement is not None else self.planned_statement
        if shown is None:
            return str(self)
        return f"{self}\nStatement: {shown}"


class ParseError(KsqlError):
    """Raised when statement text does not follow ksqlDB's grammar; carries line and column."""

    ksql_type = "ParseFailedException"

    def __init__(self, line: int, col: int, token: str, hint: str, prefix: str = "") -> None:
        self.token = token
        self.hint = hint
        super().__init__(f"{prefix}line {line}:{col}: {hint}")
        self.line = line
        self.col = col

    def render(self, sql: str) -> str:
        """The message, then the offending line of `sql` with a caret under the token."""
        line, col = self.line or 1, max((self.col or 1) - 1, 0)  # 1-based in the message
        lines = sql.splitlines() or [""]
        index = min(max(line, 1), len(lines)) - 1
        text = lines[index]
        start = max(0, col - 50)
        snippet = text[start : col + 50]
        caret = " " * (col - start) + "^" * max(1, min(len(self.token), 40))
        return f"{self.message}\nLine {line}, Col {self.col}:\n  {snippet}\n  {caret}"


class StatementTooLargeError(KsqlError):
    """A statement nested deeper than the parser's stack takes (thousands of parentheses, a
    sum of 20,000 terms). ksqlDB catches its own stack overflow and answers a bad request."""

    # ksqlDB raises a plain KsqlException here: a `generic_error` 40000, not a statement error.
    error_code = 40000
    generic = True

    def __init__(self) -> None:
        super().__init__(
            "Error processing statement: Statement is too large to parse. "
            "This may be caused by having too many nested expressions in the statement."
        )


class KsqlStatementError(KsqlError):
    """Raised when a statement parses but cannot be executed as written."""

    ksql_type = "KsqlStatementException"


class PrepareError(KsqlStatementError):
    """Raised when a statement's properties are invalid while it is prepared (ksqlDB reports
    these as a ParseFailedException, without a position)."""

    ksql_type = "ParseFailedException"


class UnknownFunctionError(KsqlStatementError):
    """Raised when an expression calls a function the registry does not know."""


class FunctionArgumentError(KsqlStatementError):
    """Raised when a function is called with argument types it does not accept."""


class UnknownSourceError(KsqlStatementError):
    """Raised when a statement names a stream or table that does not exist."""


class UnknownColumnError(KsqlStatementError):
    """Raised when an expression names a column no source in scope has."""


class TypeMismatchError(KsqlStatementError):
    """Raised when operand types do not fit an operator, cast or target column."""


class SerializationError(KsqlError):
    """Raised when a record cannot be serialized or deserialized in its format."""

    ksql_type = "SerializationException"


class RuntimeEvaluationError(KsqlError):
    """Raised when an expression fails on one record; the runtime logs it and drops the record."""

    ksql_type = "KsqlException"


class StreamsError(KsqlError):
    """Raised when the stream processing itself fails, as Kafka Streams' StreamsException."""

    ksql_type = "StreamsException"
