"""The risk score and severity raise, as the README documents them."""

from __future__ import annotations

import pytest

from streamguard.blacklist import Hit
from streamguard.consumer.enrich import risk_score
from streamguard.models import Alert, Severity
from streamguard.models import BlacklistKind as Kind


def _alert(severity: str, amount: str | None = None, total: str | None = None) -> Alert:
    return Alert.model_validate(
        {
            "rule_id": "r",
            "severity": severity,
            "account_id": "A",
            "window_start": 1_763_900_000_000,
            "amount": amount,
            "total_amount": total,
        }
    )


@pytest.mark.parametrize(
    ("severity", "amount", "total", "hits", "score"),
    [
        ("LOW", None, None, (), 20),
        ("HIGH", "5500.00", None, (), 65),
        ("MEDIUM", None, "12000.00", (Kind.MERCHANT,), 40 + 15 + 10),
        ("HIGH", "100.00", None, (Kind.ACCOUNT, Kind.COUNTRY), 60 + 25 + 10),
        ("CRITICAL", "99999.00", None, (Kind.ACCOUNT, Kind.CARD), 100),
    ],
)
def test_risk_score(
    severity: str, amount: str | None, total: str | None, hits: tuple[Kind, ...], score: int
) -> None:
    found = tuple(Hit(k, "x", "why") for k in hits)
    assert risk_score(_alert(severity, amount, total), found) == score


def test_each_hit_raises_severity_one_level_up_to_critical() -> None:
    assert Severity.MEDIUM.raised(1) is Severity.HIGH
    assert Severity.HIGH.raised(2) is Severity.CRITICAL
