"""`streamguard rules backtest`: the rules run over labelled traffic, their alerts scored.

The hand-made traffic below has alerts known in advance, so every count, precision and recall
the backtest reports is asserted exactly; the rules really run (on the emulator's test runner).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from streamguard.rules.cases import BASE_TRANSACTION

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_767_614_400_000  # 2026-01-05T12:00:00Z: midday, so the night rule stays out of it


def _txn(account: str, amount: str, at_ms: int, scenario: str, **more: Any) -> dict[str, Any]:
    row = BASE_TRANSACTION | {
        "transaction_id": str(uuid.uuid4()),
        "account_id": account,
        "card_id": f"CRD-{account}",
        "amount": float(amount),
        "event_time": at_ms,
    }
    return row | more | {"scenario": scenario}


def _traffic() -> list[dict[str, Any]]:
    rows = [
        _txn("ACC-A", "6000.00", T0, "high_amount"),  # caught: a true alert
        _txn("ACC-B", "7000.00", T0 + 1_000, "normal", case="big_purchase"),  # a false alert
        _txn("ACC-C", "150.00", T0 + 2_000, "high_amount"),  # under the limit: missed
    ]
    # Six transactions of a compromised account in one minute: one true velocity alert.
    rows += [_txn("ACC-V", "20.00", T0 + 5_000 + n * 5_000, "velocity_burst") for n in range(6)]
    # A busy shopper's five in one minute: one false velocity alert.
    rows += [
        _txn("ACC-S", "12.00", T0 + 3_000 + n * 9_000, "normal", case="busy_shopper")
        for n in range(5)
    ]
    # Everyday traffic that trips nothing.
    rows += [_txn(f"ACC-N{n}", "40.00", T0 + n * 700, "normal") for n in range(20)]
    return sorted(rows, key=lambda r: r["event_time"])


@pytest.fixture
def truth(tmp_path: Path) -> Path:
    path = tmp_path / "ground-truth.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in _traffic()))
    return path


def _backtest(*args: str, columns: int = 200) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"COLUMNS": str(columns)}
    return subprocess.run(
        [sys.executable, "-m", "streamguard.cli", "rules", "backtest", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env=env,
    )


def _rules(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["rule_id"]: r for r in doc["rules"]}


def test_counts_precision_and_recall_come_from_the_alerts_written(
    truth: Path, tmp_path: Path
) -> None:
    out, page = tmp_path / "report.json", tmp_path / "report.html"
    done = _backtest(
        "high_amount", "velocity", "--ground-truth", str(truth), "--json", str(out),
        "--html", str(page),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    doc = json.loads(out.read_text())
    rules = _rules(doc)
    high = rules["high_amount"]
    assert (high["alerts"], high["true_positives"], high["false_positives"]) == (2, 1, 1)
    assert high["precision"] == 0.5
    # Its own scenarios: high_amount (two transactions, one caught) and blacklisted (none).
    assert (high["own_frauds"], high["own_caught"], high["recall"]) == (2, 1, 0.5)
    assert high["false_positives_by_case"] == {"big_purchase": 1}
    velocity = rules["velocity"]
    assert (velocity["alerts"], velocity["true_positives"], velocity["false_positives"]) == (
        2, 1, 1
    )  # fmt: skip
    assert (velocity["own_frauds"], velocity["own_caught"], velocity["recall"]) == (6, 6, 1.0)
    assert velocity["false_positives_by_case"] == {"busy_shopper": 1}
    overall = doc["overall"]
    assert (overall["alerts"], overall["frauds_caught"], doc["frauds"]) == (4, 7, 8)
    assert overall["recall"] == 7 / 8
    assert doc["missed_by_scenario"] == {"high_amount": 1, "velocity_burst": 0}
    assert doc["transactions"] == 34
    assert high["alerts_per_10k"] == pytest.approx(2 * 10_000 / 34, abs=1e-3)
    # The terminal table shows the same numbers.
    assert "high_amount" in done.stdout and "0.500" in done.stdout
    html = page.read_text()
    assert "<svg" in html and "velocity" in html and "precision and recall" in html


def test_compare_runs_each_value_side_by_side(truth: Path, tmp_path: Path) -> None:
    out = tmp_path / "compare.json"
    done = _backtest(
        "high_amount", "velocity", "--ground-truth", str(truth),
        "--compare", "velocity_min_count=4,5,6,7", "--json", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    compare = json.loads(out.read_text())["compare"]
    assert compare["variable"] == "velocity_min_count" and compare["rules"] == ["velocity"]
    by_value = {s["setting"]["velocity_min_count"]: s for s in compare["settings"]}
    assert list(by_value) == ["4", "5", "6", "7"]
    velocity = {v: _rules(s)["velocity"] for v, s in by_value.items()}
    assert [velocity[v]["alerts"] for v in by_value] == [2, 2, 1, 0]
    assert [velocity[v]["false_positives"] for v in by_value] == [1, 1, 0, 0]
    assert [velocity[v]["recall"] for v in by_value] == [1.0, 1.0, 1.0, 0.0]
    # Against the base setting (the file's default, 5): 7 loses the burst and the false alert.
    assert by_value["7"]["change_in_frauds_caught"] == -6
    assert by_value["7"]["change_in_false_positives"] == -1
    assert by_value["6"]["change_in_frauds_caught"] == 0
    assert by_value["6"]["change_in_false_positives"] == -1
    # The rules the variable does not touch keep the base run's alerts.
    assert all(_rules(s)["high_amount"]["alerts"] == 2 for s in compare["settings"])
    # The terminal shows a row per value, the file's default marked as the base.
    what_if = done.stdout.split("what if: velocity_min_count", 1)[1]
    rows = {m.group(1) for m in re.finditer(r"^ ?(\d+(?: \(base\))?) ", what_if, re.MULTILINE)}
    assert rows == {"4", "5 (base)", "6", "7"}


def test_define_sets_a_variable_for_the_whole_run(truth: Path, tmp_path: Path) -> None:
    out = tmp_path / "define.json"
    done = _backtest(
        "high_amount", "--ground-truth", str(truth), "--define", "high_amount_threshold=100",
        "--json", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    high = _rules(json.loads(out.read_text()))["high_amount"]
    # Above 100.00: both high amounts, the big purchase and the ACC-C fraud of 150.00.
    assert (high["alerts"], high["true_positives"], high["recall"]) == (3, 2, 1.0)


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--define", "nope=3"], "no rule uses the variable 'nope'"),
        (["--define", "velocity_min_count"], "expected NAME=VALUE"),
        (["--define", "velocity_min_count=many"], "is not a number (its default is 5)"),
        (["--compare", "velocity_min_count"], "expected NAME=V1,V2"),
        (["--compare", "velocity_min_count=4,x"], "'x' is not a number"),
        (["--compare", "velocity_min_count=4,4"], "a value is given twice"),
        (["no_such_rule"], "no rule no_such_rule"),
        (["--fraud-share", "2"], "--fraud-share must be between 0 and 1"),
        # Before the run, not after it: the report was written last and failed with a traceback.
        (["--json", "/nonexistent/x.json"], "--json: /nonexistent/x.json cannot be written"),
        (["--html", "/tmp"], "--html: /tmp is a folder"),
    ],
)
def test_bad_options_get_a_clear_error(truth: Path, args: list[str], said: str) -> None:
    done = _backtest("--ground-truth", str(truth), *args)
    assert done.returncode == 2, done.stdout + done.stderr
    assert said in " ".join(done.stderr.split())


def test_a_ground_truth_with_an_unknown_scenario_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(_txn("ACC-A", "10.00", T0, "alien_invasion")) + "\n")
    done = _backtest("--ground-truth", str(path))
    assert done.returncode == 2
    assert "bad.jsonl:1: unknown scenario 'alien_invasion'" in " ".join(done.stderr.split())


@pytest.mark.slow
def test_generated_traffic_every_rule_catches_its_own_scenario(tmp_path: Path) -> None:
    out = tmp_path / "generated.json"
    done = _backtest("--count", "6000", "--seed", "3", "--fraud-share", "0.2", "--json", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    doc = json.loads(out.read_text())
    for rule in doc["rules"]:
        assert rule["recall"] >= 0.95, rule
    assert doc["overall"]["blacklist_hits"] > 0  # the population's blacklist, generated too
    assert sum(doc["missed_by_scenario"].values()) <= 0.05 * doc["frauds"]


def test_a_window_threshold_reruns_only_the_query_that_holds_it() -> None:
    from streamguard.rules.backtest import load_rules, partial

    rules = {r.rule_id: r for r in load_rules(ROOT / "ksql").rules}
    plan = partial(rules["velocity"], {"velocity_min_count"}, {"transactions", "fraud_alerts"})
    assert plan is not None and plan.topics == ["streamguard_velocity_windows"]
    # The table's query is left out; the stream over its changelog and the INSERT remain.
    assert not any("AS SELECT" in " ".join(text.upper().split()) for text in plan.statements)
    assert any(text.lstrip().upper().startswith("INSERT INTO") for text in plan.statements)
    # A threshold in the query that reads the traffic (or in the table) re-runs the whole rule.
    setup = {"transactions", "fraud_alerts"}
    assert partial(rules["high_amount"], {"high_amount_threshold"}, setup) is None
    assert partial(rules["card_testing"], {"card_testing_max_amount"}, setup) is None


def test_a_replay_csv_with_a_scenario_column_is_backtested(tmp_path: Path) -> None:
    rows = _traffic()
    columns = [c for c in rows[0] if c != "case"]
    path = tmp_path / "recorded.csv"
    lines = [",".join(columns)] + [",".join(str(r[c]) for c in columns) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    out = tmp_path / "replay.json"
    done = _backtest("high_amount", "--replay", str(path), "--json", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    high = _rules(json.loads(out.read_text()))["high_amount"]
    assert (high["alerts"], high["true_positives"], high["recall"]) == (2, 1, 0.5)
    # Without the truth there is nothing to score against: said, not guessed.
    path.write_text("\n".join(line.rsplit(",", 1)[0] for line in lines) + "\n")
    refused = _backtest("--replay", str(path))
    assert refused.returncode == 2
    assert "has no scenario column" in " ".join(refused.stderr.split())


def test_the_tables_keep_every_figure_whole_at_80_columns(truth: Path) -> None:
    """80 columns is what a pipe or a log gets: the tables cut figures to fit ("1.0…")."""
    done = _backtest(
        "--ground-truth", str(truth), "--compare", "velocity_min_count=4,5,8", columns=80
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "…" not in done.stdout, done.stdout
    assert max(len(line) for line in done.stdout.splitlines()) <= 80
    # Each rule's row carries its ten figures.
    rows = [line.split() for line in done.stdout.splitlines() if line.startswith(" velocity ")]
    assert rows and len(rows[0]) == 10, rows
