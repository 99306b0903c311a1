"""An exactly-once commit may end in the background while the stream thread reads on; what is
written meanwhile waits for it and goes into the next transaction."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import pytest
from confluent_kafka import Consumer

from ksql_emulator.kafka.output import ExactlyOnceOutput

pytestmark = pytest.mark.slow


def test_a_write_after_a_commit_in_the_background_joins_the_next_transaction(
    kafka_bootstrap: str, new_topic: Callable[..., str]
) -> None:
    topic = new_topic("background-commit")
    output = ExactlyOnceOutput(kafka_bootstrap, {}, f"bg-{uuid.uuid4().hex[:8]}")
    try:
        output.send(topic, b"k", b"1")
        assert output.commit_soon()
        output.send(topic, b"k", b"2")  # waits for the first commit, opens a second
        output.commit()
    finally:
        output.close()
    reader = Consumer(
        {
            "bootstrap.servers": kafka_bootstrap,
            "group.id": f"reader-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
        }
    )
    try:
        reader.subscribe([topic])
        values: list[bytes] = []
        deadline = time.monotonic() + 30
        while len(values) < 2 and time.monotonic() < deadline:
            msg = reader.poll(0.2)
            if msg is not None and msg.error() is None:
                values.append(msg.value())
        # Both committed, in order; nothing left behind in an aborted transaction.
        assert values == [b"1", b"2"]
        assert reader.poll(1.0) is None
    finally:
        reader.close()
