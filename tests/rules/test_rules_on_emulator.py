"""The rules of ksql/, applied by `streamguard migrate` to the emulator over real Kafka (or to the
real ksqlDB that `KSQLDB_URL` names, `KAFKA_BOOTSTRAP_SERVERS` its broker), write
exactly the alerts that `rules backtest` predicts for the same traffic: every fraud scenario
caught by its rule, and false alerts only where a hard case of normal traffic looks like fraud."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer

from streamguard.migrations.local_config import write_local_config
from streamguard.models import Alert
from streamguard.producer import Scenario
from tests.conftest import ROOT, project_migrations_turn, run_cli


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, env=env)


def _alerts(bootstrap: str, expected: set[str], timeout_s: float = 90) -> list[Alert]:
    """Alerts on fraud_alerts, read until every expected identity has arrived."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"rules-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe(["fraud_alerts"])
    alerts: list[Alert] = []
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            for message in consumer.consume(1000, timeout=1.0):
                if message.error() is None and message.value():
                    alerts.append(Alert.from_json(message.value()))
            if expected <= {a.alert_id for a in alerts}:
                time.sleep(3)  # let stragglers show, if any would
                alerts.extend(
                    Alert.from_json(m.value())
                    for m in consumer.consume(10_000, timeout=2.0)
                    if m.error() is None and m.value()
                )
                break
    finally:
        consumer.close()
    return alerts


@pytest.mark.slow
def test_rules_on_kafka_write_the_alerts_the_backtest_predicts(
    kafka_bootstrap: str, ksqldb_url: str, tmp_path: Path
) -> None:
    env = {"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "KSQLDB_URL": ksqldb_url}
    config = str(write_local_config(tmp_path / "ksql-migrations.properties", ksqldb_url, ROOT))
    assert _cli("migrate", "-c", config, "initialize-metadata", env=env).returncode == 0
    with project_migrations_turn():
        applied = _cli("migrate", "-c", config, "apply", "--all", env=env)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    info = _cli("migrate", "-c", config, "info", env=env)
    versions = sorted(p.name for p in (ROOT / "ksql").glob("V*.sql"))
    assert info.stdout.count("MIGRATED") == len(versions), info.stdout

    truth = tmp_path / "truth.jsonl"
    produced = _cli(
        "produce", "--count", "4000", "--rate", "0", "--seed", "3", "--fraud-share", "0.3",
        "--start-time", "2026-01-05T00:00:00Z", "--ground-truth", str(truth), env=env,
    )  # fmt: skip
    assert produced.returncode == 0, produced.stderr
    sent = {json.loads(line)["scenario"] for line in truth.read_text().splitlines()}
    assert {s.value for s in Scenario.fraud()} <= sent

    report, predicted_file = tmp_path / "backtest.json", tmp_path / "alerts.jsonl"
    backtest = _cli(
        "rules", "backtest", "--ground-truth", str(truth), "--json", str(report),
        "--alerts", str(predicted_file), env=env,
    )  # fmt: skip
    assert backtest.returncode == 0, backtest.stdout + backtest.stderr
    doc = json.loads(report.read_text())
    # Every fraud scenario is caught by the rule meant for it, every time.
    assert {r["rule_id"]: r["recall"] for r in doc["rules"]} == {
        r["rule_id"]: 1.0 for r in doc["rules"]
    }
    predicted = [json.loads(line) for line in predicted_file.read_text().splitlines()]
    # False alerts happen, and only on the hard cases of normal traffic.
    false = [p for p in predicted if not p["true"]]
    assert false, "the hard cases of normal traffic made no false alert"
    assert all(p["cases"] and "everyday" not in p["cases"] for p in false), false[:3]

    # The alert identities of DESIGN.md, as Alert.alert_id spells them.
    expected = {
        f"{p['rule_id']}:{p['transaction_id']}"
        if p["transaction_id"]
        else f"{p['rule_id']}:{p['account_id']}:{p['window_start']}"
        for p in predicted
    }
    written = {a.alert_id for a in _alerts(kafka_bootstrap, expected)}
    assert written == expected, (
        f"missing: {sorted(expected - written)[:5]}; unexpected: {sorted(written - expected)[:5]}"
    )
