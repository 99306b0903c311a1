"""Runs each rule's cases on a ksql-test-runner and compares the alerts written with the cases'.

The statements of a case are the rule's file and the files before it that are not rules
themselves (the streams it reads and writes), so one rule is tested alone. They run on
`python -m ksql_emulator.test_runner` (ksql-test-runner's flags, the emulator's engine in
memory, no Kafka), a separate program: StreamGuard talks to ksqlDB, never imports its stand-in.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from streamguard.migrations.files import MigrationFile, all_migrations
from streamguard.rules.cases import AMOUNT_FIELDS, TIME_FIELDS, Case, CaseFileError, RuleCases

ALERTS_TOPIC = "fraud_alerts"
TEST_RUNNER_ENV = "STREAMGUARD_KSQL_TEST_RUNNER"
DEFAULT_TEST_RUNNER = [sys.executable, "-m", "ksql_emulator.test_runner"]
_INSERTS_ALERTS = re.compile(r"\bINSERT\s+INTO\s+fraud_alerts\b", re.IGNORECASE)


@dataclass
class CaseResult:
    rule: str
    case: str
    expected: list[dict[str, Any]]
    actual: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.error is None and not self.problems


def is_rule(migration: MigrationFile) -> bool:
    """A rule file feeds fraud_alerts; the others set up what rules read and write."""
    return bool(_INSERTS_ALERTS.search(migration.read_text()))


def rule_file(migrations: list[MigrationFile], rule: str) -> MigrationFile:
    for migration in migrations:
        if migration.path.stem.split("__", 1)[1] == rule:
            return migration
    names = ", ".join(m.path.stem.split("__", 1)[1] for m in migrations if is_rule(m))
    folder = migrations[0].path.parent if migrations else None
    where = f" in {folder}" if folder else " (no migration files at all: is --ksql the folder?)"
    raise CaseFileError(
        f"no migration file V<version>__{rule}.sql{where}; the rules are: {names or 'none'}"
    )


def statements(
    migrations: list[MigrationFile], rule: MigrationFile, defines: Mapping[str, str] | None = None
) -> str:
    """The rule's file after the files it builds on, its variables DEFINEd first (the files
    DEFINE none: their values come from ksql-defines.properties and --define)."""
    chosen = [m for m in migrations if m.version < rule.version and not is_rule(m)] + [rule]
    header = "".join(
        f"DEFINE {name} = '{value.replace(chr(39), chr(39) * 2)}';\n"
        for name, value in (defines or {}).items()
    )
    return header + "\n".join(f"-- {m.path.name}\n{m.read_text()}" for m in chosen)


def test_runner_command() -> list[str]:
    configured = os.environ.get(TEST_RUNNER_ENV)
    return shlex.split(configured) if configured else list(DEFAULT_TEST_RUNNER)


def run_case(cases: RuleCases, case: Case, sql: str, command: list[str]) -> CaseResult:
    result = CaseResult(cases.rule, case.name, [])
    try:
        transactions = cases.transactions(case)
        result.expected = cases.expected(case)
    except CaseFileError as exc:
        result.error = str(exc)
        return result
    inputs = [
        {
            "topic": "transactions",
            "key": txn.account_id,
            "value": json.loads(txn.to_json()),
            "timestamp": txn.event_time,
        }
        for txn in transactions
    ]
    with tempfile.TemporaryDirectory(prefix="streamguard-rules-") as work:
        folder = Path(work)
        (folder / "statements.sql").write_text(sql)
        (folder / "input.json").write_text(json.dumps({"inputs": inputs}))
        argv = [*command, "-s", str(folder / "statements.sql"), "-i", str(folder / "input.json")]
        argv += ["--actual-file", str(folder / "actual.json")]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        except FileNotFoundError:
            result.error = f"the ksql test runner {command[0]!r} is not installed"
            return result
        actual_path = folder / "actual.json"
        if done.returncode != 0 or not actual_path.exists():
            said = (done.stdout + done.stderr).strip() or f"exit status {done.returncode}"
            result.error = f"the rule's statements failed: {said}"
            return result
        written = json.loads(actual_path.read_text())["outputs"]
    result.actual = [
        _alert(record["value"]) for record in written if record["topic"] == ALERTS_TOPIC
    ]
    result.problems = compare(result.expected, result.actual)
    return result


def run(
    selected: Iterable[RuleCases],
    migrations_dir: Path,
    defines: Mapping[str, str] | None = None,
) -> list[CaseResult]:
    """Every case of every selected rule, in parallel, results in the order of the files; the
    variables are the project's defaults with `defines` over them."""
    from streamguard.rules.change import current_values

    migrations = all_migrations(migrations_dir)
    command = test_runner_command()
    jobs: list[tuple[RuleCases, Case, str]] = []
    for cases in selected:
        # The rule as ksql/ leaves it: its defaults, then the values of its latest change.
        values = {**current_values(migrations_dir, cases.rule), **(defines or {})}
        sql = statements(migrations, rule_file(migrations, cases.rule), values)
        jobs.extend((cases, case, sql) for case in cases.cases)
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 2)) as pool:
        return list(pool.map(lambda job: run_case(job[0], job[1], job[2], command), jobs))


def compare(expected: list[dict[str, Any]], actual: list[dict[str, Any]]) -> list[str]:
    """What differs, alert by alert in order, on the fields each expected alert names."""
    problems = []
    for index, (want, got) in enumerate(zip(expected, actual, strict=False), 1):
        for name, value in want.items():
            if got.get(name) != value:
                problems.append(f"alert {index}: {name} expected {value!r}, got {got.get(name)!r}")
    if len(actual) != len(expected):
        problems.append(f"expected {len(expected)} alert(s), the rule wrote {len(actual)}")
    return problems


def _alert(value: dict[str, Any]) -> dict[str, Any]:
    """An alert as written (ksqlDB's upper-case JSON) in the cases' terms."""
    out: dict[str, Any] = {}
    for name, item in value.items():
        key = name.lower()
        if item is not None and key in AMOUNT_FIELDS:
            item = Decimal(str(item))
        elif item is not None and key in TIME_FIELDS:
            item = int(item)
        out[key] = item
    return out
