"""A failing case shown as a diff: the alerts expected against the alerts the rule wrote."""

from __future__ import annotations

import difflib
from datetime import UTC, datetime
from typing import Any

from streamguard.rules.cases import TIME_FIELDS
from streamguard.rules.runner import CaseResult

# Shown for every alert, so that a surprise alert says what it is about.
_ALWAYS = ("rule_id", "account_id")
# Shown for alerts where a case expects none: what tells one rule's alert from another's.
_UNEXPECTED = (*_ALWAYS, "transaction_id", "amount", "txn_count", "window_start")


def alert_diff(result: CaseResult) -> list[str]:
    """Unified-diff lines, one alert a line.

    The n-th alert written is shown on the fields the n-th expected alert names, so that an
    alert that matches shows as the same line; alerts beyond the expected ones on the fields
    any expected alert names.
    """
    every = list(_ALWAYS) if result.expected else list(_UNEXPECTED)
    for alert in result.expected:
        every.extend(name for name in alert if name not in every)
    fields = [[*_ALWAYS, *(n for n in alert if n not in _ALWAYS)] for alert in result.expected]
    expected = [_line(alert, names) for alert, names in zip(result.expected, fields, strict=True)]
    actual = [
        _line(alert, fields[index] if index < len(fields) else every)
        for index, alert in enumerate(result.actual)
    ]
    return list(
        difflib.unified_diff(
            expected, actual, fromfile="expected alerts", tofile="alerts written", lineterm=""
        )
    )


def _line(alert: dict[str, Any], names: list[str]) -> str:
    return " ".join(f"{name}={_shown(name, alert.get(name))}" for name in names)


def _shown(name: str, value: Any) -> str:
    if value is None:
        return "null"
    if name in TIME_FIELDS and isinstance(value, int):
        return datetime.fromtimestamp(value / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)
