"""A batch's records written at once (`send_messages`, the stream thread's way) land as written
one by one: in order, with their timestamps and headers, a windowed table's rows in the
partition of their key without its window, under either guarantee."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from ksql_emulator.contracts.message import Message, make_message
from ksql_emulator.contracts.partitioner import partition_for
from ksql_emulator.kafka.output import AtLeastOnceOutput, ExactlyOnceOutput
from tests.ksql_emulator.durability.committed import read_committed

pytestmark = pytest.mark.slow

# A windowed key as a window table writes it: the base key, then 8 bytes of window start.
_WINDOW = (1_767_225_600_000).to_bytes(8, "big")


def _batch(stream: str, table: str) -> list[Message]:
    out = []
    for i in range(40):
        account = f"ACC{i % 7:03d}".encode()
        out.append(make_message(table, account + _WINDOW, b'{"N":%d}' % i, 1000 + i, 0, 0, ()))
        if i % 5 == 0:
            headers = (("origin", f"h{i}".encode()),)
            out.append(make_message(stream, account, b'{"A":%d}' % i, 2000 + i, 0, 0, headers))
    return out


@pytest.mark.parametrize("guarantee", ["at_least_once", "exactly_once_v2"])
def test_a_batch_lands_as_its_records_written_one_by_one(
    kafka_bootstrap: str, new_topic: Callable[..., str], guarantee: str
) -> None:
    stream, table = new_topic("alerts", 3), new_topic("windows", 3)
    windowed = {table: len(_WINDOW)}
    output: AtLeastOnceOutput | ExactlyOnceOutput
    if guarantee == "at_least_once":
        output = AtLeastOnceOutput(kafka_bootstrap, {}, windowed, table_linger_ms=50)
    else:
        output = ExactlyOnceOutput(kafka_bootstrap, {}, f"batch-{uuid.uuid4().hex[:8]}", windowed)
    output.route_tables(frozenset({table}))
    batch = _batch(stream, table)
    try:
        output.send_messages(batch)
        output.commit()
    finally:
        output.close()
    for topic in (stream, table):
        sent = [m for m in batch if m.topic == topic]
        got = read_committed(kafka_bootstrap, topic, len(sent))
        assert len(got) == len(sent)
        by_partition: dict[int, list[bytes]] = {}
        for msg in got:
            by_partition.setdefault(msg.partition(), []).append(msg.value())
        for partition, values in by_partition.items():
            # Each partition holds its records in the order sent; a window's row is where its
            # account's rows are, whatever the window.
            assert values == [m.value for m in sent if _partition_of(m, windowed) == partition]
        expected = {m.value: (m.timestamp, m.headers) for m in sent}
        for msg in got:
            timestamp, headers = expected[msg.value()]
            assert msg.timestamp()[1] == timestamp
            assert tuple(msg.headers() or ()) == headers


def _partition_of(m: Message, windowed: dict[str, int]) -> int:
    assert m.key is not None
    suffix = windowed.get(m.topic)
    return partition_for(m.key[:-suffix] if suffix else m.key, 3)
