"""Transactions of a seeded population: normal traffic with fraud scenarios mixed in at a share."""

from __future__ import annotations

import json
import math
import random
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from streamguard.producer.population import Account, Merchant, Population
from streamguard.producer.scenarios import Limits, Scenario

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
# Relative activity per UTC hour: quiet nights, a lunch bump and an evening peak.
HOURLY_WEIGHT: tuple[float, ...] = (
    0.20, 0.15, 0.10, 0.10, 0.15, 0.30, 0.50, 0.80, 1.00, 1.10, 1.20, 1.20,
    1.30, 1.20, 1.10, 1.10, 1.20, 1.30, 1.40, 1.30, 1.10, 0.90, 0.60, 0.40,
)  # fmt: skip
_CENT = Decimal("0.01")


@dataclass(frozen=True)
class Generated:
    """One transaction as the topic carries it, with its ground truth."""

    value: dict[str, Any]
    scenario: Scenario

    @property
    def key(self) -> bytes:
        return str(self.value["account_id"]).encode()

    def to_json(self) -> bytes:
        return json.dumps(self.value, separators=(",", ":")).encode()

    def ground_truth(self) -> dict[str, Any]:
        """A line of the ground-truth file: the transaction and its scenario."""
        return {**self.value, "scenario": self.scenario.value}


class TransactionGenerator:
    """An endless, reproducible stream of transactions.

    Each fraud scenario gets `fraud_share / len(scenarios)` of the transactions, the rest is
    normal traffic. Shares are kept by deficit (the category furthest behind its share goes next)
    rather than by coin flips, so they hold within a fraction of a percent on any long run.

    Event times come from `clock` when given (live traffic: the wall clock); otherwise from a
    simulated clock that starts at `start_ms` and advances by `1000 / rate` ms a transaction,
    stretched at night by the hourly activity curve.
    """

    def __init__(
        self,
        population: Population,
        *,
        seed: int,
        fraud_share: float = 0.05,
        scenarios: Sequence[Scenario] | None = None,
        start_ms: int = 1_767_225_600_000,
        rate: float = 100.0,
        clock: Callable[[], int] | None = None,
        limits: Limits | None = None,
    ) -> None:
        if not 0 <= fraud_share <= 1:
            raise ValueError(f"fraud share must be between 0 and 1, got {fraud_share}")
        self.population = population
        self.limits = limits or Limits()
        self.rng = random.Random(seed)
        chosen = list(scenarios) if scenarios is not None else Scenario.fraud()
        if Scenario.NORMAL in chosen or (not chosen and fraud_share > 0):
            raise ValueError("scenarios must name at least one fraud scenario, and not 'normal'")
        self.shares: dict[Scenario, float] = {s: fraud_share / len(chosen) for s in chosen}
        self.shares[Scenario.NORMAL] = 1.0 - fraud_share
        self.counts: dict[Scenario, int] = dict.fromkeys(self.shares, 0)
        self.total = 0
        self._now_ms = start_ms
        self._gap_ms = 1000.0 / rate
        self._clock = clock
        self._normal_index = 0
        self._fraud_index = 0
        # A fixed round of accounts keeps each account's normal transactions as far apart as the
        # population allows, so normal traffic never looks like a velocity burst.
        self._round = list(population.accounts)
        self.rng.shuffle(self._round)
        self._group: dict[Scenario, Callable[[int], list[Generated]]] = {
            Scenario.NORMAL: self._normal,
            Scenario.HIGH_AMOUNT: self._high_amount,
            Scenario.VELOCITY_BURST: self._velocity_burst,
            Scenario.AMOUNT_BURST: self._amount_burst,
            Scenario.IMPOSSIBLE_TRAVEL: self._impossible_travel,
            Scenario.CARD_TESTING: self._card_testing,
            Scenario.NIGHT_HIGH_AMOUNT: self._night_high_amount,
            Scenario.BLACKLISTED: self._blacklisted,
        }
        self._sizes = {
            Scenario.NORMAL: 1,
            Scenario.VELOCITY_BURST: self.limits.velocity_count + 1,
            Scenario.AMOUNT_BURST: 3,
            Scenario.IMPOSSIBLE_TRAVEL: 2,
            Scenario.CARD_TESTING: self.limits.card_testing_count + 1,
        }

    def __iter__(self) -> Iterator[Generated]:
        while True:
            yield from self.next_group()

    def take(self, count: int) -> list[Generated]:
        """The next `count` transactions (a burst in progress is cut at the count)."""
        out: list[Generated] = []
        while len(out) < count:
            out.extend(self.next_group())
        return out[:count]

    def next_group(self) -> list[Generated]:
        """The next normal transaction, or the next fraud scenario's transactions."""
        scenario = max(
            self.shares,
            key=lambda s: self.shares[s] * (self.total + self._sizes.get(s, 1)) - self.counts[s],
        )
        group = self._group[scenario](self._anchor())
        self.counts[scenario] += len(group)
        self.total += len(group)
        return group

    # -- time --------------------------------------------------------------------------------

    def _anchor(self) -> int:
        if self._clock is not None:
            return self._clock()
        now = self._now_ms
        weight = HOURLY_WEIGHT[(now // HOUR_MS) % 24]
        self._now_ms += max(1, round(self._gap_ms / weight))
        return now

    def _in_window(self, anchor: int, offsets: list[int], window_ms: int) -> list[int]:
        """Times for a group spread over `offsets`, all inside the window that holds `anchor`.

        Windowed rules count per tumbling window; a burst split across two would trip neither.
        """
        span = offsets[-1]
        window_start = anchor - anchor % window_ms
        start = max(window_start, anchor - span)
        return [start + offset for offset in offsets]

    def _offsets(self, count: int, low_ms: int, high_ms: int) -> list[int]:
        offsets = [0]
        for _ in range(count - 1):
            offsets.append(offsets[-1] + self.rng.randint(low_ms, high_ms))
        return offsets

    # -- building blocks ---------------------------------------------------------------------

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _amount(self, low: Decimal | float, high: Decimal | float) -> Decimal:
        return Decimal(str(self.rng.uniform(float(low), float(high)))).quantize(_CENT)

    def _merchant(self, country: str) -> Merchant:
        return self.rng.choice(self.population.merchants_by_country[country])

    def _txn(
        self,
        scenario: Scenario,
        account: Account,
        merchant: Merchant,
        amount: Decimal,
        event_time: int,
        *,
        card: str | None = None,
        channel: str | None = None,
    ) -> Generated:
        value = {
            "transaction_id": self._uuid(),
            "account_id": account.account_id,
            "card_id": card or self.rng.choice(account.cards),
            "amount": float(amount),
            "currency": account.currency,
            "merchant_id": merchant.merchant_id,
            "merchant_name": merchant.name,
            "merchant_category": merchant.category,
            "country": merchant.country,
            "city": merchant.city,
            "latitude": merchant.latitude,
            "longitude": merchant.longitude,
            "channel": channel or merchant.channel,
            "event_time": event_time,
        }
        return Generated(value, scenario)

    def _fraud_account(self) -> Account:
        pool = self.population.fraud_accounts
        account = pool[self._fraud_index % len(pool)]
        self._fraud_index += 1
        return account

    # -- scenarios ---------------------------------------------------------------------------

    def _normal(self, anchor: int) -> list[Generated]:
        account = self._round[self._normal_index % len(self._round)]
        self._normal_index += 1
        limits = self.limits
        # Spend around the account's habit, lower at night, always clear of every rule's limit.
        hour_weight = HOURLY_WEIGHT[(anchor // HOUR_MS) % 24]
        typical = float(account.typical_spend) * (0.5 + hour_weight / 2)
        raw = self.rng.lognormvariate(math.log(typical), 0.6)
        amount = Decimal(str(raw)).quantize(_CENT)
        amount = min(max(amount, limits.normal_min_amount), limits.normal_max_amount)
        merchant = self._merchant(account.home_country)
        return [self._txn(Scenario.NORMAL, account, merchant, amount, anchor)]

    def _high_amount(self, anchor: int) -> list[Generated]:
        account = self._fraud_account()
        amount = self._amount(self.limits.high_amount * Decimal("1.1"), 15_000)
        merchant = self._merchant(account.home_country)
        return [self._txn(Scenario.HIGH_AMOUNT, account, merchant, amount, anchor)]

    def _velocity_burst(self, anchor: int) -> list[Generated]:
        account = self._fraud_account()
        count = self.limits.velocity_count + 1
        times = self._in_window(
            anchor, self._offsets(count, 2_000, 8_000), self.limits.velocity_window_ms
        )
        return [
            self._txn(
                Scenario.VELOCITY_BURST,
                account,
                self._merchant(account.home_country),
                self._amount(10, 150),
                t,
            )
            for t in times
        ]

    def _amount_burst(self, anchor: int) -> list[Generated]:
        account = self._fraud_account()
        # Three amounts each under the high-amount limit whose sum clears the 5-minute limit.
        share = self.limits.amount_velocity_total / 3
        times = self._in_window(
            anchor, self._offsets(3, 20_000, 60_000), self.limits.amount_velocity_window_ms
        )
        return [
            self._txn(
                Scenario.AMOUNT_BURST,
                account,
                self._merchant(account.home_country),
                self._amount(
                    share * Decimal("1.05"),
                    min(share * Decimal("1.3"), self.limits.high_amount - 1),
                ),
                t,
            )
            for t in times
        ]

    def _impossible_travel(self, anchor: int) -> list[Generated]:
        account = self._fraud_account()
        abroad = self.rng.choice(
            [c for c in self.population.merchants_by_country if c != account.home_country]
        )
        times = self._in_window(
            anchor, self._offsets(2, 60_000, 240_000), self.limits.geo_window_ms
        )
        return [
            self._txn(
                Scenario.IMPOSSIBLE_TRAVEL,
                account,
                self._merchant(country),
                self._amount(20, 300),
                t,
            )
            for country, t in zip((account.home_country, abroad), times, strict=True)
        ]

    def _card_testing(self, anchor: int) -> list[Generated]:
        account = self._fraud_account()
        card = self.rng.choice(account.cards)
        count = self.limits.card_testing_count + 1
        times = self._in_window(
            anchor, self._offsets(count, 5_000, 40_000), self.limits.card_testing_window_ms
        )
        low = Decimal("0.50")
        high = self.limits.card_testing_amount - _CENT
        return [
            self._txn(
                Scenario.CARD_TESTING,
                account,
                self._merchant(account.home_country),
                self._amount(low, high),
                t,
                card=card,
                channel="ONLINE",
            )
            for t in times
        ]

    def _night_high_amount(self, anchor: int) -> list[Generated]:
        account = self._fraud_account()
        day_start = anchor - anchor % DAY_MS
        night_end = day_start + self.limits.night_end_hour * HOUR_MS
        # The small hours of the anchor's day: now if it is night, else earlier today.
        when = (
            anchor if anchor < night_end else self.rng.randint(day_start + HOUR_MS, night_end - 1)
        )
        amount = self._amount(
            self.limits.night_amount * Decimal("1.5"), self.limits.high_amount * Decimal("0.9")
        )
        merchant = self._merchant(account.home_country)
        return [self._txn(Scenario.NIGHT_HIGH_AMOUNT, account, merchant, amount, when)]

    def _blacklisted(self, anchor: int) -> list[Generated]:
        amount = self._amount(self.limits.high_amount * Decimal("1.1"), 9_000)
        if self.rng.random() < 0.5:
            account = self.rng.choice(self.population.blacklisted_accounts)
            merchant = self._merchant(account.home_country)
        else:
            account = self._fraud_account()
            merchant = self.rng.choice(self.population.blacklisted_merchants)
        return [self._txn(Scenario.BLACKLISTED, account, merchant, amount, anchor)]
