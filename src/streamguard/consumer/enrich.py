"""Enrichment: blacklist hits, the raised severity and the risk score of one alert."""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple

from streamguard.blacklist import BlacklistCache, Hit
from streamguard.models import Alert, Severity
from streamguard.models import BlacklistKind as Kind

SEVERITY_BASE = {Severity.LOW: 20, Severity.MEDIUM: 40, Severity.HIGH: 60, Severity.CRITICAL: 80}
_ZERO = Decimal(0)
HIT_WEIGHT = {Kind.ACCOUNT: 25, Kind.CARD: 25, Kind.MERCHANT: 15, Kind.COUNTRY: 10}


class Enriched(NamedTuple):
    """An alert with what enrichment found (a tuple: one is made per alert consumed)."""

    alert: Alert
    hits: tuple[Hit, ...]
    severity: Severity
    risk_score: int


def risk_score(alert: Alert, hits: tuple[Hit, ...]) -> int:
    """0-100: the rule's severity, plus each blacklist hit, plus one point per 1,000 of money.

    score = min(100, base(severity) + sum(weight(hit)) + min(10, amount // 1000))
    base: LOW 20, MEDIUM 40, HIGH 60, CRITICAL 80; weight: account or card 25, merchant 15,
    country 10; amount: the larger of AMOUNT and TOTAL_AMOUNT.
    """
    money = max(alert.amount or _ZERO, alert.total_amount or _ZERO)
    score = SEVERITY_BASE[alert.severity]
    if hits:
        score += sum(HIT_WEIGHT[h.kind] for h in hits)
    score += min(10, int(money // 1000))
    return min(100, score)


def enrich(alert: Alert, blacklist: BlacklistCache) -> Enriched:
    """The alert with its blacklist hits; each hit raises the severity one level."""
    hits = tuple(
        blacklist.hits(
            [
                (Kind.ACCOUNT, alert.account_id),
                (Kind.CARD, alert.card_id),
                (Kind.MERCHANT, alert.merchant_id),
                (Kind.COUNTRY, alert.country),
            ]
        )
    )
    return Enriched(alert, hits, alert.severity.raised(len(hits)), risk_score(alert, hits))
