"""A threshold changed while transactions flow: through real Kafka, the emulator, the consumer
and PostgreSQL, every transaction is judged once, by the old threshold before the cut-over and
the new one after, and PostgreSQL ends with exactly the alerts the ground truth implies."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from streamguard import db
from streamguard.migrations.local_config import write_local_config
from streamguard.rules.change import read_change
from tests.conftest import ROOT
from tests.ksql_emulator.server.test_real_engine import emulator_process

pytestmark = pytest.mark.slow

RATE = 250
OLD_AMOUNT, NEW_AMOUNT = Decimal("5000.00"), Decimal("7000.00")
# The producer's velocity bursts are 6 transactions: 7 stops them alerting after the cut-over.
OLD_COUNT, NEW_COUNT = 5, 7
WINDOW_MS = 60_000


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "streamguard.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "300", **env},
    )
    assert done.returncode == 0, f"streamguard {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done


def project(tmp_path: Path, suffix: str) -> Path:
    """The streams and the two rules of ksql/, on topics of this test's own."""
    ksql = tmp_path / "ksql"
    ksql.mkdir()
    for path in sorted((ROOT / "ksql").glob("V00000[1234]__*.sql")):
        text = path.read_text()
        for topic in ("transactions", "fraud_alerts", "streamguard_velocity_windows"):
            text = text.replace(f"KAFKA_TOPIC = '{topic}'", f"KAFKA_TOPIC = '{topic}_{suffix}'")
        (ksql / path.name).write_text(text)
    shutil.copy(ROOT / "ksql-defines.properties", tmp_path)
    return ksql


@contextmanager
def running(argv: list[str], log: Path, env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, env={**os.environ, **env}
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


def expected_alerts(truth: Path, cutover_ms: int) -> tuple[set[str], dict[tuple[str, int], int]]:
    """From the ground truth: the transactions high_amount must alert on, and the windows
    velocity must alert on with their final counts, each by the threshold of its side."""
    high: set[str] = set()
    windows: Counter[tuple[str, int]] = Counter()
    for line in truth.read_text().splitlines():
        txn = json.loads(line)
        event_time = int(txn["event_time"])
        limit = OLD_AMOUNT if event_time < cutover_ms else NEW_AMOUNT
        if Decimal(str(txn["amount"])) > limit:
            high.add(txn["transaction_id"])
        windows[(txn["account_id"], event_time // WINDOW_MS * WINDOW_MS)] += 1
    velocity = {
        key: count
        for key, count in windows.items()
        if count >= (OLD_COUNT if key[1] < cutover_ms else NEW_COUNT)
    }
    return high, velocity


def stored_alerts(engine: sa.Engine) -> tuple[list[str], dict[tuple[str, int], int]]:
    with engine.connect() as conn:
        high = [
            row[0]
            for row in conn.execute(
                sa.text("SELECT transaction_id FROM alerts WHERE rule_id = 'high_amount'")
            )
        ]
        rows = conn.execute(
            sa.text(
                "SELECT account_id, window_start, txn_count FROM alerts WHERE rule_id = 'velocity'"
            )
        ).all()
    velocity = {(a, int(start.timestamp() * 1000)): n for a, start, n in rows}
    assert len(velocity) == len(rows)
    return high, velocity


@pytest.mark.parametrize("processes", [1, 2], ids=["one-process", "two-query-processes"])
def test_changing_high_amount_and_velocity_under_traffic_misses_and_doubles_nothing(
    kafka_bootstrap: str, database_url: str, db_engine: sa.Engine, tmp_path: Path, processes: int
) -> None:
    suffix = uuid.uuid4().hex[:8]
    ksql = project(tmp_path, suffix)
    db.upgrade(database_url)
    with emulator_process(
        kafka_bootstrap,
        f"chg_{suffix}_",
        tmp_path / "emulator",
        {"ksql.emulator.query.processes": str(processes)},
    ) as url:
        config = str(write_local_config(tmp_path / "ksql-migrations.properties", url, tmp_path))
        env = {"KSQLDB_URL": url, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap}
        migrate = ("migrate", "-c", config)
        cli(*migrate, "initialize-metadata", env=env)
        cli(*migrate, "apply", "--all", "--skip-rule-tests", env=env)

        # The changes are written first, so the producer can run on until past their cut-over.
        cli("rules", "change", "high_amount", "--define", f"high_amount_threshold={NEW_AMOUNT}",
            "--lead", "40", "--ksql", str(ksql), env=env)  # fmt: skip
        high_change = max(ksql.glob("V*__change_high_amount_*.sql"))
        cutover_ms = read_change(high_change.read_text()).cutover_ms  # type: ignore[union-attr]
        at = datetime.fromtimestamp(cutover_ms / 1000, UTC).isoformat()
        cli("rules", "change", "velocity", "--define", f"velocity_min_count={NEW_COUNT}",
            "--at", at, "--ksql", str(ksql), env=env)  # fmt: skip
        duration = (cutover_ms - time.time() * 1000) / 1000 + 30

        truth = tmp_path / "truth.jsonl"
        consumer = [
            sys.executable, "-m", "streamguard.consumer", "--bootstrap-servers", kafka_bootstrap,
            "--database-url", database_url, "--topic", f"fraud_alerts_{suffix}",
            "--dlq-topic", f"fraud_alerts_dlq_{suffix}", "--group", f"alerts_{suffix}",
        ]  # fmt: skip
        producer = [
            sys.executable, "-m", "streamguard.cli", "produce", "--rate", str(RATE),
            "--duration", f"{duration:.0f}", "--seed", "11", "--fraud-share", "0.1",
            "--ground-truth", str(truth), "--topic", f"transactions_{suffix}",
            "--bootstrap-servers", kafka_bootstrap,
        ]  # fmt: skip
        with (
            running(consumer, tmp_path / "consumer.log", env),
            running(producer, tmp_path / "producer.log", env) as produce,
        ):
            time.sleep(5)  # traffic flows through the old rules first
            applied = cli(*migrate, "apply", "--all", "--skip-rule-tests", env=env)
            assert time.time() * 1000 < cutover_ms, "the changes were applied after the cut-over"
            assert "Migrated version 6." in applied.stdout
            assert produce.wait(timeout=duration + 120) == 0, (
                tmp_path / "producer.log"
            ).read_text()

            high, velocity = expected_alerts(truth, cutover_ms)
            assert high and velocity
            # Both changes matter on either side of the cut-over: a transaction and a window
            # the old threshold alerts on and the new one does not, before and after it.
            txns = [json.loads(line) for line in truth.read_text().splitlines()]
            between = [t for t in txns if OLD_AMOUNT < Decimal(str(t["amount"])) <= NEW_AMOUNT]
            assert {t["event_time"] < cutover_ms for t in between} == {True, False}
            counts = Counter((t["account_id"], t["event_time"] // WINDOW_MS) for t in txns)
            sides = {start * WINDOW_MS < cutover_ms for (_a, start), n in counts.items()
                     if OLD_COUNT <= n < NEW_COUNT}  # fmt: skip
            assert sides == {True, False}
            deadline = time.monotonic() + 180
            while True:
                stored_high, stored_velocity = stored_alerts(db_engine)
                if (set(stored_high), stored_velocity) == (high, velocity):
                    break
                if time.monotonic() > deadline:
                    break
                time.sleep(2)

        info = cli(*migrate, "info", env=env).stdout

    lost, extra_high = sorted(high - set(stored_high)), sorted(set(stored_high) - high)
    assert sorted(stored_high) == sorted(high), f"missing {lost[:5]}, extra {extra_high[:5]}"
    missing = sorted(set(velocity) - set(stored_velocity))
    extra = sorted(set(stored_velocity) - set(velocity))
    assert not missing and not extra, f"velocity windows missing {missing[:5]}, extra {extra[:5]}"
    assert stored_velocity == velocity  # and each with its window's final count
    # The cut-over is on record: in the migration's name, in the metadata table.
    stamp = datetime.fromtimestamp(cutover_ms / 1000, UTC).strftime("%Y%m%dT%H%M%SZ")
    assert f"change high amount at {stamp}" in info and f"change velocity at {stamp}" in info
