"""Errors of the local stack: each names the cause and, where there is one, the log to read."""

from __future__ import annotations

from pathlib import Path


class StackError(Exception):
    """A part of the local stack could not be started, checked or stopped."""

    def __init__(self, message: str, *, log: Path | None = None) -> None:
        self.log = log
        super().__init__(f"{message} (log: {log})" if log else message)


class MissingToolError(StackError):
    """Java or Maven, which the local Kafka broker needs, is not installed."""


class NotReadyError(StackError):
    """A part started but did not become ready in time."""
