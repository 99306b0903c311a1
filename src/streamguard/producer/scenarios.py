"""The fraud scenarios the producer mixes in, and the rule limits normal traffic stays under."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal

# The Kafka header that carries a transaction's ground truth; the rules never read it.
SCENARIO_HEADER = "streamguard-scenario"


class Scenario(enum.StrEnum):
    """A transaction's ground truth. Each fraud scenario is shaped to trip one rule of ksql/."""

    NORMAL = "normal"
    HIGH_AMOUNT = "high_amount"  # one amount above the high-amount limit
    VELOCITY_BURST = "velocity_burst"  # many transactions of one account within a minute
    AMOUNT_BURST = "amount_burst"  # a few large amounts adding up past the 5-minute limit
    IMPOSSIBLE_TRAVEL = "impossible_travel"  # one account in two countries minutes apart
    CARD_TESTING = "card_testing"  # small amounts in a row on one card
    NIGHT_HIGH_AMOUNT = "night_high_amount"  # a large amount in the small hours (UTC)
    BLACKLISTED = "blacklisted"  # a blacklisted account or merchant spending big

    @classmethod
    def fraud(cls) -> list[Scenario]:
        return [s for s in cls if s is not cls.NORMAL]

    @property
    def rule_id(self) -> str | None:
        """The rule this scenario trips (blacklisted: high_amount, plus a blacklist hit)."""
        return _RULE_OF.get(self)


_RULE_OF = {
    Scenario.HIGH_AMOUNT: "high_amount",
    Scenario.VELOCITY_BURST: "velocity",
    Scenario.AMOUNT_BURST: "amount_velocity",
    Scenario.IMPOSSIBLE_TRAVEL: "geo_spread",
    Scenario.CARD_TESTING: "card_testing",
    Scenario.NIGHT_HIGH_AMOUNT: "night_high_amount",
    Scenario.BLACKLISTED: "high_amount",
}


@dataclass(frozen=True)
class Limits:
    """The rules' default thresholds (the DEFINEs of ksql/), which normal traffic stays clear of.

    Normal traffic keeps a wide margin below each, so a benign transaction never trips a rule.
    """

    high_amount: Decimal = Decimal("5000.00")
    velocity_count: int = 5  # per account, 1-minute tumbling window
    velocity_window_ms: int = 60_000
    amount_velocity_total: Decimal = Decimal("10000.00")  # per account, 5-minute window
    amount_velocity_window_ms: int = 300_000
    geo_countries: int = 2  # distinct countries per account, 10-minute window
    geo_window_ms: int = 600_000
    card_testing_amount: Decimal = Decimal("2.00")  # under this, 3+ per card in 5 minutes
    card_testing_count: int = 3
    card_testing_window_ms: int = 300_000
    night_amount: Decimal = Decimal("1000.00")  # above this between 00:00 and 05:00 UTC
    night_end_hour: int = 5

    # Normal traffic: amounts within these bounds, and each account at most once in this span.
    normal_min_amount: Decimal = Decimal("5.00")
    normal_max_amount: Decimal = Decimal("800.00")
    normal_account_spacing_ms: int = 30_000
