"""Generated traffic: reproducible, at the shares asked, each scenario tripping its rule only."""

from __future__ import annotations

from collections import Counter, defaultdict
from decimal import Decimal

import pytest

from streamguard.models import Transaction
from streamguard.producer import Generated, Limits, Population, Scenario, TransactionGenerator

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
    assert [t.to_json() for t in _run()] == [t.to_json() for t in traffic]
    assert _run(seed=12, count=100)[0].to_json() != traffic[0].to_json()


def test_every_message_is_a_valid_transaction(traffic: list[Generated]) -> None:
    for txn in traffic:
        parsed = Transaction.from_json(txn.to_json())
        assert parsed.account_id.encode() == txn.key


def test_each_scenario_gets_its_share_within_a_point(traffic: list[Generated]) -> None:
    shares = Counter(t.scenario for t in traffic)
    per_scenario = 0.2 / len(Scenario.fraud())
    for scenario in Scenario.fraud():
        assert abs(shares[scenario] / len(traffic) - per_scenario) < 0.01, scenario
    assert abs(shares[Scenario.NORMAL] / len(traffic) - 0.8) < 0.01


def _windows(txns: list[Generated], key: str, window_ms: int) -> dict[tuple[str, int], list]:
    groups: dict[tuple[str, int], list] = defaultdict(list)
    for t in txns:
        groups[(t.value[key], t.value["event_time"] // window_ms)].append(t.value)
    return groups


def _tripped(txns: list[Generated]) -> dict[str, set[str]]:
    """A Python oracle of the rules of ksql/: which accounts each rule would alert on."""
    alerts: dict[str, set[str]] = defaultdict(set)
    for t in txns:
        v = t.value
        amount = Decimal(str(v["amount"]))
        if amount > LIMITS.high_amount:
            alerts["high_amount"].add(v["account_id"])
        hour = (v["event_time"] // 3_600_000) % 24
        if hour < LIMITS.night_end_hour and amount > LIMITS.night_amount:
            alerts["night_high_amount"].add(v["account_id"])
    for (account, _), vs in _windows(txns, "account_id", LIMITS.velocity_window_ms).items():
        if len(vs) >= LIMITS.velocity_count:
            alerts["velocity"].add(account)
    for (account, _), vs in _windows(txns, "account_id", LIMITS.amount_velocity_window_ms).items():
        if sum(Decimal(str(v["amount"])) for v in vs) > LIMITS.amount_velocity_total:
            alerts["amount_velocity"].add(account)
    for (account, _), vs in _windows(txns, "account_id", LIMITS.geo_window_ms).items():
        if len({v["country"] for v in vs}) >= LIMITS.geo_countries:
            alerts["geo_spread"].add(account)
    small = [t for t in txns if Decimal(str(t.value["amount"])) < LIMITS.card_testing_amount]
    for (_, _), vs in _windows(small, "card_id", LIMITS.card_testing_window_ms).items():
        if len(vs) >= LIMITS.card_testing_count:
            alerts["card_testing"].add(vs[0]["account_id"])
    return alerts


def test_normal_traffic_trips_no_rule(traffic: list[Generated]) -> None:
    normal = [t for t in traffic if t.scenario is Scenario.NORMAL]
    assert dict(_tripped(normal)) == {}


@pytest.mark.parametrize("scenario", Scenario.fraud(), ids=str)
def test_each_scenario_trips_its_rule_every_time(scenario: Scenario) -> None:
    population = Population.build(5)
    generator = TransactionGenerator(
        population, seed=5, fraud_share=0.5, scenarios=[scenario], start_ms=START, rate=20
    )
    txns = generator.take(4000)
    fraud = [t for t in txns if t.scenario is scenario]
    normal_accounts = {t.value["account_id"] for t in txns if t.scenario is Scenario.NORMAL}
    tripped = _tripped(txns)
    assert scenario.rule_id is not None
    assert {t.value["account_id"] for t in fraud} <= tripped[scenario.rule_id]
    # Fraud and normal traffic use separate accounts, so no normal account is ever alerted.
    assert not normal_accounts & set().union(*tripped.values())


def test_blacklisted_scenario_involves_the_blacklist() -> None:
    population = Population.build(3)
    blacklisted = {row["value"] for row in population.blacklist_rows()}
    txns = TransactionGenerator(
        population, seed=3, fraud_share=1.0, scenarios=[Scenario.BLACKLISTED], start_ms=START
    ).take(200)
    for t in txns:
        assert {t.value["account_id"], t.value["merchant_id"]} & blacklisted


def test_bad_arguments_are_refused() -> None:
    population = Population.build(1, accounts=10)
    with pytest.raises(ValueError, match="between 0 and 1"):
        TransactionGenerator(population, seed=1, fraud_share=1.5)
    with pytest.raises(ValueError, match="normal"):
        TransactionGenerator(population, seed=1, scenarios=[Scenario.NORMAL])
