"""The engine behind the REST server: entities, commands, queries, inserts (fake gateway)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import pytest

from ksql_emulator.contracts.backend import PullQueryResult, PushQuery, TopicInfo
from ksql_emulator.contracts.message import Message
from ksql_emulator.errors import KsqlError
from ksql_emulator.service import KsqlService


class FakeGateway:
    """Topics as lists; stands in for Kafka in this unit test only."""

    def __init__(self) -> None:
        self.topics: dict[str, list[Message]] = {}
        self.partitions: dict[str, int] = {}

    def cluster_id(self) -> str:
        return "fake"

    def describe_topic(self, name: str) -> TopicInfo | None:
        if name not in self.topics:
            return None
        return TopicInfo(name, self.partitions[name], 1)

    def list_topics(self) -> Sequence[TopicInfo]:
        return [TopicInfo(n, self.partitions[n], 1) for n in sorted(self.topics)]

    def create_topic(
        self, name: str, partitions: int, replication: int, config: Mapping[str, str]
    ) -> TopicInfo:
        self.topics.setdefault(name, [])
        self.partitions.setdefault(name, partitions)
        return TopicInfo(name, self.partitions[name], replication)

    def delete_topic(self, name: str) -> None:
        self.topics.pop(name, None)

    def produce(self, msg: Message) -> None:
        self.topics.setdefault(msg.topic, []).append(msg)

    def read_topic(self, name: str) -> Iterator[Message]:
        return iter(list(self.topics.get(name, [])))


CREATE = (
    "CREATE STREAM TXNS (ACCOUNT STRING KEY, AMOUNT DOUBLE) "
    "WITH (kafka_topic='txns', value_format='JSON', partitions=2);"
)


def test_statements_give_ksqldb_entities_and_commands() -> None:
    gateway = FakeGateway()
    engine = KsqlService(gateway, {})
    results = engine.execute_statements(
        CREATE + "CREATE STREAM BIG AS SELECT * FROM TXNS WHERE AMOUNT > 100; SHOW STREAMS;", {}, {}
    )
    first, second, show = results
    assert first.entity is not None and first.entity["@type"] == "currentStatus"
    assert first.command is not None and first.command.command_id == "stream/`TXNS`/create"
    assert second.entity is not None
    assert second.entity["commandStatus"]["queryId"] == "CSAS_BIG_0"
    assert gateway.partitions["BIG"] == 2
    assert show.entity is not None and show.command is None
    assert sorted(s["name"] for s in show.entity["streams"]) == ["BIG", "TXNS"]


def test_persistent_query_processes_messages_and_insert_values_writes() -> None:
    gateway = FakeGateway()
    engine = KsqlService(gateway, {})
    engine.execute_statements(
        CREATE + "CREATE STREAM BIG AS SELECT * FROM TXNS WHERE AMOUNT > 100;", {}, {}
    )
    engine.execute_statements("INSERT INTO TXNS (ACCOUNT, AMOUNT) VALUES ('a', 500.0);", {}, {})
    [inserted] = gateway.topics["txns"]
    [task] = engine.persistent_queries().values()
    assert list(task.source_topics) == ["txns"]
    [out] = task.process(inserted)
    assert out.topic == "BIG"
    assert out.value is not None and b"500" in out.value


def test_queries_push_and_pull() -> None:
    gateway = FakeGateway()
    engine = KsqlService(gateway, {})
    engine.execute_statements(CREATE, {}, {})
    engine.insert_row("txns", {"account": "a", "amount": 7})
    pull = engine.query("SELECT ACCOUNT, AMOUNT * 2 AS D FROM TXNS;", {}, {})
    assert isinstance(pull, PullQueryResult)
    assert [list(r.values) for r in pull.rows] == [["a", 14.0]]
    push = engine.query("SELECT AMOUNT FROM TXNS EMIT CHANGES LIMIT 1;", {}, {})
    assert isinstance(push, PushQuery)
    assert push.limit == 1 and list(push.header.column_names) == ["AMOUNT"]
    rows = push.process(gateway.topics["txns"][0])
    assert [list(r.values) for r in rows] == [[7.0]]


def test_a_pull_query_on_a_stream_says_whether_it_stopped_at_its_limit() -> None:
    engine = KsqlService(FakeGateway(), {})
    engine.execute_statements(CREATE, {}, {})
    engine.insert_row("txns", {"account": "a", "amount": 7})
    engine.insert_row("txns", {"account": "b", "amount": 8})
    stopped = engine.query("SELECT * FROM TXNS LIMIT 1;", {}, {})
    assert isinstance(stopped, PullQueryResult)
    assert len(stopped.rows) == 1 and stopped.limit_reached
    whole = engine.query("SELECT * FROM TXNS LIMIT 5;", {}, {})
    assert isinstance(whole, PullQueryResult)
    assert len(whole.rows) == 2 and not whole.limit_reached


def test_select_on_ksql_endpoint_is_rejected_with_40002() -> None:
    engine = KsqlService(FakeGateway(), {})
    engine.execute_statements(CREATE, {}, {})
    with pytest.raises(KsqlError) as caught:
        engine.execute_statements("SELECT * FROM TXNS;", {}, {})
    assert getattr(caught.value, "error_code", None) == 40002


def test_commands_keep_defined_variables_expanded_so_a_restart_can_replay_them() -> None:
    results = KsqlService(FakeGateway(), {}).execute_statements(
        "DEFINE limit = '100';" + CREATE + "CREATE STREAM BIG AS SELECT * FROM TXNS "
        "WHERE AMOUNT > ${limit};",
        {},
        {},
    )
    commands = [r.command for r in results if r.command is not None]
    assert commands[-1].statement.endswith("WHERE AMOUNT > 100;")

    # A restarted server has none of the session's DEFINEs, only the command topic.
    restarted_gateway = FakeGateway()
    restarted = KsqlService(restarted_gateway, {})
    for command in commands:
        restarted.replay(command)
    restarted.execute_statements(
        "INSERT INTO TXNS (ACCOUNT, AMOUNT) VALUES ('a', 50.0);"
        "INSERT INTO TXNS (ACCOUNT, AMOUNT) VALUES ('b', 150.0);",
        {},
        {},
    )
    [task] = restarted.persistent_queries().values()
    passed = [out for msg in restarted_gateway.topics["txns"] for out in task.process(msg)]
    assert [out.key for out in passed] == [b"b"]
