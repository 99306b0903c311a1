"""Pacing arithmetic, burst syntax, and replaying recorded files with clear errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from streamguard.producer import Population, Scenario, TransactionGenerator
from streamguard.producer.pacing import Burst, Pacer
from streamguard.producer.replay import ReplayError, read_recorded


def test_pacer_allows_rate_times_elapsed_plus_bursts_due() -> None:
    pacer = Pacer(100, Burst(50, 10))
    start = pacer.started
    assert pacer.allowance(start + 1) == pytest.approx(100)
    assert pacer.allowance(start + 9.99) == pytest.approx(999)
    assert pacer.allowance(start + 10) == pytest.approx(1050)
    assert Pacer(0).allowance() == float("inf")


@pytest.mark.parametrize("text", ["500", "x@10", "500@0", "-1@5", "@"])
def test_bad_burst_is_named(text: str) -> None:
    with pytest.raises(ValueError, match="SIZE@SECONDS"):
        Burst.parse(text)


def _recorded(count: int = 20) -> list[dict[str, object]]:
    txns = TransactionGenerator(Population.build(2), seed=2, fraud_share=0.5).take(count)
    return [t.ground_truth() for t in txns]


def test_replay_of_a_ground_truth_file_keeps_values_and_scenarios(tmp_path: Path) -> None:
    rows = _recorded()
    path = tmp_path / "truth.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    replayed = [t.ground_truth() for t in read_recorded(path)]
    assert replayed == rows


def test_replay_of_csv(tmp_path: Path) -> None:
    rows = _recorded()
    path = tmp_path / "txns.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    replayed = list(read_recorded(path))
    assert [t.value["transaction_id"] for t in replayed] == [r["transaction_id"] for r in rows]
    assert [t.scenario for t in replayed] == [Scenario(str(r["scenario"])) for r in rows]
    assert replayed[0].value["amount"] == rows[0]["amount"]


@pytest.mark.parametrize(
    ("line", "complaint"),
    [
        ("{not json", "not JSON"),
        ('{"scenario": "alien"}', "unknown scenario 'alien'"),
        ("[1, 2]", "JSON object"),
    ],
)
def test_replay_names_the_bad_line(tmp_path: Path, line: str, complaint: str) -> None:
    good = json.dumps(_recorded(1)[0])
    path = tmp_path / "bad.jsonl"
    path.write_text(f"{good}\n{line}\n")
    with pytest.raises(ReplayError, match=complaint) as error:
        list(read_recorded(path))
    assert f"{path}:2" in str(error.value)


def test_replay_names_the_invalid_field(tmp_path: Path) -> None:
    row = _recorded(1)[0] | {"currency": "ZZZ"}
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(row) + "\n")
    with pytest.raises(ReplayError, match=r"bad.jsonl:1: currency: .*ISO 4217"):
        list(read_recorded(path))
