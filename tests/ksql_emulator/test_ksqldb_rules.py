"""ksqlDB's general rules the emulator follows: what a statement is refused with, and results."""

from __future__ import annotations

import pytest

from ksql_emulator.contracts.backend import PushQuery
from ksql_emulator.engine import Engine
from ksql_emulator.errors import KsqlError
from ksql_emulator.service import KsqlService

from .test_service import FakeGateway


def refusal(statements: str) -> str:
    """The message ksqlDB's rules give for the last of `statements`."""
    with pytest.raises(KsqlError) as caught:
        Engine().execute(statements)
    return str(caught.value)


WINDOWED_PAIR = (
    "CREATE STREAM S1 (K INT KEY, ID BIGINT) WITH (kafka_topic='l', value_format='JSON', "
    "WINDOW_TYPE='Tumbling', WINDOW_SIZE='2 SECONDS');"
    "CREATE STREAM S2 (K INT KEY, ID BIGINT) WITH (kafka_topic='r', value_format='JSON', "
    "WINDOW_TYPE='Hopping', WINDOW_SIZE='5 SECONDS');"
)


def test_a_join_of_windowed_streams_keeps_each_sides_window_bounds_and_is_windowed() -> None:
    service = KsqlService(FakeGateway(), {})
    service.execute_statements(
        WINDOWED_PAIR + "CREATE STREAM OUT AS SELECT * FROM S1 JOIN S2 WITHIN 1 MINUTE "
        "ON S1.K = S2.K;",
        {},
        {},
    )
    push = service.query("SELECT * FROM OUT EMIT CHANGES;", {}, {})
    assert isinstance(push, PushQuery)
    assert list(push.header.column_names) == [
        "S1_K",
        "WINDOWSTART",
        "WINDOWEND",
        "S1_WINDOWSTART",
        "S1_WINDOWEND",
        "S1_ID",
        "S2_K",
        "S2_WINDOWSTART",
        "S2_WINDOWEND",
        "S2_ID",
    ]
