"""Transactions of a seeded population: normal traffic with fraud scenarios mixed in at a share."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal
from typing import Any, ClassVar, NamedTuple

from streamguard.producer.population import Account, Merchant, Population
from streamguard.producer.scenarios import Limits, Scenario

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
# Relative activity per UTC hour: quiet nights, a lunch bump and an evening peak.
HOURLY_WEIGHT: tuple[float, ...] = (
    0.20, 0.15, 0.10, 0.10, 0.15, 0.30, 0.50, 0.80, 1.00, 1.10, 1.20, 1.20,
    1.30, 1.20, 1.10, 1.10, 1.20, 1.30, 1.40, 1.30, 1.10, 0.90, 0.60, 0.40,
)  # fmt: skip
# Normal spend follows the hour too: an account spends less at night than at noon.
_HOURLY_SPEND_LOG = tuple(math.log(0.5 + w / 2) for w in HOURLY_WEIGHT)
_SPEND_SIGMA = 0.6
# A random 128-bit number made a version-4 UUID: the version nibble and the variant bits set.
_UUID_KEEP = ~((0xF000 << 64) | (0xC000 << 48)) & ((1 << 128) - 1)
_UUID_SET = (0x4000 << 64) | (0x8000 << 48)
# An amount's cents as two digits: a format spec inside the message's f-string costs a call,
# which was an eighth of making a message.
_TWO_DIGITS = tuple(f"{n:02d}" for n in range(100))


class Generated(NamedTuple):
    """One transaction as the topic carries it (key and JSON value), with its ground truth.

    The value is encoded once, when the transaction is made; its fields follow the
    `Transaction` model's order, so `Transaction.from_json(value)` reads it (a test checks
    every message).
    """

    key: bytes
    value: bytes
    scenario: Scenario

    def fields(self) -> dict[str, Any]:
        """The message value as a dict (JSON numbers as floats)."""
        result: dict[str, Any] = json.loads(self.value)
        return result

    def ground_truth(self) -> dict[str, Any]:
        """A line of the ground-truth file: the transaction and its scenario."""
        return {**self.fields(), "scenario": self.scenario.value}

    def ground_truth_line(self) -> bytes:
        """`ground_truth()` as one JSON Lines line, without decoding the value again."""
        return b'%s,"scenario":"%s"}\n' % (self.value[:-1], self.scenario.value.encode())

    @property
    def case(self) -> str | None:
        """Which hard case of normal traffic this is (`NORMAL_CASES`), or None."""
        return None


class _HardCase(Generated):
    """A normal transaction of one of the hard cases: the header still says `normal`; the
    ground-truth file names the case, so a backtest can say what its false alerts were."""

    __slots__ = ()
    name: ClassVar[str] = ""

    @property
    def case(self) -> str | None:
        return self.name

    def ground_truth(self) -> dict[str, Any]:
        return {**super().ground_truth(), "case": self.name}

    def ground_truth_line(self) -> bytes:
        return b'%s,"case":"%s"}\n' % (super().ground_truth_line()[:-2], self.name.encode())


# The hard cases of normal traffic, the honest behaviour a rule can mistake for fraud.
NORMAL_CASES = ("big_purchase", "traveller", "busy_shopper")
_CASE_TYPE: dict[str, type[_HardCase]] = {
    name: type(f"_HardCase_{name}", (_HardCase,), {"__slots__": (), "name": name})
    for name in NORMAL_CASES
}


def _cents(amount: object) -> int:
    """An amount (Decimal, int or float) in whole cents."""
    return int((Decimal(str(amount)) * 100).to_integral_value())


def _merchant_json(merchant: Merchant) -> str:
    """The merchant's fields of a message, encoded once per merchant."""
    dumps = json.dumps
    return (
        f'"merchant_id":{dumps(merchant.merchant_id)},"merchant_name":{dumps(merchant.name)},'
        f'"merchant_category":{dumps(merchant.category)},"country":{dumps(merchant.country)},'
        f'"city":{dumps(merchant.city)},"latitude":{dumps(merchant.latitude)},'
        f'"longitude":{dumps(merchant.longitude)}'
    )


# A hard case of normal traffic every so many normal transactions, and how often each comes.
HARD_CASE_EVERY = (150, 450)
HARD_CASE_WEIGHTS = (0.4, 0.35, 0.25)  # big_purchase, traveller, busy_shopper

# Generated(...) goes through a Python-level __new__; the tuple's own is the same, only faster.
_new_generated = tuple.__new__


class _Regular(NamedTuple):
    """What normal traffic needs of one account, encoded once rather than per message.

    A message is then its UUID, one of `ids`, its amount, one of `tails` and its time.
    """

    key: bytes
    ids: tuple[str, ...]  # '","account_id":"…","card_id":"…"', one per card
    tails: tuple[str, ...]  # ',"currency":…,<merchant>,"channel":…,"event_time":', per merchant
    spend_log: float


class TransactionGenerator:
    """An endless, reproducible stream of transactions.

    Each fraud scenario gets `fraud_share / len(scenarios)` of the transactions, the rest is
    normal traffic. Shares are kept by deficit (the category furthest behind its share goes next)
    rather than by coin flips, so they hold within a fraction of a percent on any long run.

    Normal traffic uses the population's regular accounts in a fixed round, one country each,
    amounts well inside every rule's limits; every few hundred normal transactions it plays one
    of the hard cases (`NORMAL_CASES`: an honest big purchase, a traveller paying in two
    countries, a busy shopper), honest traffic that a rule may still alert on. Fraud happens to
    the same accounts and cards (a taken-over card, a compromised account), drawn at random;
    only the scenario says it is fraud. The blacklisted scenario uses the population's mule
    accounts and blacklisted merchants.

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
        if rate <= 0:
            raise ValueError(f"the simulated rate must be above 0 a second, got {rate}")
        chosen = list(dict.fromkeys(scenarios)) if scenarios is not None else Scenario.fraud()
        if Scenario.NORMAL in chosen or (not chosen and fraud_share > 0):
            raise ValueError("scenarios must name at least one fraud scenario, and not 'normal'")
        if not population.accounts and fraud_share < 1:
            raise ValueError("normal traffic needs at least one account in the population")
        self.population = population
        self.limits = limits or Limits()
        self.rng = random.Random(seed)
        self.shares: dict[Scenario, float] = {s: fraud_share / len(chosen) for s in chosen}
        self.shares[Scenario.NORMAL] = 1.0 - fraud_share
        self._fraud_counts: dict[Scenario, int] = dict.fromkeys(chosen, 0)
        self.total = 0
        self._now_ms = start_ms
        self._gap_ms = 1000.0 / rate
        self._clock = clock
        self._normal_run = 0
        self._normal_index = 0
        self._blacklisted_index = 0
        self._countries = sorted(population.merchants_by_country)
        # Normal transactions until the next hard case, and whether it is due once the current
        # run of normal traffic ends (the run is cut short for it).
        self._until_hard = self.rng.randint(*HARD_CASE_EVERY)
        self._hard_due = False
        self._merchant_json: dict[str, str] = {}
        # A fixed round of accounts keeps each account's normal transactions as far apart as the
        # population allows, so normal traffic never looks like a velocity burst.
        accounts = list(population.accounts)
        self.rng.shuffle(accounts)
        self._round = [self._regular(a) for a in accounts]
        self._round_size = len(self._round)
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
        self._sizes = dict.fromkeys(self.shares, 1) | {
            Scenario.VELOCITY_BURST: self.limits.velocity_count + 1,
            Scenario.AMOUNT_BURST: 3,
            Scenario.IMPOSSIBLE_TRAVEL: 2,
            Scenario.CARD_TESTING: self.limits.card_testing_count + 1,
        }
        limits = self.limits
        self._normal_min = _cents(limits.normal_min_amount)
        self._normal_max = _cents(limits.normal_max_amount)

    def __iter__(self) -> Iterator[Generated]:
        # The same sequence as next_group() calls, with runs of normal traffic made one by one
        # without a list each: the hot path of `streamguard produce`. `_normal_one` inlined,
        # its names bound once here: each message then costs no method call or attribute look-up
        # beyond the generator's own counters, kept current at every yield.
        rng = self.rng
        gauss, getrandbits, random = rng.gauss, rng.getrandbits, rng.random
        exp = math.exp
        regulars, size = self._round, self._round_size
        clock, simulated = self._clock, self._anchor
        low, high = self._normal_min, self._normal_max
        spend_by_hour, keep, version = _HOURLY_SPEND_LOG, _UUID_KEEP, _UUID_SET
        new, normal = _new_generated, Scenario.NORMAL
        while True:
            run = self._normal_run
            if run <= 0:
                yield from self.next_group()
                continue
            self._normal_run = run - 1
            anchor = clock() if clock is not None else simulated()
            index = self._normal_index
            self._normal_index = index + 1
            key, ids, tails, spend_log = regulars[index % size]
            mu = spend_log + spend_by_hour[(anchor // HOUR_MS) % 24]
            cents = round(exp(gauss(mu, _SPEND_SIGMA)) * 100)
            cents = low if cents < low else high if cents > high else cents
            card = ids[0] if len(ids) == 1 else ids[getrandbits(8) % len(ids)]
            tail = tails[int(random() * len(tails))]
            h = ((getrandbits(128) & keep) | version).to_bytes(16).hex()
            value = (
                f'{{"transaction_id":"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}{card},'
                f'"amount":{cents // 100}.{_TWO_DIGITS[cents % 100]}{tail}{anchor}}}'
            ).encode()
            self.total += 1
            yield new(Generated, (key, value, normal))

    def take(self, count: int) -> list[Generated]:
        """The next `count` transactions (a burst in progress is cut at the count)."""
        out: list[Generated] = []
        while len(out) < count:
            out.extend(self.next_group())
        return out[:count]

    def next_group(self) -> list[Generated]:
        """The next normal transaction or hard case, or the next fraud scenario's transactions."""
        if self._normal_run > 0:
            self._normal_run -= 1
            scenario = Scenario.NORMAL
        elif self._hard_due:
            self._hard_due = False
            group = self._hard_case(self._anchor())
            self.total += len(group)
            return group
        else:
            scenario = self._choose()
        group = self._group[scenario](self._anchor())
        if scenario is not Scenario.NORMAL:
            self._fraud_counts[scenario] += len(group)
        self.total += len(group)
        return group

    @property
    def counts(self) -> dict[Scenario, int]:
        """Transactions made so far, per scenario."""
        counts = dict(self._fraud_counts)
        counts[Scenario.NORMAL] = self.total - sum(counts.values())
        return counts

    def _choose(self) -> Scenario:
        total, counts, sizes = self.total, self.counts, self._sizes
        deficit = {s: share * (total + sizes[s]) - counts[s] for s, share in self.shares.items()}
        scenario = max(deficit, key=deficit.__getitem__)
        if scenario is Scenario.NORMAL:
            # Each normal transaction lowers normal's deficit by the fraud share and raises each
            # fraud scenario's by its own share: how many more normals come before a fraud group
            # is due follows, so the choice need not be weighed again for each of them.
            fraud_share = 1.0 - self.shares[Scenario.NORMAL]
            run = math.inf
            for s, d in deficit.items():
                closing = self.shares[s] + fraud_share
                if s is not Scenario.NORMAL and closing > 0:
                    run = min(run, math.ceil((deficit[Scenario.NORMAL] - d) / closing) - 1)
            self._normal_run = int(max(run, 0)) if run != math.inf else 1 << 62
            # This normal transaction and the run after it bring the next hard case closer; it
            # comes as soon as they are through (the scheduling costs nothing per message).
            self._until_hard -= 1
            if self._until_hard <= self._normal_run:
                self._normal_run = max(self._until_hard, 0)
                self._hard_due = True
                self._until_hard = self.rng.randint(*HARD_CASE_EVERY)
            else:
                self._until_hard -= self._normal_run
        return scenario

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
        h = ((self.rng.getrandbits(128) & _UUID_KEEP) | _UUID_SET).to_bytes(16).hex()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def _amount(self, low: object, high: object) -> int:
        """Cents, uniformly between two amounts."""
        return self.rng.randint(_cents(low), _cents(high))

    def _merchant(self, country: str) -> Merchant:
        return self.rng.choice(self.population.merchants_by_country[country])

    def _encoded(self, merchant: Merchant) -> str:
        encoded = self._merchant_json.get(merchant.merchant_id)
        if encoded is None:
            encoded = self._merchant_json[merchant.merchant_id] = _merchant_json(merchant)
        return encoded

    def _regular(self, account: Account) -> _Regular:
        merchants = self.population.merchants_by_country[account.home_country]
        return _Regular(
            key=account.account_id.encode(),
            ids=tuple(
                f'","account_id":"{account.account_id}","card_id":"{card}"'
                for card in account.cards
            ),
            tails=tuple(
                f',"currency":"{account.currency}",{self._encoded(m)},'
                f'"channel":"{m.channel}","event_time":'
                for m in merchants
            ),
            spend_log=math.log(float(account.typical_spend)),
        )

    def _message(
        self,
        account_id: str,
        card: str,
        cents: int,
        currency: str,
        merchant: str,
        channel: str,
        event_time: int,
    ) -> bytes:
        # Field for field the Transaction model's order; ids and codes are plain ASCII made here,
        # the merchant's text was JSON-encoded by _merchant_json.
        return (
            f'{{"transaction_id":"{self._uuid()}","account_id":"{account_id}",'
            f'"card_id":"{card}","amount":{cents // 100}.{_TWO_DIGITS[cents % 100]},'
            f'"currency":"{currency}",{merchant},"channel":"{channel}",'
            f'"event_time":{event_time}}}'
        ).encode()

    def _txn(
        self,
        scenario: Scenario,
        account: Account,
        merchant: Merchant,
        cents: int,
        event_time: int,
        *,
        card: str | None = None,
        channel: str | None = None,
    ) -> Generated:
        value = self._message(
            account.account_id,
            card or self.rng.choice(account.cards),
            cents,
            account.currency,
            self._encoded(merchant),
            channel or merchant.channel,
            event_time,
        )
        return Generated(account.account_id.encode(), value, scenario)

    def _victim(self) -> Account:
        """An ordinary account of the population: for fraud, one whose card was taken over or
        whose login was stolen; for a hard case of normal traffic, its honest owner."""
        return self.rng.choice(self.population.accounts)

    # -- scenarios ---------------------------------------------------------------------------

    def _normal(self, anchor: int) -> list[Generated]:
        return [self._normal_one(anchor)]

    def _normal_one(self, anchor: int) -> Generated:
        regular = self._round[self._normal_index % self._round_size]
        self._normal_index += 1
        rng = self.rng
        # Spend around the account's habit, lower at night, always clear of every rule's limit.
        mu = regular.spend_log + _HOURLY_SPEND_LOG[(anchor // HOUR_MS) % 24]
        cents = round(math.exp(rng.gauss(mu, _SPEND_SIGMA)) * 100)
        cents = min(max(cents, self._normal_min), self._normal_max)
        ids = regular.ids
        card = ids[0] if len(ids) == 1 else ids[rng.getrandbits(8) % len(ids)]
        tails = regular.tails
        tail = tails[int(rng.random() * len(tails))]
        # _message() by precomputed pieces: this runs for nearly every message.
        # Bytes to hex is several times faster than formatting a 128-bit int as hex.
        h = ((rng.getrandbits(128) & _UUID_KEEP) | _UUID_SET).to_bytes(16).hex()
        value = (
            f'{{"transaction_id":"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}{card},'
            f'"amount":{cents // 100}.{_TWO_DIGITS[cents % 100]}{tail}{anchor}}}'
        ).encode()
        return _new_generated(Generated, (regular.key, value, Scenario.NORMAL))

    def _high_amount(self, anchor: int) -> list[Generated]:
        account = self._victim()
        # Above the high-amount limit, yet alone short of the 5-minute total of amount velocity.
        limits = self.limits
        cents = self._amount(limits.high_amount * 11 / 10, limits.amount_velocity_total * 9 / 10)
        merchant = self._merchant(account.home_country)
        return [self._txn(Scenario.HIGH_AMOUNT, account, merchant, cents, anchor)]

    def _velocity_burst(self, anchor: int) -> list[Generated]:
        account = self._victim()
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
        account = self._victim()
        # Three amounts each under the high-amount limit whose sum clears the 5-minute limit.
        share = self.limits.amount_velocity_total / 3
        low = share * 105 / 100
        high = min(share * 130 / 100, self.limits.high_amount - 1)
        times = self._in_window(
            anchor, self._offsets(3, 20_000, 60_000), self.limits.amount_velocity_window_ms
        )
        return [
            self._txn(
                Scenario.AMOUNT_BURST,
                account,
                self._merchant(account.home_country),
                self._amount(low, high),
                t,
            )
            for t in times
        ]

    def _impossible_travel(self, anchor: int) -> list[Generated]:
        account = self._victim()
        abroad = self.rng.choice([c for c in self._countries if c != account.home_country])
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
        account = self._victim()
        card = self.rng.choice(account.cards)
        count = self.limits.card_testing_count + 1
        times = self._in_window(
            anchor, self._offsets(count, 5_000, 40_000), self.limits.card_testing_window_ms
        )
        high = _cents(self.limits.card_testing_amount) - 1
        return [
            self._txn(
                Scenario.CARD_TESTING,
                account,
                self._merchant(account.home_country),
                self.rng.randint(50, high),
                t,
                card=card,
                channel="ONLINE",
            )
            for t in times
        ]

    def _night_high_amount(self, anchor: int) -> list[Generated]:
        account = self._victim()
        day_start = anchor - anchor % DAY_MS
        night_end = day_start + self.limits.night_end_hour * HOUR_MS
        # The small hours of the anchor's day: now if it is night, else earlier today.
        when = (
            anchor if anchor < night_end else self.rng.randint(day_start + HOUR_MS, night_end - 1)
        )
        cents = self._amount(self.limits.night_amount * 15 / 10, self.limits.high_amount * 9 / 10)
        merchant = self._merchant(account.home_country)
        return [self._txn(Scenario.NIGHT_HIGH_AMOUNT, account, merchant, cents, when)]

    def _blacklisted(self, anchor: int) -> list[Generated]:
        limits = self.limits
        cents = self._amount(limits.high_amount * 11 / 10, limits.amount_velocity_total * 9 / 10)
        blacklisted = self.population.blacklisted_accounts
        if blacklisted and self.rng.random() < 0.5:
            # Round by round, so each blacklisted account's transactions are far apart.
            account = blacklisted[self._blacklisted_index % len(blacklisted)]
            self._blacklisted_index += 1
            merchant = self._merchant(account.home_country)
        else:
            account = self._victim()
            merchant = self.rng.choice(self.population.blacklisted_merchants)
        return [self._txn(Scenario.BLACKLISTED, account, merchant, cents, anchor)]

    # -- the hard cases of normal traffic -------------------------------------------------------

    def _hard_case(self, anchor: int) -> list[Generated]:
        name = self.rng.choices(NORMAL_CASES, HARD_CASE_WEIGHTS)[0]
        made = {
            "big_purchase": self._big_purchase,
            "traveller": self._traveller,
            "busy_shopper": self._busy_shopper,
        }[name](anchor)
        kind = _CASE_TYPE[name]
        return [kind(t.key, t.value, Scenario.NORMAL) for t in made]

    def _big_purchase(self, anchor: int) -> list[Generated]:
        # A television, a flight, a deposit: log-uniform between 1,500 and 8,000, so a quarter
        # or so are above the high-amount limit and any of them in the small hours is above
        # the night limit. Honest, and what high_amount and night_high_amount cannot tell.
        account = self._victim()
        cents = round(math.exp(self.rng.uniform(math.log(1500), math.log(8000))) * 100)
        merchant = self._merchant(account.home_country)
        return [self._txn(Scenario.NORMAL, account, merchant, cents, anchor)]

    def _traveller(self, anchor: int) -> list[Generated]:
        # Paid at home, then abroad: after a flight (hours later) mostly, across a border or on
        # a foreign web shop within minutes sometimes: those two can share geo_spread's window.
        account = self._victim()
        minutes = self.rng.randint(4, 15) if self.rng.random() < 0.4 else self.rng.randint(60, 480)
        abroad = self.rng.choice([c for c in self._countries if c != account.home_country])
        home_time = max(0, anchor - minutes * 60_000)
        return [
            self._txn(
                Scenario.NORMAL,
                account,
                self._merchant(country),
                self._amount(15, 250),
                when,
            )
            for country, when in ((account.home_country, home_time), (abroad, anchor))
        ]

    def _busy_shopper(self, anchor: int) -> list[Generated]:
        # A market, a food court, a fair: 4 to 7 small payments 6-20 s apart, ending now. Five
        # of them in one minute look like velocity's burst to the rule.
        account = self._victim()
        offsets = self._offsets(self.rng.randint(4, 7), 6_000, 20_000)
        start = anchor - offsets[-1]
        return [
            self._txn(
                Scenario.NORMAL,
                account,
                self._merchant(account.home_country),
                self._amount(5, 80),
                start + offset,
            )
            for offset in offsets
        ]
