"""The errors of the ksqlDB client, one tree rooted at `KsqlError`.

KsqlError
├── KsqlConnectionError   the server could not be reached or the connection broke
├── KsqlStatementError    ksqlDB refused a statement or query (its `error_code` and message)
└── KsqlResponseError     the server answered something that is not ksqlDB's protocol
"""

from __future__ import annotations

from typing import Any


class KsqlError(Exception):
    """Root of every error the ksqlDB client raises."""


class KsqlConnectionError(KsqlError):
    """Raised when the server cannot be reached, times out, or drops the connection.

    Wraps the underlying httpx error (as `__cause__`); check the server address and that the
    server is running.
    """

    def __init__(self, message: str, *, url: str) -> None:
        super().__init__(message)
        self.url = url


class KsqlStatementError(KsqlError):
    """Raised when ksqlDB answers with its error body: a statement or query it refused.

    Carries ksqlDB's `error_code` (e.g. 40001 for a bad statement), its `message`, the
    `statement_text` it refused (when it names one) and the `entities` it had already produced.
    """

    def __init__(
        self,
        error_code: int,
        message: str,
        statement_text: str | None = None,
        *,
        status_code: int | None = None,
        entities: list[Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.message = message
        self.statement_text = statement_text
        self.status_code = status_code
        self.entities = entities or []

    def __str__(self) -> str:
        return f"{self.message} (ksqlDB error {self.error_code})"


class KsqlResponseError(KsqlError):
    """Raised when a response is not what ksqlDB's REST API sends (wrong status, bad JSON).

    Usually the address points at something other than ksqlDB, or a proxy in between answered.
    """

    def __init__(self, message: str, *, status_code: int | None = None, body: str = "") -> None:
        super().__init__(message)
        self.status_code = status_code
        self.body = body
