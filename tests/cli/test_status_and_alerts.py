"""`streamguard status` and `streamguard alerts`: a user sees the pipeline work without Kafka-UI."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable

import sqlalchemy as sa

from streamguard.consumer.loop import AlertConsumer
from tests.conftest import run_cli
from tests.consumer.conftest import produce, txn_alert, window_alert


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, env=env, timeout=120)


def test_status_and_alerts_show_parts_lag_and_rules(
    kafka_bootstrap: str, database_url: str, db_engine: sa.Engine, new_topic: Callable[..., str]
) -> None:
    topic, group = new_topic("fraud_alerts"), f"g-{uuid.uuid4().hex[:6]}"
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "DATABASE_URL": database_url,
        "STREAMGUARD_ALERTS_TOPIC": topic,
        "STREAMGUARD_CONSUMER_GROUP": group,
        "KSQLDB_URL": "http://127.0.0.1:1",
    }
    assert _cli("db", "upgrade", env=env).returncode == 0
    produce(kafka_bootstrap, topic, [txn_alert(1), txn_alert(2), window_alert("ACC9", 7)])
    AlertConsumer(
        bootstrap_servers=kafka_bootstrap,
        database_url=database_url,
        topic=topic,
        dlq_topic=new_topic("dlq"),
        group_id=group,
    ).run(idle_exit_s=3)
    produce(kafka_bootstrap, topic, [txn_alert(3)])  # not consumed yet: a lag of one

    status = _cli("status", env=env)
    # ksqlDB is not running here: status says so and exits 1, but still reports the rest.
    assert status.returncode == 1
    assert "ksqldb" in status.stdout and "down" in status.stdout
    assert "postgres" in status.stdout and "healthy" in status.stdout
    assert "high_amount" in status.stdout and "velocity" in status.stdout
    assert "consumer lag: 1 alert(s) not yet in PostgreSQL" in status.stdout
    # What is down says why, in words, and what to do: it said "ConnectError".
    assert "no answer: [Errno 111] Connection refused" in " ".join(status.stdout.split())
    assert "Start what is down with ./start.sh" in status.stderr

    shown = _cli("alerts", "--limit", "10", env=env)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.count("high_amount") == 2
    assert "ACC9" in shown.stdout and "7" in shown.stdout
