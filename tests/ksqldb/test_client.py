"""The ksqlDB client against fakes of the server's JSON (MockTransport)."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest

import streamguard.ksqldb as ksqldb
from streamguard.ksqldb import (
    CurrentStatus,
    KafkaTopicsList,
    KsqlClient,
    KsqlConnectionError,
    KsqlResponseError,
    KsqlStatementError,
    PropertiesList,
    QueriesList,
    SourceDescriptionEntity,
    StreamsList,
    TablesList,
)

Handler = Callable[[httpx.Request], httpx.Response]


def client_for(handler: Handler) -> KsqlClient:
    return KsqlClient("http://ksqldb.test:8088/", transport=httpx.MockTransport(handler))


def answering(
    status: int, body: Any, seen: list[httpx.Request] | None = None, text: str | None = None
) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        if text is not None:
            return httpx.Response(status, text=text)
        return httpx.Response(status, json=body)

    return handler


def test_public_api_is_listed_and_sorted() -> None:
    public = {name for name in dir(ksqldb) if not name.startswith("_")} - {"annotations"}
    assert set(ksqldb.__all__) == public
    assert ksqldb.__all__ == sorted(ksqldb.__all__)


def test_execute_sends_properties_and_variables_and_types_current_status() -> None:
    seen: list[httpx.Request] = []
    entity = {
        "@type": "currentStatus",
        "statementText": "CREATE STREAM s ...;",
        "commandId": "stream/`S`/create",
        "commandStatus": {"status": "SUCCESS", "message": "Stream created", "queryId": None},
        "commandSequenceNumber": 4,
        "warnings": [{"message": "topic exists"}],
    }
    with client_for(answering(200, [entity], seen)) as client:
        (status,) = client.execute(
            "CREATE STREAM s ...;",
            streams_properties={"auto.offset.reset": "earliest"},
            session_variables={"limit": "5"},
        )
    assert isinstance(status, CurrentStatus)
    assert status.command_id == "stream/`S`/create"
    assert status.command_status.status == "SUCCESS"
    assert status.command_sequence_number == 4
    assert status.warnings[0].message == "topic exists"
    request = seen[0]
    assert (request.method, request.url.path) == ("POST", "/ksql")
    assert json.loads(request.content) == {
        "ksql": "CREATE STREAM s ...;",
        "streamsProperties": {"auto.offset.reset": "earliest"},
        "sessionVariables": {"limit": "5"},
    }
    assert request.headers["accept"] == "application/vnd.ksql.v1+json"


def test_listing_and_describing_entities_are_typed() -> None:
    entities = [
        {
            "@type": "streams",
            "statementText": "LIST STREAMS;",
            "streams": [
                {
                    "type": "STREAM",
                    "name": "TRANSACTIONS",
                    "topic": "transactions",
                    "keyFormat": "KAFKA",
                    "valueFormat": "JSON",
                    "isWindowed": False,
                }
            ],
        },
        {
            "@type": "tables",
            "tables": [
                {"type": "TABLE", "name": "W", "topic": "w", "isWindowed": True},
            ],
        },
        {
            "@type": "queries",
            "queries": [
                {
                    "queryString": "INSERT INTO ...",
                    "sinks": ["FRAUD_ALERTS"],
                    "sinkKafkaTopics": ["fraud_alerts"],
                    "id": "INSERTQUERY_3",
                    "state": "RUNNING",
                    "queryType": "PERSISTENT",
                }
            ],
        },
        {
            "@type": "sourceDescription",
            "sourceDescription": {
                "name": "TRANSACTIONS",
                "type": "STREAM",
                "topic": "transactions",
                "keyFormat": "KAFKA",
                "valueFormat": "JSON",
                "windowType": None,
                "fields": [
                    {"name": "ACCOUNT_ID", "schema": {"type": "STRING"}, "type": "KEY"},
                    {"name": "AMOUNT", "schema": {"type": "DECIMAL"}},
                    {
                        "name": "TAGS",
                        "schema": {"type": "ARRAY", "memberSchema": {"type": "STRING"}},
                    },
                ],
                "readQueries": [],
                "writeQueries": [{"id": "CSAS_1", "queryString": "..."}],
            },
        },
        {"@type": "kafka_topics", "topics": [{"name": "transactions", "replicaInfo": [1]}]},
        {
            "@type": "properties",
            "properties": [{"name": "ksql.service.id", "scope": "KSQL", "value": "default_"}],
            "overwrittenProperties": [],
            "defaultProperties": ["ksql.service.id"],
        },
        {"@type": "function_names", "functions": []},
    ]
    with client_for(answering(200, entities)) as client:
        streams, tables, queries, described, topics, properties, other = client.execute("...")
    assert isinstance(streams, StreamsList) and streams.streams[0].name == "TRANSACTIONS"
    assert isinstance(tables, TablesList) and tables.tables[0].is_windowed
    assert isinstance(queries, QueriesList) and queries.queries[0].sinks == ["FRAUD_ALERTS"]
    assert isinstance(described, SourceDescriptionEntity)
    fields = described.source_description.fields
    assert fields[0].type == "KEY" and fields[1].schema_.type == "DECIMAL"
    assert fields[2].schema_.member_schema is not None
    assert described.source_description.write_queries[0].id == "CSAS_1"
    assert isinstance(topics, KafkaTopicsList) and topics.topics[0].replica_info == [1]
    assert isinstance(properties, PropertiesList) and properties.properties[0].value == "default_"
    assert other.entity_type == "function_names"


def test_a_statement_error_carries_ksqldbs_code_message_and_statement() -> None:
    body = {
        "@type": "statement_error",
        "error_code": 40001,
        "message": "line 1:8: Syntax Error",
        "statementText": "CREATE STRAEM s;",
        "entities": [],
    }
    with client_for(answering(400, body)) as client, pytest.raises(KsqlStatementError) as error:
        client.execute("CREATE STRAEM s;")
    assert error.value.error_code == 40001
    assert error.value.message == "line 1:8: Syntax Error"
    assert error.value.statement_text == "CREATE STRAEM s;"
    assert error.value.status_code == 400
    assert "40001" in str(error.value)


def test_an_answer_that_is_not_ksqldb_is_a_response_error() -> None:
    with (
        client_for(answering(502, None, text="<html>Bad gateway</html>")) as client,
        pytest.raises(KsqlResponseError, match="HTTP 502"),
    ):
        client.execute("LIST STREAMS;")


def _transport_errors() -> list[type[httpx.TransportError]]:
    found: list[type[httpx.TransportError]] = []
    pending: list[type[httpx.TransportError]] = [httpx.TransportError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


@pytest.mark.parametrize("error", _transport_errors(), ids=lambda cls: cls.__name__)
def test_every_httpx_transport_error_becomes_a_connection_error(
    error: type[httpx.TransportError],
) -> None:
    def failing(request: httpx.Request) -> httpx.Response:
        raise error("boom", request=request)

    with client_for(failing) as client:
        for call in (
            lambda: client.execute("LIST STREAMS;"),
            lambda: client.stream_query("SELECT * FROM s;"),
            lambda: client.insert_into("S", [{"A": 1}]),
            client.info,
        ):
            with pytest.raises(KsqlConnectionError) as connection:
                call()
            assert connection.value.url == "http://ksqldb.test:8088"
            assert isinstance(connection.value.__cause__, httpx.TransportError)


def test_query_stream_yields_the_header_then_rows() -> None:
    seen: list[httpx.Request] = []
    lines = [
        {
            "queryId": "transient_1",
            "columnNames": ["ID", "AMOUNT"],
            "columnTypes": ["STRING", "DECIMAL(12, 2)"],
        },
        ["a", 12.5],
        ["b", 5000.01],
    ]
    text = "\n".join(json.dumps(line) for line in lines) + "\n"
    with client_for(answering(200, None, seen, text=text)) as client:
        with client.stream_query(
            "SELECT * FROM t EMIT CHANGES LIMIT 2;", properties={"auto.offset.reset": "earliest"}
        ) as result:
            assert result.query_id == "transient_1"
            assert result.column_names == ["ID", "AMOUNT"]
            assert result.column_types == ["STRING", "DECIMAL(12, 2)"]
            rows = list(result)
        assert rows == [["a", Decimal("12.5")], ["b", Decimal("5000.01")]]
    request = seen[0]
    assert request.url.path == "/query-stream"
    assert request.headers["accept"] == "application/vnd.ksqlapi.delimited.v1"
    assert json.loads(request.content) == {
        "sql": "SELECT * FROM t EMIT CHANGES LIMIT 2;",
        "properties": {"auto.offset.reset": "earliest"},
    }


def test_pull_query_rows_as_dicts() -> None:
    text = '{"queryId":null,"columnNames":["VERSION"],"columnTypes":["STRING"]}\n["3"]\n'
    with client_for(answering(200, None, text=text)) as client:
        assert client.pull_query("SELECT VERSION FROM T WHERE K = 'CURRENT';") == [{"VERSION": "3"}]


def test_an_error_in_the_middle_of_a_stream_is_a_statement_error() -> None:
    text = (
        '{"queryId":"q","columnNames":["A"],"columnTypes":["INTEGER"]}\n[1]\n'
        '{"@type":"generic_error","error_code":50000,"message":"query failed"}\n'
    )
    with client_for(answering(200, None, text=text)) as client:
        result = client.stream_query("SELECT * FROM t EMIT CHANGES;")
        assert next(result) == [1]
        with pytest.raises(KsqlStatementError, match="query failed"):
            next(result)


def test_a_refused_query_is_a_statement_error() -> None:
    body = {
        "@type": "statement_error",
        "error_code": 40001,
        "message": "T does not exist.",
        "statementText": "SELECT * FROM T;",
        "entities": [],
    }
    with client_for(answering(400, body)) as client, pytest.raises(KsqlStatementError) as error:
        client.stream_query("SELECT * FROM T;")
    assert error.value.message == "T does not exist."


def test_inserts_stream_sends_the_target_then_rows_and_reads_acks() -> None:
    seen: list[httpx.Request] = []
    acks = '{"status":"ok","seq":0}\n{"status":"ok","seq":1}\n'
    with client_for(answering(200, None, seen, text=acks)) as client:
        result = client.insert_into("S", [{"A": 1, "M": Decimal("2.50")}, {"A": 2}])
    assert [ack.seq for ack in result] == [0, 1]
    assert seen[0].url.path == "/inserts-stream"
    assert [json.loads(line) for line in seen[0].content.decode().splitlines()] == [
        {"target": "S"},
        {"A": 1, "M": 2.5},
        {"A": 2},
    ]


def test_a_rejected_insert_names_the_row() -> None:
    acks = (
        '{"status":"ok","seq":0}\n'
        '{"status":"error","seq":1,"error_code":40000,"message":"Key field must be specified"}\n'
    )
    with (
        client_for(answering(200, None, text=acks)) as client,
        pytest.raises(KsqlStatementError) as error,
    ):
        client.insert_into("S", [{"A": 1}, {"B": 2}])
    assert error.value.error_code == 40000
    assert "row 1" in str(error.value) and "Key field must be specified" in str(error.value)


def test_close_query_info_and_healthcheck() -> None:
    seen: list[httpx.Request] = []

    def server(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/close-query":
            return httpx.Response(200)
        if request.url.path == "/info":
            return httpx.Response(
                200,
                json={
                    "KsqlServerInfo": {
                        "version": "0.29.0",
                        "kafkaClusterId": "abc",
                        "ksqlServiceId": "default_",
                        "serverStatus": "RUNNING",
                    }
                },
            )
        return httpx.Response(
            200,
            json={
                "isHealthy": True,
                "details": {"metastore": {"isHealthy": True}, "kafka": {"isHealthy": True}},
            },
        )

    with client_for(server) as client:
        client.close_query("transient_1")
        info = client.info()
        health = client.healthcheck()
    assert json.loads(seen[0].content) == {"queryId": "transient_1"}
    assert (info.version, info.ksql_service_id, info.server_status) == (
        "0.29.0",
        "default_",
        "RUNNING",
    )
    assert health.is_healthy and health.details["kafka"]["isHealthy"]
    assert [r.method for r in seen] == ["POST", "GET", "GET"]
