"""The fraud scenarios the producer mixes in, and the rule limits normal traffic stays under."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal

# The Kafka header that carries a transaction's ground truth; the rules never read it.
SCENARIO_HEADER = "streamguard-scenario"


class Scenario(enum.StrEnum):
    """A transaction's ground truth, as the `streamguard-scenario` header carries it.

    The names are a public contract: the rules' tests, the backtest and the end-to-end tests
    match alerts against them. Fraud happens to ordinary accounts and cards of the population,
    drawn at random; nothing but this label tells it from normal traffic. Each fraud scenario
    is shaped to trip one rule of ksql/ (`rule_id`) with the default `Limits`:

    ====================  =========================================================  ===========
    name                  what the producer sends                                    trips
    ====================  =========================================================  ===========
    `normal`              everyday spend of one account in its home country, 5.00-   nothing,
                          800.00 (less at night), each account at most every 30 s;   bar its
                          and, every few hundred, a hard case: an honest big         hard cases
                          purchase (1,500-8,000), a traveller paying at home and
                          abroad (minutes or hours apart), a busy shopper (4-7
                          payments 6-20 s apart). The ground truth names the case.
    `high_amount`         a taken-over card: one amount of 5,500.00-9,000.00          high_amount
    `velocity_burst`      a compromised account: 6 transactions, 2-8 s apart, in     velocity
                          one 1-minute window
    `amount_burst`        3 amounts of 3,500.00-4,333.33 (each under the high-amount  amount_
                          limit, together over 10,000.00) in one 5-minute window      velocity
    `impossible_travel`   a cloned card: paid at home, then 1-4 minutes later in     geo_spread
                          another country, in one 10-minute window
    `card_testing`        a stolen card number tried: 4 online amounts of 0.50-1.99,  card_
                          5-40 s apart, in one 5-minute window                        testing
    `night_high_amount`   one amount of 1,500.00-4,500.00 between 00:00 and 05:00     night_high_
                          UTC: now if it is night, else earlier the same day          amount
    `blacklisted`         a high amount by a mule account of the blacklist, or by an  high_amount
                          ordinary account at a blacklisted merchant
    ====================  =========================================================  ===========

    Amounts above 1,000.00 whose time falls between 00:00 and 05:00 UTC trip night_high_amount
    as well (high_amount, amount_burst, blacklisted at night), as the rules should; a fraud
    on an account that also pays normally in the same window adds to that window's counts.
    """

    NORMAL = "normal"
    HIGH_AMOUNT = "high_amount"
    VELOCITY_BURST = "velocity_burst"
    AMOUNT_BURST = "amount_burst"
    IMPOSSIBLE_TRAVEL = "impossible_travel"
    CARD_TESTING = "card_testing"
    NIGHT_HIGH_AMOUNT = "night_high_amount"
    BLACKLISTED = "blacklisted"

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
    """The rules' default thresholds (the DEFINEs of ksql/), in one place.

    The fraud scenarios' amounts, counts and spacing derive from these. Everyday normal traffic
    keeps a wide margin below each; only its hard cases come near (and past) them. Rules run
    with other thresholds call for a `Limits` with the same numbers.
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
