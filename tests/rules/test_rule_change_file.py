"""`streamguard rules change`: the migration it writes, and what it refuses."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from streamguard.migrations.files import all_migrations
from streamguard.migrations.sql import parse_migration
from streamguard.rules.change import (
    RETIRE_AFTER_MS,
    RuleChangeError,
    check_cutover,
    current_values,
    read_change,
    write_change,
)
from streamguard.rules.runner import statements

ROOT = Path(__file__).resolve().parents[2]
NOW = 1_767_225_615_000  # 2026-01-01T00:00:15Z


@pytest.fixture
def ksql(tmp_path: Path) -> Path:
    folder = tmp_path / "ksql"
    shutil.copytree(ROOT / "ksql", folder)
    shutil.copy(ROOT / "ksql-defines.properties", tmp_path)
    return folder


def test_a_per_transaction_rule_is_split_at_the_cut_over_by_event_time(ksql: Path) -> None:
    path, change = write_change(
        ksql, "high_amount", {"high_amount_threshold": "7000.00"}, lead_s=60, now_ms=NOW
    )
    assert path.name == "V000009__change_high_amount_at_20260101T000200Z.sql"
    assert change.cutover_ms == 1_767_225_720_000  # the first minute boundary 60 s ahead
    text = path.read_text()
    assert read_change(text) == change
    kinds = [s.text.split()[0] for s in parse_migration(text)]
    assert kinds == ["SET", "INSERT", "INSERT", "TERMINATE"]
    until, after = [s.text for s in parse_migration(text) if s.text.lstrip().startswith("INSERT")]
    assert "QUERY_ID = 'RULE_HIGH_AMOUNT_UNTIL_20260101T000200Z'" in until
    assert "WHERE (amount > 5000.00)\n    AND event_time < 1767225720000" in until
    assert "QUERY_ID = 'RULE_HIGH_AMOUNT_FROM_20260101T000200Z'" in after
    assert "WHERE (amount > 7000.00)\n    AND event_time >= 1767225720000" in after
    assert text.rstrip().endswith("TERMINATE RULE_HIGH_AMOUNT;")
    # The cases of the rule now run with its new value.
    assert current_values(ksql, "high_amount")["high_amount_threshold"] == "7000.00"


def test_a_window_rule_is_split_by_window_start_on_a_window_boundary(ksql: Path) -> None:
    _, change = write_change(ksql, "velocity", {"velocity_min_count": "7"}, now_ms=NOW)
    assert change.time_column == "window_start"
    _, geo = write_change(ksql, "geo_spread", {"geo_min_countries": "3"}, now_ms=NOW)
    assert geo.cutover_ms % 600_000 == 0  # geo_spread's windows are 10 minutes
    with pytest.raises(RuleChangeError, match="window boundary"):
        write_change(
            ksql, "amount_velocity", {"amount_velocity_total": "9000.00"},
            cutover_ms=NOW + 120_000, now_ms=NOW,
        )  # fmt: skip


def test_what_a_change_cannot_do_is_refused_with_the_reason(ksql: Path) -> None:
    with pytest.raises(RuleChangeError, match="no variable nope; its variables are"):
        write_change(ksql, "velocity", {"nope": "1"}, now_ms=NOW)
    with pytest.raises(RuleChangeError, match="other than its INSERT"):
        write_change(ksql, "card_testing", {"card_testing_max_amount": "3.00"}, now_ms=NOW)
    with pytest.raises(RuleChangeError, match="no rule speed"):
        write_change(ksql, "speed", {"x": "1"}, now_ms=NOW)
    with pytest.raises(RuleChangeError, match="already runs with"):
        write_change(ksql, "velocity", {"velocity_min_count": "5"}, now_ms=NOW)
    # Put into the SQL as written: `abc` would have become a column the rule cannot resolve.
    with pytest.raises(RuleChangeError, match=r"'abc' is not a number \(its default is 5\)"):
        write_change(ksql, "velocity", {"velocity_min_count": "abc"}, now_ms=NOW)
    with pytest.raises(RuleChangeError, match="is not a number"):
        write_change(ksql, "high_amount", {"high_amount_threshold": "1' OR '1"}, now_ms=NOW)
    assert not [m for m in all_migrations(ksql) if "change" in m.path.name], "nothing written"


def test_the_next_change_goes_on_from_the_last_and_retires_its_until_query(ksql: Path) -> None:
    _, first = write_change(ksql, "velocity", {"velocity_min_count": "7"}, now_ms=NOW)
    with pytest.raises(RuleChangeError, match="change the rule again after"):
        write_change(ksql, "velocity", {"velocity_min_count": "8"}, now_ms=NOW + 60_000)
    later = first.cutover_ms + RETIRE_AFTER_MS
    _, second = write_change(ksql, "velocity", {"velocity_min_count": "8"}, now_ms=later)
    assert second.old == {"velocity_min_count": "7"}
    assert second.terminated == [first.from_query, first.until_query]


def test_apply_refuses_a_change_whose_cut_over_has_passed(ksql: Path) -> None:
    path, change = write_change(
        ksql, "high_amount", {"high_amount_threshold": "7000.00"}, now_ms=NOW
    )
    check_cutover(path.read_text(), change.cutover_ms - 10_000)
    with pytest.raises(RuleChangeError, match="has passed") as late:
        check_cutover(path.read_text(), change.cutover_ms - 1_000)
    assert "streamguard rules change high_amount --define high_amount_threshold=7000.00" in str(
        late.value
    )


def test_a_change_is_not_a_prefix_of_another_rules_test(ksql: Path) -> None:
    write_change(ksql, "high_amount", {"high_amount_threshold": "7000.00"}, now_ms=NOW)
    migrations = all_migrations(ksql)
    velocity = next(m for m in migrations if m.path.name.startswith("V000004"))
    assert "change_high_amount" not in statements(migrations, velocity)


def test_a_changed_rule_is_one_rule_with_its_new_values_to_backtest_and_the_console(
    ksql: Path,
) -> None:
    """The change file's queries insert into fraud_alerts too: the backtest ran velocity twice
    (its alerts counted twice in the total), and the console listed it twice, the second time
    with no thresholds."""
    from streamguard.console.rules import read_rules
    from streamguard.rules.backtest import load_rules

    _, change = write_change(ksql, "velocity", {"velocity_min_count": "7"}, now_ms=NOW)
    rules = load_rules(ksql)
    ids = [r.rule_id for r in rules.rules]
    assert sorted(ids) == sorted(set(ids)) and "velocity" in ids
    (velocity,) = [r for r in rules.rules if r.rule_id == "velocity"]
    assert velocity.defaults["velocity_min_count"] == "7"
    shown = read_rules(ksql)
    assert [r.rule_id for r in shown].count("velocity") == 1
    (page,) = [r for r in shown if r.rule_id == "velocity"]
    assert page.thresholds == {"velocity_min_count": "7"}
    assert page.query_id == change.from_query and change.cutover in page.changed
