"""An exactly-once commit may end in the background while the stream thread reads on; what is
written meanwhile waits for it and goes into the next transaction."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from ksql_emulator.kafka.output import ExactlyOnceOutput
from tests.ksql_emulator.durability.committed import read_committed

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
    values = [msg.value() for msg in read_committed(kafka_bootstrap, topic, 2)]
    # Both committed, in order; nothing left behind in an aborted transaction.
    assert values == [b"1", b"2"]
