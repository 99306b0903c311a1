"""The whole pipeline as a user starts it: ./start.sh on the local stack, labelled traffic, alerts
in PostgreSQL, ./stop.sh.

The producer's ground truth says which account played which scenario; every fraud group it
sent must reach PostgreSQL as an alert of its scenario's rule within 60 s, and no account that
only ever made normal transactions may have an alert.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from streamguard.producer import Scenario
from streamguard.settings import get_settings
from tests.conftest import stack_dir

ROOT = Path(__file__).resolve().parents[2]
DEADLINE_S = 60.0
# Scenarios the producer runs at the start, before the snapshot of its ground truth is taken.
WARM_UP_S = 10.0


def _env(state_dir: Path) -> dict[str, str]:
    # The scripts must find every address in their own state dir, not in settings of this run.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("STREAMGUARD_")
        and k not in {"KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL", "KSQLDB_URL"}
    }
    # No Docker engine is reachable where the suite runs; this keeps it so if one appears.
    env["DOCKER_HOST"] = "unix:///nonexistent/docker.sock"
    return env | {"COLUMNS": "200"}


def _script(name: str, *args: str, state_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ROOT / name), "--state-dir", str(state_dir), *args],
        capture_output=True,
        text=True,
        timeout=600,
        env=_env(state_dir),
        cwd=ROOT,
    )


def _processes_mentioning(text: str) -> list[str]:
    """Command lines of running processes that mention `text` (the state dir)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        line = " ".join(part.decode(errors="replace") for part in argv)
        if text in line:
            found.append(f"{cmdline.parent.name}: {line[:200]}")
    return found


def _scenarios_by_account(truth: Path) -> dict[str, set[Scenario]]:
    scenarios: dict[str, set[Scenario]] = defaultdict(set)
    # The producer flushes whole lines per batch; a torn last line is skipped, not misread.
    for line in truth.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        scenarios[row["account_id"]].add(Scenario(row["scenario"]))
    return scenarios


def _alerted(database_url: str) -> set[tuple[str, str]]:
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT DISTINCT account_id, rule_id FROM alerts"))
            return {(account, rule) for account, rule in rows}
    finally:
        engine.dispose()


@pytest.fixture
def state_dir() -> Iterator[Path]:
    directory = stack_dir("e2e")
    yield directory
    # Whatever the test's outcome, nothing it started outlives it.
    _script("stop.sh", "--purge", state_dir=directory)
    shutil.rmtree(directory, ignore_errors=True)


@pytest.mark.slow
def test_start_sh_alerts_on_every_fraud_scenario_and_stop_sh_stops_everything(
    state_dir: Path,
) -> None:
    started = _script("start.sh", "--rate", "50", "--fraud-share", "0.3", state_dir=state_dir)
    assert started.returncode == 0, started.stdout[-3000:] + started.stderr[-3000:]
    up_at = time.monotonic()
    assert "Watch alerts" in started.stdout
    assert "MIGRATED" in _script_cli_info(state_dir)

    time.sleep(WARM_UP_S)
    truth = state_dir / "apps" / "ground-truth.jsonl"
    scenario_of = _scenarios_by_account(truth)
    sent = set().union(*scenario_of.values()) if scenario_of else set()
    assert set(Scenario.fraud()) <= sent, f"the producer sent only {sorted(sent)}"
    expected = {
        (account, next(iter(scenarios)).rule_id or "")
        for account, scenarios in scenario_of.items()
        if scenarios != {Scenario.NORMAL} and len(scenarios) == 1
    }
    database_url = get_settings(state_dir=state_dir).database

    missing = expected
    while missing and time.monotonic() - up_at < DEADLINE_S:
        time.sleep(1)
        missing = expected - _alerted(database_url)
    assert not missing, (
        f"{len(missing)} of {len(expected)} fraud groups have no alert of their rule "
        f"{DEADLINE_S:.0f} s after start.sh: {sorted(missing)[:5]}"
    )
    benign = {account for account, s in scenario_of.items() if s == {Scenario.NORMAL}}
    false_alarms = sorted(pair for pair in _alerted(database_url) if pair[0] in benign)
    assert not false_alarms, f"accounts with only normal traffic alerted: {false_alarms[:5]}"

    stopped = _script("stop.sh", state_dir=state_dir)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    for name in ("producer", "consumer", "ksqldb", "postgres", "kafka"):
        assert name in stopped.stdout
    assert not _processes_mentioning(str(state_dir)), "processes outlived ./stop.sh"
    # Data is kept unless --purge: the alerts are still on disk.
    assert (state_dir / "postgres").is_dir()


def _script_cli_info(state_dir: Path) -> str:
    info = subprocess.run(
        [
            sys.executable, "-m", "streamguard.cli", "--state-dir", str(state_dir), "migrate",
            "-c", str(state_dir / "ksql-migrations.properties"), "info",
        ],
        capture_output=True, text=True, timeout=120, env=_env(state_dir), cwd=ROOT,
    )  # fmt: skip
    return info.stdout
