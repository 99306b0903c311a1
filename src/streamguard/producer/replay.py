"""Replaying recorded transactions from JSON Lines or CSV, each validated before it is sent."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

from pydantic import ValidationError

from streamguard.models import Transaction
from streamguard.producer.errors import ReplayError
from streamguard.producer.generator import Generated
from streamguard.producer.scenarios import Scenario


def read_recorded(path: Path) -> Iterator[Generated]:
    """Transactions from a `.jsonl`/`.json` (one object a line) or `.csv` file, in file order.

    A `scenario` field, as the ground-truth file writes it, is kept as the scenario header.
    """
    suffix = path.suffix.lower()
    if suffix == ".csv":
        with path.open(newline="") as handle:
            for line, row in enumerate(csv.DictReader(handle), start=2):
                yield _parse(dict(row), path, line)
    elif suffix in (".jsonl", ".json", ".ndjson"):
        with path.open() as handle:
            for line, text in enumerate(handle, start=1):
                if not text.strip():
                    continue
                try:
                    row = json.loads(text)
                except json.JSONDecodeError as exc:
                    raise ReplayError(f"{path}:{line}: not JSON: {exc.msg}") from None
                if not isinstance(row, dict):
                    raise ReplayError(f"{path}:{line}: expected a JSON object per line")
                yield _parse(row, path, line)
    else:
        raise ReplayError(f"{path}: replay reads .jsonl or .csv files, not {suffix or 'this'}")


def _parse(row: dict[str, object], path: Path, line: int) -> Generated:
    scenario_text = str(row.pop("scenario", None) or Scenario.NORMAL.value)
    row.pop("case", None)  # the ground truth's name for a hard case of normal traffic
    try:
        scenario = Scenario(scenario_text)
    except ValueError:
        raise ReplayError(f"{path}:{line}: unknown scenario {scenario_text!r}") from None
    try:
        txn = Transaction.model_validate(row)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ReplayError(f"{path}:{line}: {where}: {first['msg']}") from None
    return Generated(txn.account_id.encode(), txn.to_json(), scenario)
