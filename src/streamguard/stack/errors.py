"""Errors of the local stack: each names the cause and, where there is one, the log to read."""

from __future__ import annotations

from pathlib import Path

TAIL_LINES = 8
FIRST_ERRORS = 4
_ERROR_MARKS = (" ERROR ", " FATAL ", "FATAL:", "ERROR:", "Exception", "Error:")


class StackError(Exception):
    """A part of the local stack could not be started, checked or stopped.

    With a log, the message ends with the log's last lines: the reason a process died is
    nearly always there, and the state dir holding the log may be gone by the time anyone looks.
    """

    def __init__(self, message: str, *, log: Path | None = None) -> None:
        self.log = log
        if log is None:
            super().__init__(message)
            return
        excerpt = log_excerpt(log)
        shown = "\n".join(f"  | {line}" for line in excerpt)
        super().__init__(
            f"{message} (log: {log})" + (f"\nfrom the log:\n{shown}" if excerpt else "")
        )


def log_excerpt(log: Path) -> list[str]:
    """The first error lines of a log's recent part, then its last lines; none if unreadable.

    A dying server logs its cause first and then pages of shutdown, so the last lines alone
    often miss the reason.
    """
    try:
        with log.open("rb") as handle:
            handle.seek(0, 2)
            handle.seek(max(0, handle.tell() - 64_000))
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return []
    # Java stack frames say where, not why.
    lines = [
        line.rstrip()[:300]
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith(("at ", "... "))
    ]
    errors = [line for line in lines if any(mark in line for mark in _ERROR_MARKS)]
    tail = lines[-TAIL_LINES:]
    picked = [line for line in errors[:FIRST_ERRORS] if line not in tail]
    return [*picked, *(["  ..."] if picked else []), *tail]


class MissingToolError(StackError):
    """Java or Maven, which the local Kafka broker needs, is not installed."""


class NotReadyError(StackError):
    """A part started but did not become ready in time."""
