"""ksqlDB's error bodies (`statement_error`, `generic_error`) and the codes it uses."""

from __future__ import annotations

from typing import Any

from ksql_emulator.errors import KsqlError, StatementTooLargeError

__all__ = [
    "ERROR_CODE_BAD_REQUEST",
    "ERROR_CODE_BAD_STATEMENT",
    "ERROR_CODE_HTTP2_ONLY",
    "ERROR_CODE_NOT_FOUND",
    "ERROR_CODE_QUERY_ENDPOINT",
    "ERROR_CODE_SERVER_ERROR",
    "ApiError",
    "generic_error",
    "statement_error",
    "statement_error_from",
]

# ksqlDB's io.confluent.ksql.rest.Errors: HTTP status * 100 (+ n).
ERROR_CODE_BAD_REQUEST = 40000
ERROR_CODE_BAD_STATEMENT = 40001
ERROR_CODE_QUERY_ENDPOINT = 40002
ERROR_CODE_MAX_PUSH_QUERIES_EXCEEDED = 40003
ERROR_CODE_HTTP2_ONLY = 40004
ERROR_CODE_NOT_FOUND = 40400
ERROR_CODE_SERVER_ERROR = 50000


class ApiError(Exception):
    """Raised inside a route to answer with ksqlDB's error body and an HTTP status."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body.get("message", ""))
        self.status = status
        self.body = body


def generic_error(error_code: int, message: str) -> dict[str, Any]:
    return {"@type": "generic_error", "error_code": error_code, "message": message}


def statement_error(
    error_code: int, message: str, statement_text: str, entities: list[Any] | None = None
) -> dict[str, Any]:
    return {
        "@type": "statement_error",
        "error_code": error_code,
        "message": message,
        "statementText": statement_text,
        "entities": list(entities or []),
    }


def statement_error_from(exc: BaseException, request_text: str) -> tuple[int, dict[str, Any]]:
    """The HTTP status and body for an exception raised by the engine on `request_text`."""
    if isinstance(exc, RecursionError):
        # Parsed, but too deep for a later step's walk over it: as ksqlDB, a statement too
        # large to process, never a server error.
        exc = StatementTooLargeError()
    if isinstance(exc, KsqlError) and exc.generic:
        # ksqlDB's plain KsqlException (or a failed ASSERT's 417): a generic error, no statement.
        code = exc.error_code if exc.error_code is not None else ERROR_CODE_BAD_REQUEST
        return code // 100, generic_error(code, exc.message)
    if isinstance(exc, KsqlError):
        default_code = ERROR_CODE_BAD_STATEMENT
        message = exc.message
    else:
        default_code = ERROR_CODE_SERVER_ERROR
        message = str(exc) or type(exc).__name__
    error_code, statement_text, entities = default_code, request_text, []
    if isinstance(exc, KsqlError):
        error_code = exc.error_code if exc.error_code is not None else default_code
        statement_text = exc.statement if exc.statement is not None else request_text
        entities = exc.entities or []
    body = statement_error(error_code, message, statement_text, entities)
    return error_code // 100, body
