"""When a lightly loaded query writes its state changes: once per commit, not once per batch.

Each changelog write is a produce request of its own (librdkafka sends one per partition), and a
lightly loaded stack asked its broker for one per store per transaction. Held until the commit,
a key that changed in several batches is written once, beside the commit's position marker.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from ksql_emulator.kafka.changelog import MARKER_KEY
from ksql_emulator.kafka.gateway import ConfluentGateway
from ksql_emulator.runtime.state.changelog_format import decode
from tests.ksql_emulator.server.test_query_lifecycle import wait_until
from tests.ksql_emulator.server.test_real_engine import emulator_process, ksql, sink_records

pytestmark = pytest.mark.slow


def _changelog(gateway: ConfluentGateway, service_id: str) -> str:
    (name,) = [
        t.name
        for t in gateway.list_topics()
        if t.name.startswith(f"_confluent-ksql-{service_id}") and t.name.endswith("-changelog")
    ]
    return name


def test_a_key_changed_in_several_batches_of_one_commit_is_logged_once(
    kafka_bootstrap: str, new_topic: Callable[..., str], tmp_path: Path
) -> None:
    source = new_topic("payments")
    service_id = f"t_{uuid.uuid4().hex[:8]}_"
    defines = {
        "ksql.streams.processing.guarantee": "at_least_once",
        # Long enough that the three records below land in one commit interval.
        "ksql.streams.commit.interval.ms": "3000",
    }
    sink = f"n_{service_id}"
    entries: list[tuple[bytes | None, bytes | None]] = []

    def covered(gateway: ConfluentGateway, topic: str) -> bool:
        """The commit that covers the three records: a marker after a state entry."""
        entries[:] = [(m.key, m.value) for m in gateway.read_topic(topic)]
        keys = [key for key, _ in entries]
        return any(k != MARKER_KEY for k in keys) and keys[-1] == MARKER_KEY

    with (
        closing(ConfluentGateway(kafka_bootstrap)) as gateway,
        emulator_process(kafka_bootstrap, service_id, tmp_path, defines) as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        created = ksql(
            client,
            f"CREATE STREAM P (K STRING KEY, V INT) WITH (kafka_topic='{source}', "
            f"value_format='JSON'); CREATE TABLE N WITH (kafka_topic='{sink}') AS "
            "SELECT K, COUNT(*) AS C FROM P GROUP BY K;",
        )
        assert created.status_code == 200, created.text
        for _ in range(3):
            # Apart, so that each is a batch of its own.
            assert ksql(client, "INSERT INTO P (K, V) VALUES ('a', 1);").status_code == 200
            time.sleep(0.3)
        # Each change still reaches the table's topic as it happens.
        updates = sink_records(kafka_bootstrap, sink, 3)
        assert [value["C"] for _, value in updates] == [1, 2, 3]

        topic = _changelog(gateway, service_id)
        wait_until(lambda: covered(gateway, topic), "a commit covering the records", 20)
    changes = [value for key, value in entries if key != MARKER_KEY]
    assert len(changes) == 1, changes
    assert changes[0] is not None
    accumulators, _timestamp = decode(changes[0])
    assert accumulators == [3]  # the count after all three
