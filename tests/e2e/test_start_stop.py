"""The whole pipeline as a user starts it: ./start.sh on the local stack, labelled traffic, alerts
in PostgreSQL, ./stop.sh.

The producer's ground truth, run through `streamguard rules backtest`, says which alerts the
rules must write for the traffic sent so far: every one must reach PostgreSQL within 60 s, every
fraud scenario caught by its rule, false alerts only on the hard cases of normal traffic; an
alert in PostgreSQL that the backtest did not predict must be about traffic sent after it. The
`blacklisted` scenario's alerts carry their blacklist hits (start.sh loads the blacklist).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from streamguard.producer import Scenario
from streamguard.settings import get_settings
from tests.conftest import project_migrations_turn, stack_dir

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
    # start.sh applies the project's own ksql/ folder: one test at a time does.
    turn = project_migrations_turn() if name == "start.sh" else contextlib.nullcontext()
    with turn:
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


def _truth_rows(truth: Path) -> list[dict[str, Any]]:
    rows = []
    # The producer flushes whole lines per batch; a torn last line is skipped, not misread.
    for line in truth.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def _alerts_in_postgres(database_url: str) -> dict[str, dict[str, Any]]:
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT alert_id, rule_id, account_id, transaction_id, blacklist_hits, "
                    "(extract(epoch FROM window_start) * 1000)::bigint AS window_start, "
                    "(extract(epoch FROM window_end) * 1000)::bigint AS window_end FROM alerts"
                )
            )
            return {row.alert_id: dict(row._mapping) for row in rows}
    finally:
        engine.dispose()


def _predicted_id(alert: dict[str, Any]) -> str:
    """DESIGN.md's alert identity, as the consumer spells it in alerts.alert_id."""
    if alert["transaction_id"]:
        return f"{alert['rule_id']}:{alert['transaction_id']}"
    return f"{alert['rule_id']}:{alert['account_id']}:{alert['window_start']}"


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
    snapshot = _truth_rows(truth)
    sent = {row["scenario"] for row in snapshot}
    assert {s.value for s in Scenario.fraud()} <= sent, f"the producer sent only {sorted(sent)}"
    snapshot_file = state_dir / "snapshot.jsonl"
    snapshot_file.write_text("".join(json.dumps(row) + "\n" for row in snapshot))
    report, predicted_file = state_dir / "backtest.json", state_dir / "alerts.jsonl"
    backtest = subprocess.run(
        [sys.executable, "-m", "streamguard.cli", "rules", "backtest", "--ground-truth",
         str(snapshot_file), "--json", str(report), "--alerts", str(predicted_file)],
        capture_output=True, text=True, timeout=600, env=_env(state_dir), cwd=ROOT,
    )  # fmt: skip
    assert backtest.returncode == 0, backtest.stdout + backtest.stderr
    doc = json.loads(report.read_text())
    # Every fraud scenario sent is caught by its rule; only the last group before the snapshot
    # (at most one burst, 6 transactions) may be cut short of what its rule needs.
    assert all(r["own_caught"] > 0 for r in doc["rules"]), doc["rules"]
    assert sum(doc["missed_by_scenario"].values()) <= 6, doc["missed_by_scenario"]
    predicted = [json.loads(line) for line in predicted_file.read_text().splitlines()]
    assert all(p["cases"] and "everyday" not in p["cases"] for p in predicted if not p["true"])
    expected = {_predicted_id(p) for p in predicted}
    database_url = get_settings(state_dir=state_dir).database

    missing = expected
    while missing and time.monotonic() - up_at < DEADLINE_S:
        time.sleep(1)
        missing = expected - set(_alerts_in_postgres(database_url))
    assert not missing, (
        f"{len(missing)} of {len(expected)} alerts the backtest predicts are not in PostgreSQL "
        f"{DEADLINE_S:.0f} s after start.sh: {sorted(missing)[:5]}"
    )
    stored = _alerts_in_postgres(database_url)
    # What the backtest did not predict is about transactions sent after its snapshot.
    later = [row for row in _truth_rows(truth)[len(snapshot) :]]
    later_ids = {row["transaction_id"] for row in later}
    for alert_id, alert in stored.items():
        if alert_id in expected:
            continue
        if alert["transaction_id"]:
            assert alert["transaction_id"] in later_ids, f"unpredicted alert {alert_id}"
        else:
            assert any(
                row["account_id"] == alert["account_id"]
                and alert["window_start"] <= row["event_time"] < alert["window_end"]
                for row in later
            ), f"unpredicted alert {alert_id}"
    # The population's blacklist is loaded: the blacklisted scenario's alerts show their hits.
    blacklisted = {
        p["transaction_id"]
        for p in predicted
        if p["transaction_id"] and p["scenarios"] == ["blacklisted"]
    }
    hits = [a for a in stored.values() if a["transaction_id"] in blacklisted]
    assert hits and all(a["blacklist_hits"] for a in hits), hits[:3]

    stopped = _script("stop.sh", state_dir=state_dir)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    for name in ("producer", "consumer", "ksqldb", "postgres", "kafka"):
        assert name in stopped.stdout
    assert not _processes_mentioning(str(state_dir)), "processes outlived ./stop.sh"
    # Data is kept unless --purge: the alerts are still on disk.
    assert (state_dir / "postgres").is_dir()


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["--rate", "abc"], "--rate needs a number, got 'abc'"),
        (["--fraud-share", "5"], "--fraud-share is a share between 0 and 1, got '5'"),
        (["--console-port", "70000"], "--console-port needs a port number (0-65535), got '70000'"),
        (["--partitions", "0"], "--partitions needs a whole number above 0, got '0'"),
    ],
)
def test_a_bad_value_is_refused_before_anything_starts(
    tmp_path: Path, args: list[str], complaint: str
) -> None:
    # The command that takes a value runs last: a typo left a stack half started.
    state_dir = tmp_path / "state"
    refused = subprocess.run(
        [str(ROOT / "start.sh"), "--state-dir", str(state_dir), *args],
        capture_output=True, text=True, timeout=60, env=_env(state_dir), cwd=ROOT,
    )  # fmt: skip
    assert refused.returncode == 2
    assert complaint in refused.stderr
    assert not state_dir.exists()


def test_stop_without_a_state_dir_value_says_so() -> None:
    stopped = subprocess.run(
        [str(ROOT / "stop.sh"), "--state-dir"], capture_output=True, text=True, timeout=60
    )
    assert stopped.returncode == 2 and "--state-dir needs a value" in stopped.stderr


def _script_cli_info(state_dir: Path) -> str:
    info = subprocess.run(
        [
            sys.executable, "-m", "streamguard.cli", "--state-dir", str(state_dir), "migrate",
            "-c", str(state_dir / "ksql-migrations.properties"), "info",
        ],
        capture_output=True, text=True, timeout=120, env=_env(state_dir), cwd=ROOT,
    )  # fmt: skip
    return info.stdout
