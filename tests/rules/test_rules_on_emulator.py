"""The rules of ksql/, applied by `streamguard migrate` to the emulator over real Kafka (or to the
real ksqlDB that `KSQLDB_URL` names, `KAFKA_BOOTSTRAP_SERVERS` its broker), alert on each fraud
scenario and on nothing benign."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections import defaultdict
from pathlib import Path

import pytest
from confluent_kafka import Consumer

from streamguard.migrations.local_config import write_local_config
from streamguard.models import Alert
from streamguard.producer import Scenario
from tests.conftest import ROOT, run_cli


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, env=env)


def _alerts(bootstrap: str, expected_rules: dict[str, str], timeout_s: float = 90) -> list[Alert]:
    """Alerts on fraud_alerts, read until every expected (account, rule) pair has arrived."""
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
            seen = {(a.account_id, a.rule_id) for a in alerts}
            if set(expected_rules.items()) <= seen:
                time.sleep(3)  # let stragglers of benign accounts show, if any would
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
def test_rules_alert_on_every_scenario_and_on_nothing_benign(
    kafka_bootstrap: str, ksqldb_url: str, tmp_path: Path
) -> None:
    env = {"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "KSQLDB_URL": ksqldb_url}
    config = str(write_local_config(tmp_path / "ksql-migrations.properties", ksqldb_url, ROOT))
    assert _cli("migrate", "-c", config, "initialize-metadata", env=env).returncode == 0
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

    scenario_of: dict[str, set[Scenario]] = defaultdict(set)
    for line in truth.read_text().splitlines():
        row = json.loads(line)
        scenario_of[row["account_id"]].add(Scenario(row["scenario"]))
    expected = {
        account: next(iter(scenarios)).rule_id or ""
        for account, scenarios in scenario_of.items()
        if scenarios != {Scenario.NORMAL} and len(scenarios) == 1
    }
    assert set(Scenario.fraud()) <= set().union(*scenario_of.values())

    alerts = _alerts(kafka_bootstrap, expected)
    seen = {(a.account_id, a.rule_id) for a in alerts}
    missing = sorted(set(expected.items()) - seen)
    assert not missing, f"{len(missing)} fraud groups raised no alert of their rule: {missing[:5]}"
    benign = {account for account, s in scenario_of.items() if s == {Scenario.NORMAL}}
    false_alarms = sorted({(a.account_id, a.rule_id) for a in alerts if a.account_id in benign})
    assert not false_alarms, f"benign accounts alerted: {false_alarms[:5]}"
