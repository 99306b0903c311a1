"""PAUSE/RESUME of persistent queries, connectors without a Connect cluster, ASSERT TOPIC/SCHEMA
and ALTER SYSTEM, in the engine over its in-memory broker, with the answers /ksql gives."""

from __future__ import annotations

import json

import pytest

from ksql_emulator.contracts.message import Message
from ksql_emulator.engine import Engine
from ksql_emulator.errors import KsqlError, KsqlStatementError
from ksql_emulator.server._errors import statement_error_from

SOURCE = "CREATE STREAM S (K STRING KEY, V INT) WITH (kafka_topic='s', value_format='JSON');"


def send(engine: Engine, key: str, v: int) -> None:
    engine.broker.produce(Message("s", key.encode(), json.dumps({"V": v}).encode(), timestamp=v))


def counts(engine: Engine) -> list[tuple[str, int]]:
    return [(m.key.decode(), json.loads(m.value)["N"]) for m in engine.broker.topics["C"] if m.key]


@pytest.fixture
def engine() -> Engine:
    engine = Engine()
    engine.execute(SOURCE + "CREATE TABLE C AS SELECT K, COUNT(*) AS N FROM S GROUP BY K;")
    engine.execute("CREATE STREAM BIG AS SELECT * FROM S WHERE V > 10;")
    return engine


def test_a_paused_query_processes_nothing_and_resumes_where_it_stopped(engine: Engine) -> None:
    send(engine, "a", 1)
    assert engine.execute("PAUSE CTAS_C_0;")[0].message == "Query paused."
    send(engine, "a", 2)
    send(engine, "b", 20)
    assert counts(engine) == [("a", 1)]
    # The other query runs on.
    assert len(engine.broker.topics["BIG"]) == 1
    assert engine.execute("RESUME CTAS_C_0;")[0].message == "Query resumed."
    # Every record that arrived meanwhile is counted once, in order, then new ones as usual.
    assert counts(engine) == [("a", 1), ("a", 2), ("b", 1)]
    send(engine, "a", 3)
    assert counts(engine)[-1] == ("a", 3)


def test_pause_all_and_resume_all(engine: Engine) -> None:
    engine.execute("PAUSE ALL;")
    assert set(engine.paused) == set(engine.queries) == {"CTAS_C_0", "CSAS_BIG_1"}
    send(engine, "a", 50)
    assert "BIG" not in engine.broker.topics or engine.broker.topics["BIG"] == []
    engine.execute("RESUME ALL;")
    assert engine.paused == {}
    assert len(engine.broker.topics["BIG"]) == 1 and counts(engine) == [("a", 1)]


def test_terminating_a_paused_query_forgets_what_it_held(engine: Engine) -> None:
    engine.execute("PAUSE CTAS_C_0;")
    send(engine, "a", 1)
    engine.execute("TERMINATE CTAS_C_0;")
    assert "CTAS_C_0" not in engine.paused
    send(engine, "a", 2)
    assert engine.broker.topics["C"] == []


def test_pausing_an_unknown_query_names_it(engine: Engine) -> None:
    with pytest.raises(KsqlStatementError, match=r"^Unknown queryId: CTAS_NOPE_9$"):
        engine.execute("PAUSE CTAS_NOPE_9;")


@pytest.mark.parametrize(
    "sql",
    [
        "SHOW CONNECTORS;",
        "SHOW SOURCE CONNECTORS;",
        "SHOW CONNECTOR PLUGINS;",
        "DESCRIBE CONNECTOR pg;",
        "DROP CONNECTOR IF EXISTS pg;",
        "CREATE SOURCE CONNECTOR pg WITH ('connector.class'='JdbcSource');",
    ],
)
def test_connector_statements_answer_as_ksqldb_without_a_connect_cluster(sql: str) -> None:
    engine = Engine()
    with pytest.raises(KsqlError) as info:
        engine.execute(sql)
    status, body = statement_error_from(info.value, sql)
    assert status == 400
    assert body["@type"] == "generic_error" and body["error_code"] == 40000
    assert body["message"] == (
        "org.apache.hc.client5.http.HttpHostConnectException: Connect to "
        "http://localhost:8083 [localhost/127.0.0.1] failed: Connection refused\n"
        "Caused by: Could not connect to the server."
    )


def test_assert_topic_checks_existence_and_shape() -> None:
    engine = Engine()
    engine.execute(SOURCE)
    assert engine.execute("ASSERT TOPIC `s` WITH (PARTITIONS=1, REPLICAS=1);")[0].data
    assert engine.execute("ASSERT NOT EXISTS TOPIC 'other' TIMEOUT 10 MILLISECONDS;")
    failures = {
        "ASSERT TOPIC other TIMEOUT 10 MILLISECONDS;": "Topic OTHER does not exist",
        "ASSERT NOT EXISTS TOPIC 's' TIMEOUT 10 MILLISECONDS;": "Topic s exists",
        "ASSERT TOPIC 's' WITH (PARTITIONS=2, X=1) TIMEOUT 10 MILLISECONDS;": (
            "Mismatched configuration for topic s: For config partitions, expected 2 got 1\n"
            "Cannot assert unknown topic property: X"
        ),
    }
    for sql, message in failures.items():
        with pytest.raises(KsqlError) as info:
            engine.execute(sql)
        assert statement_error_from(info.value, sql) == (
            417,
            {"@type": "generic_error", "error_code": 41700, "message": message},
        )


def test_assert_schema_without_a_schema_registry_fails_its_check() -> None:
    with pytest.raises(KsqlError) as info:
        Engine().execute("ASSERT SCHEMA ID 3 TIMEOUT 10 MILLISECONDS;")
    status, body = statement_error_from(info.value, "")
    assert status == 417 and body["message"].startswith("Cannot check schema existence: ")


def test_alter_system_needs_shared_runtimes() -> None:
    engine = Engine()
    with pytest.raises(KsqlError, match="KSQL_SHARED_RUNTIME_ENABLED is turned off"):
        engine.execute("ALTER SYSTEM 'ksql.streams.num.stream.threads'='2';")
    engine.execute("SET 'ksql.runtime.feature.shared.enabled'='true';")
    result = engine.execute("ALTER SYSTEM 'ksql.streams.num.stream.threads'='2';")[0]
    assert result.message == "System property ksql.streams.num.stream.threads was set to 2."
    assert engine.properties["ksql.streams.num.stream.threads"] == "2"
