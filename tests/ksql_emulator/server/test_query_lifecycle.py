"""A persistent query's life as ksqlDB runs it, through the emulator server on real Kafka:
its QUERY_ID, TERMINATE's cleanup (consumer group and internal topics) and CREATE OR
REPLACE's upgrade in place."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from confluent_kafka.admin import AdminClient

from tests.ksql_emulator.server.test_real_engine import emulator_process, sink_records

pytestmark = pytest.mark.slow

EARLIEST = {"auto.offset.reset": "earliest"}


@pytest.fixture
def server(kafka_bootstrap: str, tmp_path: Path) -> Iterator[tuple[httpx.Client, str]]:
    service_id = f"t_{uuid.uuid4().hex[:8]}_"
    with (
        emulator_process(kafka_bootstrap, service_id, tmp_path) as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        yield client, service_id


def run(
    client: httpx.Client, statements: str, properties: dict[str, Any] | None = None
) -> httpx.Response:
    return client.post("/ksql", json={"ksql": statements, "streamsProperties": properties or {}})


def ok(client: httpx.Client, statements: str, properties: dict[str, Any] | None = None) -> Any:
    response = run(client, statements, properties)
    assert response.status_code == 200, response.text
    return response.json()


def query_ids(client: httpx.Client) -> list[str]:
    return sorted(q["id"] for q in ok(client, "SHOW QUERIES;")[0]["queries"])


def insert(client: httpx.Client, *values: int) -> None:
    ok(client, " ".join(f"INSERT INTO S (K, V) VALUES ('k', {v});" for v in values))


def values(records: list[tuple[Any, Any]]) -> list[int]:
    return [value["V"] for _key, value in records]


def groups(admin: AdminClient) -> set[str]:
    listed = admin.list_consumer_groups(request_timeout=10).result()
    return {g.group_id for g in listed.valid}


def wait_until(check: Callable[[], bool], what: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout_s:.0f}s"
        time.sleep(0.2)


def create_source(client: httpx.Client, topic: str) -> None:
    ok(
        client,
        f"CREATE STREAM S (K STRING KEY, V INT) WITH (kafka_topic='{topic}', value_format='JSON');",
    )


def test_insert_into_runs_under_its_query_id_which_two_queries_cannot_share(
    server: tuple[httpx.Client, str], new_topic: Callable[..., str]
) -> None:
    client, _ = server
    create_source(client, new_topic("src"))
    ok(client, f"CREATE STREAM OUT_S WITH (kafka_topic='{new_topic('out')}') AS SELECT * FROM S;")
    created = ok(client, "INSERT INTO OUT_S WITH (QUERY_ID = 'rule_x') SELECT * FROM S;")
    assert created[0]["commandStatus"]["message"] == "Created query with ID RULE_X"
    assert "RULE_X" in query_ids(client)

    again = run(client, "INSERT INTO OUT_S WITH (QUERY_ID = 'RULE_X') SELECT * FROM S;")
    assert again.status_code == 400
    assert again.json()["message"] == "Query ID 'RULE_X' already exists."

    reserved = run(client, "INSERT INTO OUT_S WITH (QUERY_ID = 'CSAS_MINE') SELECT * FROM S;")
    assert reserved.status_code == 400
    assert "reserved query ID prefix" in reserved.json()["message"]

    ok(client, "TERMINATE RULE_X;")
    assert "RULE_X" not in query_ids(client)
    ok(client, "INSERT INTO OUT_S WITH (QUERY_ID = 'RULE_X') SELECT * FROM S;")
    assert "RULE_X" in query_ids(client)


def test_terminate_deletes_the_group_so_the_same_id_starts_over_from_auto_offset_reset(
    server: tuple[httpx.Client, str],
    new_topic: Callable[..., str],
    admin: AdminClient,
    kafka_bootstrap: str,
) -> None:
    client, service_id = server
    create_source(client, new_topic("src"))
    sink = new_topic("sink")
    ok(client, f"CREATE STREAM T WITH (kafka_topic='{sink}') AS SELECT * FROM S WHERE V < 0;")
    insert_into = "INSERT INTO T WITH (QUERY_ID = 'COPY') SELECT * FROM S;"
    ok(client, insert_into, EARLIEST)
    insert(client, 1, 2, 3)
    assert values(sink_records(kafka_bootstrap, sink, 3)) == [1, 2, 3]
    group = f"_confluent-ksql-{service_id}query_COPY"
    wait_until(lambda: group in groups(admin), "the query's consumer group committing")

    ok(client, "TERMINATE COPY;")
    wait_until(lambda: group not in groups(admin), "TERMINATE deleting the consumer group")
    insert(client, 4)
    ok(client, insert_into, EARLIEST)
    # From the start again (ksqlDB's cleanup), not from after 3 where the old run stopped.
    assert values(sink_records(kafka_bootstrap, sink, 7)) == [1, 2, 3, 1, 2, 3, 4]

    # The same in one request: the id's new run is not the old one carried on.
    ok(client, f"TERMINATE COPY; {insert_into}", EARLIEST)
    assert values(sink_records(kafka_bootstrap, sink, 11))[7:] == [1, 2, 3, 4]


def test_terminate_deletes_the_changelogs_of_an_aggregate(
    server: tuple[httpx.Client, str],
    new_topic: Callable[..., str],
    admin: AdminClient,
) -> None:
    client, service_id = server
    create_source(client, new_topic("src"))
    ok(
        client,
        f"CREATE TABLE C WITH (kafka_topic='{new_topic('counts')}', QUERY_ID='COUNTS') AS "
        "SELECT K, COUNT(*) AS N FROM S GROUP BY K;",
        EARLIEST,
    )
    insert(client, 1)
    prefix = f"_confluent-ksql-{service_id}query_COUNTS-"

    def internal_topics() -> list[str]:
        return [t for t in admin.list_topics(timeout=10).topics if t.startswith(prefix)]

    wait_until(lambda: bool(internal_topics()), "the aggregate's changelog appearing")
    ok(client, "TERMINATE COUNTS;")
    wait_until(lambda: not internal_topics(), "TERMINATE deleting the changelog")


def test_create_or_replace_upgrades_a_simple_query_in_place_from_its_committed_offsets(
    server: tuple[httpx.Client, str], new_topic: Callable[..., str], kafka_bootstrap: str
) -> None:
    client, _ = server
    create_source(client, new_topic("src"))
    sink = new_topic("sink")
    ok(
        client,
        f"CREATE STREAM F WITH (kafka_topic='{sink}') AS SELECT * FROM S WHERE V > 0;",
        EARLIEST,
    )
    (before,) = query_ids(client)
    insert(client, 1, 5)
    assert values(sink_records(kafka_bootstrap, sink, 2)) == [1, 5]

    ok(
        client,
        f"CREATE OR REPLACE STREAM F WITH (kafka_topic='{sink}') AS SELECT * FROM S WHERE V > 3;",
        EARLIEST,
    )
    assert query_ids(client) == [before]
    insert(client, 2, 7)
    # Neither 1 nor 5 again: the upgraded query goes on from where the old one committed.
    assert values(sink_records(kafka_bootstrap, sink, 3)) == [1, 5, 7]


def test_create_or_replace_refuses_to_upgrade_an_aggregate(
    server: tuple[httpx.Client, str], new_topic: Callable[..., str]
) -> None:
    client, _ = server
    create_source(client, new_topic("src"))
    counts = new_topic("counts")
    ok(
        client,
        f"CREATE TABLE G WITH (kafka_topic='{counts}') AS "
        "SELECT K, COUNT(*) AS N FROM S GROUP BY K;",
    )
    (before,) = query_ids(client)
    refused = run(
        client,
        f"CREATE OR REPLACE TABLE G WITH (kafka_topic='{counts}') AS "
        "SELECT K, COUNT(*) AS N FROM S WHERE V > 1 GROUP BY K;",
    )
    assert refused.status_code == 400
    assert refused.json()["message"].startswith("Upgrades not yet supported for")
    assert query_ids(client) == [before]
