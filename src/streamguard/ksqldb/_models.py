"""Typed views of ksqlDB's REST responses: statement entities, server info, query headers."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class _Wire(BaseModel):
    """ksqlDB's JSON: camelCase names, unknown fields tolerated (newer servers add some)."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True
    )


class KsqlWarning(_Wire):
    """A warning ksqlDB attaches to an entity."""

    message: str


class Entity(_Wire):
    """One element of `/ksql`'s answer; `entity_type` is its `@type`."""

    model_config = ConfigDict(extra="allow")

    entity_type: str = Field(alias="@type")
    statement_text: str = ""
    warnings: list[KsqlWarning] = []


class CommandStatus(_Wire):
    status: str
    message: str = ""
    query_id: str | None = None


class CurrentStatus(Entity):
    """The answer to CREATE, DROP, TERMINATE, INSERT INTO ... SELECT."""

    command_id: str
    command_status: CommandStatus
    command_sequence_number: int = -1


class SourceInfo(_Wire):
    type: str
    name: str
    topic: str
    key_format: str = "KAFKA"
    value_format: str = "JSON"
    is_windowed: bool = False


class StreamsList(Entity):
    streams: list[SourceInfo]


class TablesList(Entity):
    tables: list[SourceInfo]


class RunningQuery(_Wire):
    id: str
    query_string: str = ""
    sinks: list[str] = []
    sink_kafka_topics: list[str] = []
    state: str | None = None
    query_type: str | None = None


class QueriesList(Entity):
    queries: list[RunningQuery]


class FieldSchema(_Wire):
    type: str
    fields: list[FieldInfo] | None = None
    member_schema: FieldSchema | None = None


class FieldInfo(_Wire):
    name: str
    schema_: FieldSchema = Field(alias="schema")
    type: str | None = None  # "KEY" for key columns, absent for value columns


class SourceDescription(_Wire):
    name: str
    type: str
    topic: str = ""
    key_format: str = ""
    value_format: str = ""
    window_type: str | None = None
    fields: list[FieldInfo] = []
    read_queries: list[RunningQuery] = []
    write_queries: list[RunningQuery] = []
    statement: str = ""
    partitions: int | None = None
    replication: int | None = None


class SourceDescriptionEntity(Entity):
    source_description: SourceDescription


class KafkaTopic(_Wire):
    name: str
    replica_info: list[int] = []


class KafkaTopicsList(Entity):
    topics: list[KafkaTopic]


class Property(_Wire):
    name: str
    scope: str = ""
    value: str | None = None


class PropertiesList(Entity):
    properties: list[Property]
    overwritten_properties: list[str] = []
    default_properties: list[str] = []


ENTITY_TYPES: dict[str, type[Entity]] = {
    "currentStatus": CurrentStatus,
    "kafka_topics": KafkaTopicsList,
    "properties": PropertiesList,
    "queries": QueriesList,
    "sourceDescription": SourceDescriptionEntity,
    "streams": StreamsList,
    "tables": TablesList,
}


def parse_entity(data: dict[str, Any]) -> Entity:
    """The typed entity for `data`'s `@type`; other types stay a plain `Entity`."""
    model = ENTITY_TYPES.get(str(data.get("@type")), Entity)
    return model.model_validate(data)


class ServerInfo(_Wire):
    """`GET /info`'s `KsqlServerInfo`."""

    version: str
    kafka_cluster_id: str = ""
    ksql_service_id: str = ""
    server_status: str | None = None


class HealthCheck(_Wire):
    """`GET /healthcheck`: overall health and each subsystem's."""

    is_healthy: bool
    details: dict[str, dict[str, Any]] = {}


class QueryHeader(_Wire):
    """The first line of a `/query-stream` answer."""

    query_id: str | None = None
    column_names: list[str]
    column_types: list[str]


class InsertAck(_Wire):
    """One `/inserts-stream` acknowledgement: `{"status":"ok","seq":n}`."""

    status: str
    seq: int


FieldSchema.model_rebuild()
