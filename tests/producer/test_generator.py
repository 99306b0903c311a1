"""Generated traffic: reproducible, at the shares asked, fraud on ordinary accounts tripping its
rule, everyday traffic tripping none and its hard cases only the rules they are meant to test."""

from __future__ import annotations

import itertools
import json
from collections import Counter, defaultdict

import pytest

from streamguard.models import Transaction
from streamguard.producer import Generated, Limits, Population, Scenario, TransactionGenerator
from streamguard.producer.command import accounts_for

LIMITS = Limits()
START = 1_767_225_600_000  # 2026-01-01T00:00:00Z: the run crosses the night and the morning


def _run(seed: int = 11, count: int = 50_000, share: float = 0.2) -> list[Generated]:
    population = Population.build(seed)
    return TransactionGenerator(
        population, seed=seed, fraud_share=share, start_ms=START, rate=20
    ).take(count)


@pytest.fixture(scope="module")
def traffic() -> list[Generated]:
    return _run()


def test_same_seed_same_traffic_other_seed_other_traffic(traffic: list[Generated]) -> None:
    assert [t.value for t in _run()] == [t.value for t in traffic]
    assert _run(seed=12, count=100)[0].value != traffic[0].value


def test_every_message_is_a_valid_transaction(traffic: list[Generated]) -> None:
    for txn in traffic:
        parsed = Transaction.from_json(txn.value)
        assert parsed.account_id.encode() == txn.key
        # The hand-encoded value says what the model itself would write, field for field.
        assert json.loads(parsed.to_json()) == txn.fields()


def test_each_scenario_gets_its_share_within_a_point(traffic: list[Generated]) -> None:
    shares = Counter(t.scenario for t in traffic)
    per_scenario = 0.2 / len(Scenario.fraud())
    for scenario in Scenario.fraud():
        assert abs(shares[scenario] / len(traffic) - per_scenario) < 0.01, scenario
    assert abs(shares[Scenario.NORMAL] / len(traffic) - 0.8) < 0.01


def _windows(
    txns: list[Transaction], key: str, window_ms: int
) -> dict[tuple[str, int], list[Transaction]]:
    groups: dict[tuple[str, int], list[Transaction]] = defaultdict(list)
    for t in txns:
        groups[(getattr(t, key), t.event_time // window_ms)].append(t)
    return groups


def _tripped(generated: list[Generated]) -> dict[str, set[str]]:
    """A Python oracle of the rules of ksql/: which accounts each rule would alert on."""
    txns = [Transaction.from_json(g.value) for g in generated]
    alerts: dict[str, set[str]] = defaultdict(set)
    for t in txns:
        if t.amount > LIMITS.high_amount:
            alerts["high_amount"].add(t.account_id)
        hour = (t.event_time // 3_600_000) % 24
        if hour < LIMITS.night_end_hour and t.amount > LIMITS.night_amount:
            alerts["night_high_amount"].add(t.account_id)
    for (account, _), ts in _windows(txns, "account_id", LIMITS.velocity_window_ms).items():
        if len(ts) >= LIMITS.velocity_count:
            alerts["velocity"].add(account)
    for (account, _), ts in _windows(txns, "account_id", LIMITS.amount_velocity_window_ms).items():
        if sum(t.amount for t in ts) > LIMITS.amount_velocity_total:
            alerts["amount_velocity"].add(account)
    for (account, _), ts in _windows(txns, "account_id", LIMITS.geo_window_ms).items():
        if len({t.country for t in ts}) >= LIMITS.geo_countries:
            alerts["geo_spread"].add(account)
    small = [t for t in txns if t.amount < LIMITS.card_testing_amount]
    for (_, _), ts in _windows(small, "card_id", LIMITS.card_testing_window_ms).items():
        if len(ts) >= LIMITS.card_testing_count:
            alerts["card_testing"].add(ts[0].account_id)
    return alerts


def test_everyday_normal_traffic_trips_no_rule(traffic: list[Generated]) -> None:
    everyday = [t for t in traffic if t.scenario is Scenario.NORMAL and t.case is None]
    assert dict(_tripped(everyday)) == {}


# The rules a hard case of normal traffic may trip: the false alerts a backtest shows.
HARD_CASE_RULES = {
    "big_purchase": {"high_amount", "night_high_amount"},
    "traveller": {"geo_spread"},
    "busy_shopper": {"velocity"},
}


@pytest.mark.parametrize("case", sorted(HARD_CASE_RULES))
def test_each_hard_case_trips_its_rules_sometimes_and_no_other(
    traffic: list[Generated], case: str
) -> None:
    played = [t for t in traffic if t.case == case]
    assert all(t.scenario is Scenario.NORMAL for t in played)
    tripped = _tripped(played)
    assert tripped, f"{case} never tripped a rule: it would not make a false alert"
    assert set(tripped) <= HARD_CASE_RULES[case]
    # ... and not every time: many of them are honest traffic the rules let pass (in the
    # small hours, when this traffic runs, any big purchase trips the night rule, as it should).
    accounts = {t.key.decode() for t in played}
    for rule in HARD_CASE_RULES[case] - {"night_high_amount"}:
        assert 0 < len(tripped[rule]) < len(accounts), rule


def test_fraud_plays_out_on_ordinary_accounts_cards_and_merchants(
    traffic: list[Generated],
) -> None:
    population = Population.build(11)
    cards = {c for a in population.accounts for c in a.cards}
    accounts = {a.account_id for a in population.accounts}
    mules = {a.account_id for a in population.blacklisted_accounts}
    merchants = {m.merchant_id for ms in population.merchants_by_country.values() for m in ms}
    merchants |= {m.merchant_id for m in population.blacklisted_merchants}
    fraud = [t.fields() for t in traffic if t.scenario is not Scenario.NORMAL]
    assert {f["account_id"] for f in fraud} <= accounts | mules
    assert {f["card_id"] for f in fraud} - cards <= {
        c for a in population.blacklisted_accounts for c in a.cards
    }
    assert {f["merchant_id"] for f in fraud} <= merchants
    # Fraud and normal traffic share accounts: only the label tells them apart.
    normal_accounts = {t.key.decode() for t in traffic if t.scenario is Scenario.NORMAL}
    assert len({f["account_id"] for f in fraud} & normal_accounts) > 100
    assert all(f["account_id"][:3] == "ACC" and len(f["account_id"]) == 11 for f in fraud)


@pytest.mark.parametrize("hour", [0, 12], ids=["at-night", "at-noon"])
@pytest.mark.parametrize("scenario", Scenario.fraud(), ids=str)
def test_each_scenario_trips_its_rule_every_time(scenario: Scenario, hour: int) -> None:
    population = Population.build(5)
    start = START + hour * 3_600_000
    generator = TransactionGenerator(
        population, seed=5, fraud_share=0.5, scenarios=[scenario], start_ms=start, rate=20
    )
    txns: list[Generated] = []
    while len(txns) < 4000:
        txns += generator.next_group()  # whole groups: take() may cut the last burst short
    fraud_accounts = {t.key for t in txns if t.scenario is scenario}
    tripped = {rule: {a.encode() for a in accounts} for rule, accounts in _tripped(txns).items()}
    assert scenario.rule_id is not None
    assert fraud_accounts <= tripped[scenario.rule_id]


def test_blacklisted_scenario_involves_the_blacklist() -> None:
    population = Population.build(3)
    blacklisted = {row["value"] for row in population.blacklist_rows()}
    txns = TransactionGenerator(
        population, seed=3, fraud_share=1.0, scenarios=[Scenario.BLACKLISTED], start_ms=START
    ).take(200)
    for t in txns:
        fields = t.fields()
        assert {fields["account_id"], fields["merchant_id"]} & blacklisted


def test_bad_arguments_are_refused() -> None:
    population = Population.build(1, accounts=10)
    with pytest.raises(ValueError, match="between 0 and 1"):
        TransactionGenerator(population, seed=1, fraud_share=1.5)
    with pytest.raises(ValueError, match="normal"):
        TransactionGenerator(population, seed=1, scenarios=[Scenario.NORMAL])


def test_normal_traffic_at_the_commands_account_scale_trips_no_rule() -> None:
    # The command sizes the population to the rate; each account then comes round every 36 s.
    rate = 200
    population = Population.build(9, accounts=accounts_for(rate))
    generator = TransactionGenerator(population, seed=9, fraud_share=0, start_ms=START, rate=rate)
    txns = generator.take(100_000)
    assert len({t.key for t in txns}) == len(population.accounts)
    assert dict(_tripped([t for t in txns if t.case is None])) == {}


@pytest.mark.parametrize("hour", [3, 18], ids=["quietest", "busiest"])
def test_each_normal_account_comes_round_at_most_every_30_seconds(hour: int) -> None:
    rate = 200
    population = Population.build(9, accounts=accounts_for(rate))
    start = START + hour * 3_600_000
    txns = TransactionGenerator(population, seed=9, fraud_share=0, start_ms=start, rate=rate).take(
        len(population.accounts) * 2
    )
    last: dict[bytes, int] = {}
    for t in txns:
        if t.case is not None:
            continue  # a hard case (a busy shopper) is its account's own business
        event_time = t.fields()["event_time"]
        if t.key in last:
            assert event_time - last[t.key] >= LIMITS.normal_account_spacing_ms
        last[t.key] = event_time


def test_iterating_makes_the_same_traffic_as_taking() -> None:
    population = Population.build(4)

    def generator() -> TransactionGenerator:
        return TransactionGenerator(population, seed=4, fraud_share=0.3, start_ms=START)

    assert list(itertools.islice(generator(), 20_000)) == generator().take(20_000)
