"""Times as people type them: ISO 8601 in blacklist files, rule cases and command options."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_time(text: str) -> datetime:
    """An ISO 8601 time; one without a zone is taken as UTC."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO 8601 time like 2026-12-31T00:00:00Z") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
