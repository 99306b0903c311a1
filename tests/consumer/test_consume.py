"""The consumer through real Kafka and PostgreSQL: enriched, upserted, dead-lettered, never lost."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from streamguard import blacklist as bl
from streamguard.consumer.dlq import ERROR_HEADER, OFFSET_HEADER, PARTITION_HEADER, TOPIC_HEADER
from streamguard.consumer.loop import AlertConsumer
from streamguard.models import Alert
from tests.consumer.conftest import Topics, produce, read_all, txn_alert, window_alert


def _consumer(bootstrap: str, url: str, topics: Topics, group: str | None = None) -> AlertConsumer:
    return AlertConsumer(
        bootstrap_servers=bootstrap,
        database_url=url,
        topic=topics.alerts,
        dlq_topic=topics.dlq,
        group_id=group or f"g-{uuid.uuid4().hex}",
        blacklist_reload_s=0.5,
    )


@contextmanager
def _running(consumer: AlertConsumer) -> Iterator[AlertConsumer]:
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    try:
        yield consumer
    finally:
        consumer.stop()
        thread.join(30)


def _wait_rows(engine: sa.Engine, query: str, expected: object, timeout_s: float = 30) -> object:
    deadline = time.monotonic() + timeout_s
    while True:
        with engine.connect() as conn:
            value = conn.execute(sa.text(query)).scalar()
        if value == expected or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def _wait_rows_at_least(engine: sa.Engine, target: int, timeout_s: float = 120) -> int:
    deadline = time.monotonic() + timeout_s
    while True:
        with engine.connect() as conn:
            rows = int(conn.execute(sa.text("SELECT count(*) FROM alerts")).scalar_one())
        if rows >= target or time.monotonic() > deadline:
            return rows
        time.sleep(0.02)


def test_window_alert_updated_three_times_is_one_row_with_the_last_count(
    kafka_bootstrap: str, database_url: str, migrated: sa.Engine, topics: Topics
) -> None:
    produce(kafka_bootstrap, topics.alerts, [window_alert("ACC1", n) for n in (5, 6, 7)])
    stats = _consumer(kafka_bootstrap, database_url, topics).run(idle_exit_s=3)
    # Counted in messages: three updates consumed and written, for what is one row.
    assert (stats.consumed, stats.written, stats.dead_lettered) == (3, 3, 0)
    produce(kafka_bootstrap, topics.alerts, [window_alert("ACC1", 9)])
    _consumer(kafka_bootstrap, database_url, topics).run(idle_exit_s=3)
    with migrated.connect() as conn:
        rows = conn.execute(sa.text("SELECT alert_id, txn_count, kind FROM alerts")).all()
    assert [tuple(r) for r in rows] == [("velocity:ACC1:1763900040000", 9, "window")]


def test_a_replayed_message_changes_nothing(
    kafka_bootstrap: str, database_url: str, migrated: sa.Engine, topics: Topics
) -> None:
    produce(kafka_bootstrap, topics.alerts, [txn_alert(1)])
    _consumer(kafka_bootstrap, database_url, topics, group="same").run(idle_exit_s=3)
    with migrated.connect() as conn:
        before = conn.execute(sa.text("SELECT updates, last_seen_at FROM alerts")).one()
    # A new group reads the same message again, as a crash before the commit would.
    _consumer(kafka_bootstrap, database_url, topics, group="other").run(idle_exit_s=3)
    with migrated.connect() as conn:
        after = conn.execute(sa.text("SELECT updates, last_seen_at FROM alerts")).one()
    assert tuple(after) == tuple(before) and before[0] == 0


def test_blacklisted_merchant_is_a_hit_seen_without_restart(
    kafka_bootstrap: str, database_url: str, migrated: sa.Engine, topics: Topics
) -> None:
    with _running(_consumer(kafka_bootstrap, database_url, topics)):
        produce(kafka_bootstrap, topics.alerts, [txn_alert(1, MERCHANT_ID="MER-BAD")])
        assert _wait_rows(migrated, "SELECT count(*) FROM alerts", 1) == 1
        bl.add(migrated, [bl.Entry(bl.Kind.MERCHANT, "MER-BAD", "card skimming ring", "ana")])
        time.sleep(1.5)
        produce(kafka_bootstrap, topics.alerts, [txn_alert(2, MERCHANT_ID="MER-BAD")])
        assert _wait_rows(migrated, "SELECT count(*) FROM alerts", 2) == 2
    with migrated.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT severity, rule_severity, blacklist_hits, risk_score FROM alerts "
                "ORDER BY source_offset, alert_id"
            )
        ).all()
    by_hits = {len(r.blacklist_hits): r for r in rows}
    clean, hit = by_hits[0], by_hits[1]
    assert (clean.severity, clean.rule_severity) == ("HIGH", "HIGH")
    assert (hit.severity, hit.rule_severity) == ("CRITICAL", "HIGH")
    assert hit.blacklist_hits == [
        {"kind": "merchant", "value": "MER-BAD", "reason": "card skimming ring"}
    ]
    assert hit.risk_score == clean.risk_score + 15


_COORDINATOR_MOVING = {
    KafkaError.NOT_COORDINATOR,
    KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
    KafkaError.COORDINATOR_NOT_AVAILABLE,
}


def _committed(bootstrap: str, group: str, topic: str, partitions: int) -> int:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    deadline = time.monotonic() + 30
    try:
        while True:
            try:
                offsets = consumer.committed(
                    [TopicPartition(topic, p) for p in range(partitions)], 10
                )
                break
            except KafkaException as exc:
                # A group's coordinator can move or still be loading (a fresh broker): ask again.
                error = exc.args[0]
                transient = error.retriable() or error.code() in _COORDINATOR_MOVING
                if not transient or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    finally:
        consumer.close()
    return sum(max(tp.offset, 0) for tp in offsets)


def _cli(bootstrap: str, url: str, topics: Topics, group: str, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "streamguard.consumer",
        "--bootstrap-servers",
        bootstrap,
        "--database-url",
        url,
        "--topic",
        topics.alerts,
        "--dlq-topic",
        topics.dlq,
        "--group",
        group,
        *extra,
    ]


def test_postgres_unreachable_moves_no_offset_and_recovers(
    kafka_bootstrap: str, database_url: str, migrated: sa.Engine, topics: Topics
) -> None:
    produce(kafka_bootstrap, topics.alerts, [txn_alert(i) for i in range(50)])
    dead = "postgresql+psycopg2://postgres@127.0.0.1:1/none"
    proc = subprocess.Popen(
        _cli(kafka_bootstrap, dead, topics, "outage"), stderr=subprocess.PIPE, text=True
    )
    # Stopped once it has met the outage with a batch in hand (a consumer that never got there
    # is killed after two minutes, and the assertions below say so).
    watchdog = threading.Timer(120, proc.kill)
    watchdog.start()
    seen: list[str] = []
    assert proc.stderr is not None
    for line in proc.stderr:
        seen.append(line)
        if "PostgreSQL unreachable" in line:
            break
    watchdog.cancel()
    proc.send_signal(signal.SIGTERM)
    _, rest = proc.communicate(timeout=60)
    stderr = "".join(seen) + rest
    assert "PostgreSQL unreachable" in stderr and "no offset moves" in stderr
    assert proc.returncode == 1
    assert _committed(kafka_bootstrap, "outage", topics.alerts, 3) == 0
    subprocess.run(
        _cli(kafka_bootstrap, database_url, topics, "outage", "--idle-exit", "3"),
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert _wait_rows(migrated, "SELECT count(*) FROM alerts", 50) == 50


def test_idle_exit_gives_up_on_a_database_that_never_answers(
    kafka_bootstrap: str, topics: Topics
) -> None:
    """--idle-exit bounds a run that reads nothing: it waited for PostgreSQL forever."""
    produce(kafka_bootstrap, topics.alerts, [txn_alert(i) for i in range(5)])
    dead = "postgresql+psycopg2://postgres@127.0.0.1:1/none"
    started = time.monotonic()
    done = subprocess.run(
        _cli(kafka_bootstrap, dead, topics, "gone", "--idle-exit", "2"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert time.monotonic() - started < 30
    assert done.returncode == 1
    said = " ".join(done.stderr.split())
    assert "error: PostgreSQL did not answer" in said and "nothing was read" in said
    assert "neither written nor committed" not in said
    assert _committed(kafka_bootstrap, "gone", topics.alerts, 3) == 0


def test_sigterm_finishes_the_batch_and_exits_zero(
    kafka_bootstrap: str, database_url: str, migrated: sa.Engine, topics: Topics
) -> None:
    produce(kafka_bootstrap, topics.alerts, [txn_alert(i) for i in range(300)])
    proc = subprocess.Popen(
        _cli(kafka_bootstrap, database_url, topics, "term"), stderr=subprocess.PIPE, text=True
    )
    assert _wait_rows(migrated, "SELECT count(*) FROM alerts", 300) == 300
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 0
    assert _committed(kafka_bootstrap, "term", topics.alerts, 3) == 300


@pytest.mark.slow
def test_killed_five_times_every_alert_once_and_every_bad_message_dead_lettered(
    kafka_bootstrap: str, database_url: str, migrated: sa.Engine, topics: Topics
) -> None:
    rng = random.Random(20)
    alerts = [txn_alert(i) for i in range(20_000)]
    bad: list[bytes | None] = []
    for i in range(1000):
        kind = i % 4
        if kind == 0:
            bad.append(b"{not json")
        elif kind == 1:
            bad.append(json.dumps({**txn_alert(i), "SEVERITY": "APOCALYPTIC"}).encode())
        elif kind == 2:
            bad.append(json.dumps({"RULE_ID": "x", "SEVERITY": "LOW", "ACCOUNT_ID": "A"}).encode())
        else:
            bad.append(None)
    mixed: list[bytes | dict[str, object] | None] = [*alerts, *bad]
    rng.shuffle(mixed)
    produce(kafka_bootstrap, topics.alerts, mixed)

    # One instance id across the restarts: each new process takes the partitions back at once
    # instead of waiting for the killed one's session to time out.
    command = _cli(
        kafka_bootstrap,
        database_url,
        topics,
        "killed",
        "--batch-size",
        "200",
        "--instance-id",
        "consumer-1",
    )
    # Kill points are set by progress, not by the clock: a consumer fast enough to finish in
    # its first seconds would otherwise be killed only after the work is done.
    for n in range(5):
        target = rng.randint(n * 3_600 + 500, (n + 1) * 3_600)
        proc = subprocess.Popen(command, stderr=subprocess.DEVNULL)
        seen = _wait_rows_at_least(migrated, target)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        assert seen < 20_000, "the kill came after the work was done"
    subprocess.run([*command, "--idle-exit", "8"], check=True, capture_output=True, timeout=600)

    expected = {Alert.model_validate(a).alert_id: a for a in alerts}
    with migrated.connect() as conn:
        rows = conn.execute(sa.text("SELECT alert_id, payload, amount FROM alerts")).all()
    assert len(rows) == 20_000
    assert {r.alert_id: r.payload for r in rows} == expected

    dead = read_all(kafka_bootstrap, topics.dlq)
    reasons = [dict(m.headers())[ERROR_HEADER].decode() for m in dead]
    # Replays after a kill may dead-letter a message twice; none is ever missing.
    unique = {
        tuple(dict(m.headers())[h] for h in (TOPIC_HEADER, PARTITION_HEADER, OFFSET_HEADER))
        for m in dead
    }
    assert len(unique) == 1000
    assert sorted({m.value() for m in dead}, key=repr) == sorted(set(bad), key=repr)
    assert all(r.startswith(("invalid alert", "empty message")) for r in reasons)
    assert any("SEVERITY" in r for r in reasons)
    assert any("TRANSACTION_ID" in r for r in reasons)


def test_a_second_consumer_with_the_same_instance_id_fences_the_first(
    kafka_bootstrap: str, database_url: str, migrated: sa.Engine, topics: Topics
) -> None:
    produce(kafka_bootstrap, topics.alerts, [txn_alert(i) for i in range(100)])
    command = _cli(kafka_bootstrap, database_url, topics, "static", "--instance-id", "twin")
    first = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    assert _wait_rows(migrated, "SELECT count(*) FROM alerts", 100) == 100
    second = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    try:
        _, stderr = first.communicate(timeout=60)
        assert first.returncode == 1
        assert "another consumer joined the group with this consumer's --instance-id" in stderr
        assert "Traceback" not in stderr
        produce(kafka_bootstrap, topics.alerts, [txn_alert(i) for i in range(100, 150)])
        assert _wait_rows(migrated, "SELECT count(*) FROM alerts", 150) == 150
    finally:
        first.kill()  # when it did not stop by itself
        first.wait(30)
        second.send_signal(signal.SIGTERM)
        second.communicate(timeout=60)
    assert second.returncode == 0


def test_a_lone_alert_is_written_without_waiting_for_a_batch_to_fill(
    kafka_bootstrap: str, database_url: str, migrated: sa.Engine, topics: Topics
) -> None:
    # A quiet stream: one alert, a batch of 500 and a minute's poll. The alert must land at
    # once, not when the batch fills or the poll times out.
    consumer = AlertConsumer(
        bootstrap_servers=kafka_bootstrap,
        database_url=database_url,
        topic=topics.alerts,
        dlq_topic=topics.dlq,
        group_id=f"g-{uuid.uuid4().hex}",
        batch_size=500,
        poll_timeout_s=60,
    )
    with _running(consumer):
        produce(kafka_bootstrap, topics.alerts, [txn_alert(1)])
        assert _wait_rows(migrated, "SELECT count(*) FROM alerts", 1, timeout_s=30) == 1


def test_times_are_stored_to_the_millisecond(
    kafka_bootstrap: str, database_url: str, migrated: sa.Engine, topics: Topics
) -> None:
    window = {
        **window_alert("ACC7", 5, window_start=1_763_900_040_000),
        "EVENT_TIME": 1_763_900_059_999,
    }
    produce(kafka_bootstrap, topics.alerts, [window, txn_alert(3, EVENT_TIME=1_763_900_000_123)])
    _consumer(kafka_bootstrap, database_url, topics).run(idle_exit_s=3)
    with migrated.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT kind, (extract(epoch FROM window_start) * 1000)::bigint,"
                " (extract(epoch FROM window_end) * 1000)::bigint,"
                " (extract(epoch FROM event_time) * 1000)::bigint FROM alerts ORDER BY kind"
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        ("transaction", None, None, 1_763_900_000_123),
        ("window", 1_763_900_040_000, 1_763_900_100_000, 1_763_900_059_999),
    ]


def test_text_with_tabs_newlines_and_backslashes_is_stored_as_sent(
    kafka_bootstrap: str, database_url: str, migrated: sa.Engine, topics: Topics
) -> None:
    awkward = "MER\t1\\2\n3\r"
    # Whitespace between JSON tokens is the message's own too: the payload keeps it.
    spaced = json.dumps(txn_alert(2), indent="\t").encode()
    produce(kafka_bootstrap, topics.alerts, [txn_alert(1, MERCHANT_ID=awkward), spaced])
    _consumer(kafka_bootstrap, database_url, topics).run(idle_exit_s=3)
    with migrated.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT merchant_id, payload::text, card_id FROM alerts ORDER BY card_id")
        ).all()
    assert rows[0].merchant_id == awkward
    assert json.loads(rows[0].payload)["MERCHANT_ID"] == awkward
    assert json.loads(rows[1].payload) == txn_alert(2)
    assert [r.card_id for r in rows] == ["CRD000001", "CRD000002"]
