"""Labelled traffic for a backtest: a ground-truth file, a replay file with a scenario column,
or transactions generated on the spot, each transaction with its scenario (and its hard case of
normal traffic, when the ground truth names one)."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from streamguard.producer.errors import ReplayError
from streamguard.producer.generator import TransactionGenerator
from streamguard.producer.population import Population
from streamguard.producer.replay import read_recorded
from streamguard.producer.scenarios import Scenario

# Generated traffic starts on a Monday at midnight UTC and, by default, spreads over one day,
# so that the night and the day both weigh as they do in life.
DEFAULT_START_MS = 1_767_571_200_000  # 2026-01-05T00:00:00Z
DAY_S = 86_400


class TrafficError(Exception):
    """Traffic that cannot be read: the message names the file, the line and what is wrong."""


class Labelled(NamedTuple):
    """One transaction of the traffic: what a rule sees of it, and the truth about it."""

    transaction_id: str
    account_id: str
    card_id: str
    merchant_id: str
    event_time: int
    scenario: str
    case: str | None  # the hard case of normal traffic, when the ground truth names one


@dataclass
class Traffic:
    """Labelled transactions, in the order they are fed to the rules, and where they came from."""

    source: str
    transactions: list[Labelled]
    values: list[bytes]  # each transaction's message value (JSON), as the topic carries it
    blacklist: set[tuple[str, str]] = field(default_factory=set)  # (kind, value)

    def __len__(self) -> int:
        return len(self.transactions)

    def write_runner_input(self, path: Path, topic: str = "transactions") -> None:
        """The transactions as ksql-test-runner's input records, keyed by account, timed by
        event_time, written without decoding the values again."""
        head = b'{"topic":%s,"key":' % json.dumps(topic).encode()
        with path.open("wb") as out:
            out.write(b'{"inputs":[\n')
            last = len(self.values) - 1
            for n, (txn, value) in enumerate(zip(self.transactions, self.values, strict=True)):
                out.write(
                    b'%s%s,"value":%s,"timestamp":%d}%s\n'
                    % (
                        head,
                        json.dumps(txn.account_id).encode(),
                        value,
                        txn.event_time,
                        b"" if n == last else b",",
                    )
                )
            out.write(b"]}\n")


def generated(
    count: int,
    *,
    seed: int,
    fraud_share: float,
    start_ms: int = DEFAULT_START_MS,
    rate: float | None = None,
) -> Traffic:
    """`count` transactions of the producer's generator (its population of `seed`), over one
    day unless `rate` (simulated transactions a second) says otherwise."""
    from streamguard.producer.command import accounts_for

    rate = rate if rate is not None else max(count / DAY_S, 0.01)
    population = Population.build(seed, accounts=accounts_for(rate))
    generator = TransactionGenerator(
        population, seed=seed, fraud_share=fraud_share, start_ms=start_ms, rate=rate
    )
    made: list[Labelled] = []
    values: list[bytes] = []
    while len(made) < count:
        for txn in generator.next_group():
            made.append(_from_transaction(txn, txn.case))
            values.append(txn.value)
    # Whole groups were made; a burst cut at the count would stop looking like itself.
    blacklist = {(row["kind"], row["value"]) for row in population.blacklist_rows()}
    source = f"generated: {len(made):,} transactions, seed {seed}, fraud share {fraud_share}"
    return Traffic(source, made, values, blacklist)


def _from_transaction(txn: Any, case: str | None) -> Labelled:
    """A generated or replayed transaction with its truth."""
    f = txn.fields()
    return Labelled(
        f["transaction_id"],
        f["account_id"],
        f["card_id"],
        f["merchant_id"],
        f["event_time"],
        txn.scenario.value,
        case,
    )


def from_ground_truth(path: Path) -> Traffic:
    """The producer's ground-truth file (`produce --ground-truth`): JSON Lines, one transaction
    with its `scenario` (and `case`) a line."""
    made: list[Labelled] = []
    values: list[bytes] = []
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise TrafficError(f"{path}: cannot read: {exc.strerror}") from None
    with handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise TrafficError(f"{path}:{line_no}: not JSON: {exc.msg}") from None
            if not isinstance(row, dict):
                raise TrafficError(f"{path}:{line_no}: expected a JSON object per line")
            made.append(_labelled(row, path, line_no))
            row.pop("scenario", None)
            row.pop("case", None)
            values.append(json.dumps(row, separators=(",", ":")).encode())
    if not made:
        raise TrafficError(f"{path}: holds no transactions")
    return Traffic(f"ground truth {path} ({len(made):,} transactions)", made, values)


def from_replay(path: Path) -> Traffic:
    """A `produce --replay` file (.jsonl or .csv) with a `scenario` column, each row validated
    as the producer validates it."""
    if path.suffix.lower() == ".csv":
        try:
            with path.open(newline="") as handle:
                header = next(csv.reader(handle), [])
        except OSError as exc:
            raise TrafficError(f"{path}: cannot read: {exc.strerror}") from None
        if "scenario" not in header:
            raise TrafficError(
                f"{path}: has no scenario column; a backtest needs each transaction's truth "
                "(normal or the fraud scenario's name)"
            )
    made: list[Labelled] = []
    values: list[bytes] = []
    try:
        for txn in read_recorded(path):
            made.append(_from_transaction(txn, None))
            values.append(txn.value)
    except ReplayError as exc:
        raise TrafficError(str(exc)) from None
    except OSError as exc:
        raise TrafficError(f"{path}: cannot read: {exc.strerror}") from None
    if not made:
        raise TrafficError(f"{path}: holds no transactions")
    return Traffic(f"replay file {path} ({len(made):,} transactions)", made, values)


def read_blacklist(path: Path) -> set[tuple[str, str]]:
    """(kind, value) pairs of a blacklist CSV (`blacklist import`'s columns kind,value,...)."""
    try:
        with path.open(newline="") as handle:
            reader = csv.DictReader(handle)
            if not {"kind", "value"} <= set(reader.fieldnames or []):
                raise TrafficError(f"{path}: a blacklist CSV needs the columns kind and value")
            return {(row["kind"].strip().lower(), row["value"].strip()) for row in reader}
    except OSError as exc:
        raise TrafficError(f"{path}: cannot read: {exc.strerror}") from None


_NEEDED = ("transaction_id", "account_id", "card_id", "merchant_id", "event_time", "scenario")


def _labelled(row: dict[str, Any], path: Path, line_no: int) -> Labelled:
    missing = [name for name in _NEEDED if name not in row]
    if missing:
        raise TrafficError(f"{path}:{line_no}: no {', '.join(missing)}")
    scenario = row["scenario"]
    try:
        Scenario(scenario)
    except ValueError:
        known = ", ".join(s.value for s in Scenario)
        raise TrafficError(
            f"{path}:{line_no}: unknown scenario {scenario!r}; known: {known}"
        ) from None
    event_time = row["event_time"]
    if not isinstance(event_time, int) or isinstance(event_time, bool):
        raise TrafficError(f"{path}:{line_no}: event_time must be epoch milliseconds")
    case = row.get("case")
    return Labelled(
        str(row["transaction_id"]),
        str(row["account_id"]),
        str(row["card_id"]),
        str(row["merchant_id"]),
        event_time,
        scenario,
        str(case) if case else None,
    )
