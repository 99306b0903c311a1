"""`streamguard produce` as a user runs it: dry runs, ground truth, scenarios, bad input."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from streamguard.models import Transaction
from streamguard.producer.command import produce_command
from streamguard.producer.scenarios import SCENARIO_HEADER, Scenario

app = typer.Typer()
app.command()(produce_command)
REPRODUCIBLE = ["--seed", "7", "--start-time", "2026-02-01T00:00:00Z", "--fraud-share", "0.3"]


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["--bootstrap-servers", "127.0.0.1:1", *args])
    return result.exit_code, result.stdout, result.stderr


def test_dry_run_prints_reproducible_messages_and_sends_none(tmp_path: Path) -> None:
    code, first, err = _run("--dry-run", "--count", "500", *REPRODUCIBLE)
    assert code == 0, err
    assert "printed 500 messages, sent none" in err
    _, second, _ = _run("--dry-run", "--count", "500", *REPRODUCIBLE)
    assert first == second
    _, other_seed, _ = _run("--dry-run", "--count", "500", *REPRODUCIBLE, "--seed", "8")
    assert other_seed != first
    lines = [json.loads(line) for line in first.splitlines()]
    assert len(lines) == 500
    for line in lines:
        txn = Transaction.model_validate(line["value"])
        assert line["key"] == txn.account_id
        assert line["topic"] == "transactions"
        Scenario(line["headers"][SCENARIO_HEADER])


def test_ground_truth_file_holds_each_message_with_its_scenario(tmp_path: Path) -> None:
    truth = tmp_path / "truth.jsonl"
    code, out, err = _run(
        "--dry-run", "--count", "300", *REPRODUCIBLE, "--ground-truth", str(truth)
    )
    assert code == 0, err
    printed = [json.loads(line) for line in out.splitlines()]
    recorded = [json.loads(line) for line in truth.read_text().splitlines()]
    assert [r.pop("scenario") for r in recorded] == [p["headers"][SCENARIO_HEADER] for p in printed]
    assert recorded == [p["value"] for p in printed]


def test_scenario_option_restricts_the_fraud_mixed_in() -> None:
    code, out, err = _run(
        "--dry-run",
        "--count",
        "2000",
        *REPRODUCIBLE,
        "--scenario",
        "card_testing",
        "--scenario",
        "impossible_travel",
    )
    assert code == 0, err
    shares = Counter(json.loads(line)["headers"][SCENARIO_HEADER] for line in out.splitlines())
    assert set(shares) == {"normal", "card_testing", "impossible_travel"}
    assert shares["card_testing"] == pytest.approx(300, abs=20)
    assert shares["impossible_travel"] == pytest.approx(300, abs=20)


def test_blacklist_file_names_what_the_blacklisted_scenario_uses(tmp_path: Path) -> None:
    blacklist = tmp_path / "blacklist.csv"
    code, out, err = _run(
        "--dry-run",
        "--count",
        "200",
        *REPRODUCIBLE,
        "--fraud-share",
        "1",
        "--scenario",
        "blacklisted",
        "--write-blacklist",
        str(blacklist),
    )
    assert code == 0, err
    listed = {line.split(",")[1] for line in blacklist.read_text().splitlines()[1:]}
    for line in out.splitlines():
        value = json.loads(line)["value"]
        assert {value["account_id"], value["merchant_id"]} & listed


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["--fraud-share", "1.5"], "--fraud-share"),
        (["--scenario", "normal"], "'normal' is not a fraud scenario"),
        (["--scenario", "bank_robbery"], "'bank_robbery' is not a fraud scenario"),
        (["--start-time", "yesterday"], "--start-time"),
        (["--start-time", "2026-01-01T00:00:00"], "time zone"),
        (["--burst", "lots"], "SIZE@SECONDS"),
        (["--count", "-1"], "--count"),
        (["--duration", "0"], "--duration"),
        (["--rate", "nan"], "--rate"),
        (["--rate", "-10"], "not -10.0"),
        (["--replay", "/nonexistent.jsonl"], "'/nonexistent.jsonl' does not exist"),
        (["--ground-truth", "/nonexistent/gt.jsonl"], "there is no folder /nonexistent"),
        (["--write-blacklist", "/tmp"], "--write-blacklist: /tmp is a folder"),
    ],
)
def test_bad_options_are_named(args: list[str], complaint: str) -> None:
    code, _, err = _run("--dry-run", *args)
    assert code == 2
    assert complaint in " ".join(err.split())


def test_another_traffic_seed_sends_new_transactions_of_the_same_population(
    tmp_path: Path,
) -> None:
    truth = tmp_path / "truth.jsonl"
    args = ("--dry-run", "--count", "300", *REPRODUCIBLE, "--ground-truth", str(truth))
    _, first, _ = _run(*args)
    _, same, _ = _run(*args, "--traffic-seed", "7", "--append-ground-truth")
    _, other, _ = _run(*args, "--traffic-seed", "8", "--append-ground-truth")
    assert same == first  # the traffic seed defaults to --seed

    def ids(out: str, field: str) -> set[str]:
        return {json.loads(line)["value"][field] for line in out.splitlines()}

    assert not ids(other, "transaction_id") & ids(first, "transaction_id")
    # The same accounts (the population), met in another order.
    assert ids(other, "account_id") & ids(first, "account_id")
    # Each run added its lines to the file rather than replacing the last one's.
    assert len(truth.read_text().splitlines()) == 900


def test_help_offers_only_fraud_scenarios() -> None:
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "400"})
    assert result.exit_code == 0
    (offered,) = [line for line in result.stdout.splitlines() if "--scenario" in line]
    assert "[high_amount|velocity_burst|" in offered
    assert "normal" not in offered.split("]")[0]


def test_replay_of_a_bad_file_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "recorded.jsonl"
    path.write_text('{"amount": 1}\n')
    code, _, err = _run("--dry-run", "--replay", str(path))
    assert code == 2
    assert f"{path}:1" in " ".join(err.split())


def test_live_event_times_are_the_wall_clock() -> None:
    before = int(time.time() * 1000)
    code, out, err = _run("--dry-run", "--count", "50", "--scenario", "high_amount")
    after = int(time.time() * 1000)
    assert code == 0, err
    for line in out.splitlines():
        assert before <= json.loads(line)["value"]["event_time"] <= after
