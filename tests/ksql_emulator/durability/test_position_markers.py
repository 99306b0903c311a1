"""At-least-once state through real Kafka: a restore takes what the last position marker
confirmed and drops what a commit that never completed wrote after it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal

import pytest

from ksql_emulator.kafka.changelog import QueryState
from ksql_emulator.kafka.gateway import ConfluentGateway
from ksql_emulator.kafka.output import AtLeastOnceOutput
from ksql_emulator.runtime.state.memory import MemoryKeyValueStore

pytestmark = pytest.mark.slow

STORE = "Aggregate-Aggregate-Materialize"


@pytest.fixture
def gateway(kafka_bootstrap: str) -> Iterator[ConfluentGateway]:
    made = ConfluentGateway(kafka_bootstrap)
    yield made
    made.close()


def _state(gateway: ConfluentGateway, kafka_bootstrap: str, query_id: str) -> QueryState:
    state = QueryState(gateway, kafka_bootstrap, {}, "markers_", query_id)
    state.wrap(STORE, MemoryKeyValueStore())
    return state


def _output(kafka_bootstrap: str) -> AtLeastOnceOutput:
    return AtLeastOnceOutput(kafka_bootstrap, {})


def test_a_restore_drops_the_changes_of_a_commit_that_never_completed(
    gateway: ConfluentGateway, kafka_bootstrap: str
) -> None:
    query_id = f"CTAS_{uuid.uuid4().hex[:8].upper()}"
    writer = _state(gateway, kafka_bootstrap, query_id)
    store = writer.stores[STORE]
    output = _output(kafka_bootstrap)
    source = ("txns", 0)

    writer.mark(output, {source: 0})  # set up: the empty state, before offset 0
    store.put(("acct-1", 0), ([2, Decimal("30.00")], 10))
    store.put(("acct-2", 0), ([1, Decimal("5.00")], 11))
    writer.log_changes(output)
    output.commit()
    writer.mark(output, {source: 3})  # the first commit completed: records 0..2
    output.commit()
    # The second commit got its changes to the changelog, then the process died before the
    # marker: the records behind them (3 and 4) are read again after the restart.
    store.put(("acct-1", 0), ([4, Decimal("70.00")], 14))
    store.put(("acct-3", 0), ([1, Decimal("1.00")], 13))
    writer.log_changes(output)
    output.commit()
    output.close()

    reader = _state(gateway, kafka_bootstrap, query_id)
    applied = reader.restore()
    assert applied == 2
    assert dict(reader.stores[STORE].items()) == {
        ("acct-1", 0): ([2, Decimal("30.00")], 10),
        ("acct-2", 0): ([1, Decimal("5.00")], 11),
    }
    assert reader.marked_positions == {source: 3}
    reader.delete()


def test_a_changelog_without_markers_is_restored_whole(
    gateway: ConfluentGateway, kafka_bootstrap: str
) -> None:
    # Exactly-once changelogs carry no markers: a read_committed restore sees committed
    # entries only, so every one of them is applied.
    query_id = f"CTAS_{uuid.uuid4().hex[:8].upper()}"
    writer = _state(gateway, kafka_bootstrap, query_id)
    output = _output(kafka_bootstrap)
    writer.stores[STORE].put(("acct-1", 0), ([1], 10))
    writer.log_changes(output)
    output.commit()
    output.close()

    reader = _state(gateway, kafka_bootstrap, query_id)
    assert reader.restore() == 1
    assert dict(reader.stores[STORE].items()) == {("acct-1", 0): ([1], 10)}
    assert reader.marked_positions is None
    reader.delete()
