"""Messages that validate but that PostgreSQL refuses: dead-lettered, the rest of the batch kept."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import sqlalchemy as sa

from streamguard.consumer.dlq import ERROR_HEADER
from streamguard.consumer.loop import AlertConsumer
from tests.consumer.conftest import Topics, produce, read_all, txn_alert, window_alert


def test_rows_postgres_refuses_are_dead_lettered_and_the_batch_is_written(
    kafka_bootstrap: str, database_url: str, migrated: sa.Engine, topics: Topics
) -> None:
    # One account, so one partition: the refused rows and a window alert's two updates arrive
    # in one batch, in this order.
    account = "ACC00007"
    refused = [
        # An INTEGER column's range.
        txn_alert(10_001, ACCOUNT_ID=account, TXN_COUNT=3_000_000_000),
        # PostgreSQL's text and JSONB hold no NUL character.
        txn_alert(10_002, ACCOUNT_ID=account, MERCHANT_ID="MER\u0000X"),
        # NaN is no JSON to PostgreSQL, though Python's parser reads it.
        txn_alert(10_003, ACCOUNT_ID=account, SCORE=float("nan")),
    ]
    values: list[bytes | dict[str, object] | None] = [txn_alert(i) for i in range(100)]
    values[10:10] = [
        refused[0],
        window_alert(account, 3),
        refused[1],
        window_alert(account, 4),
        refused[2],
    ]
    produce(kafka_bootstrap, topics.alerts, values)

    stats = AlertConsumer(
        bootstrap_servers=kafka_bootstrap,
        database_url=database_url,
        topic=topics.alerts,
        dlq_topic=topics.dlq,
        group_id=f"g-{uuid.uuid4().hex}",
    ).run(idle_exit_s=3)

    assert (stats.written, stats.dead_lettered) == (102, 3)
    with migrated.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM alerts")).scalar() == 101
        counts = conn.execute(sa.text("SELECT txn_count FROM alerts WHERE kind = 'window'"))
        assert counts.scalars().all() == [4]
    dead = read_all(kafka_bootstrap, topics.dlq)
    assert sorted(m.value() for m in dead) == sorted(json.dumps(r).encode() for r in refused)
    reasons = sorted(dict(m.headers())[ERROR_HEADER].decode() for m in dead)
    assert all(r.startswith("rejected by PostgreSQL: ") for r in reasons), reasons
    assert any("out of range" in r for r in reasons), reasons


def test_an_unmigrated_database_is_a_clear_error(
    kafka_bootstrap: str, database_url: str, topics: Topics
) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "streamguard.consumer",
            "--bootstrap-servers",
            kafka_bootstrap,
            "--database-url",
            database_url,
            "--topic",
            topics.alerts,
            "--idle-exit",
            "3",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "streamguard db upgrade" in result.stderr
