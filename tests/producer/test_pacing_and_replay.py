"""Pacing arithmetic, burst syntax, and replaying recorded files with clear errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from streamguard.producer import Population, ReplayError, Scenario, TransactionGenerator
from streamguard.producer.pacing import Burst, Pacer
from streamguard.producer.replay import read_recorded


def test_pacer_allows_rate_times_elapsed_plus_bursts_due() -> None:
    pacer = Pacer(100, Burst(50, 10), started=1000.0)
    assert pacer.allowance(1001) == pytest.approx(100)
    assert pacer.allowance(1009.99) == pytest.approx(999)
    assert pacer.allowance(1010) == pytest.approx(1050)
    assert Pacer(0).allowance() == float("inf")


def test_pacer_hands_out_what_is_due_in_whole_messages() -> None:
    pacer = Pacer(2000, started=0.0)
    assert pacer.due(0, 0.0) == 0
    assert pacer.due(0, 0.0105) == 21  # 21 of 2000/s are due after 10.5 ms
    assert pacer.due(21, 0.0105) == 0
    assert pacer.due(0, 5.0, most=500) == 500
    assert pacer.due(10_000, 4.0) == 0  # ahead of schedule: nothing, not a negative count
    assert pacer.seconds_until_due(21, 0.0105) == pytest.approx(0.0005)
    assert Pacer(0).due(10**9) == 1000
    assert Pacer(0).seconds_until_due(10**9) == 0


def test_paced_arithmetic_sends_rate_times_seconds() -> None:
    # Simulated clock: a sender that sends whatever is due each ms ends on rate * seconds.
    pacer = Pacer(2000, Burst(300, 4), started=0.0)
    sent = 0
    for ms in range(1, 10_001):
        sent += pacer.due(sent, ms / 1000)
    assert sent == 2000 * 10 + 2 * 300  # bursts at 4 s and 8 s


def test_a_rate_must_be_a_number() -> None:
    with pytest.raises(ValueError, match="messages a second"):
        Pacer(float("nan"))


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
    assert [t.fields()["transaction_id"] for t in replayed] == [r["transaction_id"] for r in rows]
    assert [t.scenario for t in replayed] == [Scenario(str(r["scenario"])) for r in rows]
    assert replayed[0].fields()["amount"] == rows[0]["amount"]


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
