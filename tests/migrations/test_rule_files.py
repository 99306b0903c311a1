"""The rules in ksql/: one schema into fraud_alerts, thresholds (kept in ksql-defines.properties,
not DEFINEd in the files) matching the producer."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from streamguard.migrations.defines import default_defines
from streamguard.migrations.files import MigrationFile, all_migrations
from streamguard.migrations.sql import Kind, Statement, parse_migration
from streamguard.producer.scenarios import Limits, Scenario

KSQL = Path(__file__).resolve().parents[2] / "ksql"
RULE_FILES = [m for m in all_migrations(KSQL) if m.version >= 3]
DEFAULTS = default_defines(KSQL)


def statements(path: Path) -> list[Statement]:
    return parse_migration(path.read_text(), path)


def fraud_alerts_columns() -> list[str]:
    create = statements(KSQL / "V000002__fraud_alerts_stream.sql")[-1].text
    body = create[create.index("(") + 1 : create.index(") WITH")]
    return [line.split()[0].upper() for line in body.strip().splitlines()]


def insert_aliases(text: str) -> list[str]:
    select_list = text[text.index("SELECT") + len("SELECT") : text.index("\n  FROM")]
    return [a.upper() for a in re.findall(r"\bAS\s+(\w+)\s*(?:,|$)", select_list, re.MULTILINE)]


def inserts(path: Path) -> list[str]:
    return [
        s.text for s in statements(path) if s.text.lstrip().startswith("INSERT INTO fraud_alerts")
    ]


def test_files_are_numbered_without_gaps() -> None:
    assert [m.version for m in all_migrations(KSQL)] == list(range(1, 9))


@pytest.mark.parametrize("migration", RULE_FILES, ids=lambda m: m.path.name)
def test_each_rule_inserts_fraud_alerts_schema_in_order(migration: MigrationFile) -> None:
    path = migration.path
    (insert,) = inserts(path)
    assert insert_aliases(insert) == fraud_alerts_columns()
    assert re.search(r"WITH \(QUERY_ID = 'RULE_[A-Z_]+'\)", insert)


@pytest.mark.parametrize("migration", all_migrations(KSQL), ids=lambda m: m.path.name)
def test_files_define_no_variable_so_a_define_on_the_command_line_counts(
    migration: MigrationFile,
) -> None:
    # ksql-migrations lets a file's DEFINE replace --define: a default written in a file
    # could never be overridden. Every variable takes its default from ksql-defines.properties.
    kinds = [s.kind for s in statements(migration.path)]
    assert Kind.DEFINE not in kinds and Kind.UNDEFINE not in kinds
    used = {v for s in statements(migration.path) for v in s.variables()}
    assert used <= set(DEFAULTS)


def test_every_default_is_used() -> None:
    used = {v for m in all_migrations(KSQL) for s in statements(m.path) for v in s.variables()}
    assert set(DEFAULTS) == used


def test_rule_ids_are_the_ones_the_producers_scenarios_trip() -> None:
    found = {
        re.search(r"'(\w+)'\s+AS rule_id", insert).group(1)  # type: ignore[union-attr]
        for m in RULE_FILES
        for insert in inserts(m.path)
    }
    assert found == {s.rule_id for s in Scenario.fraud()}


def test_default_thresholds_match_the_producers_limits() -> None:
    defines = DEFAULTS
    limits = Limits()
    assert Decimal(defines["high_amount_threshold"]) == limits.high_amount
    assert int(defines["velocity_min_count"]) == limits.velocity_count
    assert Decimal(defines["amount_velocity_total"]) == limits.amount_velocity_total
    assert int(defines["geo_min_countries"]) == limits.geo_countries
    assert Decimal(defines["card_testing_max_amount"]) == limits.card_testing_amount
    assert int(defines["card_testing_min_count"]) == limits.card_testing_count
    assert Decimal(defines["night_min_amount"]) == limits.night_amount
    assert int(defines["night_end_hour"]) == limits.night_end_hour


_UNIT_MS = {"SECOND": 1000, "MINUTE": 60_000, "HOUR": 3_600_000}


def test_window_sizes_match_the_producers_windows() -> None:
    sizes = {}
    for m in RULE_FILES:
        match = re.search(
            r"WINDOW TUMBLING \(SIZE (\d+) (SECOND|MINUTE|HOUR)S?\)", m.path.read_text()
        )
        if match:
            sizes[m.path.name] = int(match.group(1)) * _UNIT_MS[match.group(2)]
    limits = Limits()
    assert sizes == {
        "V000004__rule_velocity.sql": limits.velocity_window_ms,
        "V000005__rule_amount_velocity.sql": limits.amount_velocity_window_ms,
        "V000006__rule_geo_spread.sql": limits.geo_window_ms,
        "V000007__rule_card_testing.sql": limits.card_testing_window_ms,
    }
