"""`streamguard rules test`: the project's rule cases, a failing case's diff, a bad case file."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.conftest import ROOT, run_cli


def rules_test(*args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("rules", "test", *args, timeout=120)


def test_every_rule_passes_its_cases() -> None:
    done = rules_test("--verbose")
    assert done.returncode == 0, done.stdout + done.stderr
    rules = sorted(p.stem.split("__", 1)[1] for p in (ROOT / "ksql").glob("V*__rule_*.sql"))
    cases = sorted(p.stem for p in (ROOT / "tests" / "rules" / "cases").glob("*.toml"))
    assert cases == rules, "every rule file has a case file"
    assert " 0 failed" in done.stdout and "FAIL" not in done.stdout


def test_a_wrong_expectation_fails_with_a_diff_of_the_alerts(tmp_path: Path) -> None:
    (tmp_path / "rule_velocity.toml").write_text(
        """
[[case]]
name = "five in a minute"
transactions = [
  { account_id = "ACC9", event_time = "10:00:00" },
  { account_id = "ACC9", event_time = "10:00:10" },
  { account_id = "ACC9", event_time = "10:00:20" },
  { account_id = "ACC9", event_time = "10:00:30" },
  { account_id = "ACC9", event_time = "10:00:40" },
]
alerts = [{ rule_id = "velocity", account_id = "ACC9", txn_count = 4 }]
"""
    )
    done = rules_test("--cases", str(tmp_path))

    assert done.returncode == 1
    assert "FAIL five in a minute" in done.stdout
    assert "alert 1: txn_count expected 4, got 5" in done.stdout
    assert "-rule_id=velocity account_id=ACC9 txn_count=4" in done.stdout
    assert "+rule_id=velocity account_id=ACC9 txn_count=5" in done.stdout


def test_an_alert_where_none_is_expected_fails(tmp_path: Path) -> None:
    (tmp_path / "rule_high_amount.toml").write_text(
        """
[[case]]
name = "a big payment is fine"
transactions = [{ account_id = "ACC1", amount = "6000.00", event_time = "2026-03-01T12:00:00Z" }]
"""
    )
    done = rules_test("--cases", str(tmp_path))
    assert done.returncode == 1
    assert "expected 0 alert(s), the rule wrote 1" in done.stdout
    assert "+rule_id=high_amount account_id=ACC1" in done.stdout


def test_a_case_file_that_cannot_be_read_is_named(tmp_path: Path) -> None:
    (tmp_path / "rule_velocity.toml").write_text("[[case]]\nname = 'x'\ntransactions = [\n")
    done = rules_test("--cases", str(tmp_path))
    assert done.returncode == 2
    assert "rule_velocity.toml: not valid TOML" in " ".join(done.stderr.split())


def test_a_case_for_no_rule_file_lists_the_rules(tmp_path: Path) -> None:
    (tmp_path / "rule_typo.toml").write_text(
        "[[case]]\nname = 'x'\ntransactions = [{ account_id = 'A', event_time = '10:00' }]\n"
    )
    done = rules_test("--cases", str(tmp_path))
    assert done.returncode == 2
    message = " ".join(done.stderr.split())
    assert "no migration file V<version>__rule_typo.sql" in message
    assert "rule_velocity" in message


def test_a_define_changes_a_rules_value_for_the_run() -> None:
    passed = run_cli("rules", "test", "rule_high_amount")
    assert passed.returncode == 0, passed.stdout + passed.stderr
    failed = run_cli("rules", "test", "rule_high_amount", "--define", "high_amount_threshold=9000")
    assert failed.returncode == 1
    assert "FAIL" in failed.stdout


def test_a_define_the_rules_cannot_take_is_a_usage_error() -> None:
    """A name no file uses changed nothing and passed; a word for a threshold failed every case
    as an unknown column."""
    unused = run_cli("rules", "test", "rule_high_amount", "--define", "high_amout_threshold=9000")
    assert unused.returncode == 2, unused.stdout + unused.stderr
    said = " ".join(unused.stderr.split())
    assert "uses the variable 'high_amout_threshold'" in said and "high_amount_threshold" in said
    word = run_cli("rules", "test", "rule_velocity", "--define", "velocity_min_count=abc")
    assert word.returncode == 2, word.stdout + word.stderr
    assert "'abc' is not a number (its default is 5)" in " ".join(word.stderr.split())


def test_a_rule_is_named_by_its_id_as_backtest_and_change_name_it() -> None:
    done = run_cli("rules", "test", "velocity")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "of 1 rule(s)" in done.stdout
