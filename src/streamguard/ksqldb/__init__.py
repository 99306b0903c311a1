"""A typed httpx client of ksqlDB's REST API, with errors that carry ksqlDB's error codes."""

from __future__ import annotations

from streamguard.ksqldb._client import KsqlClient, QueryStream
from streamguard.ksqldb._errors import (
    KsqlConnectionError,
    KsqlError,
    KsqlResponseError,
    KsqlStatementError,
)
from streamguard.ksqldb._models import (
    CommandStatus,
    CurrentStatus,
    Entity,
    FieldInfo,
    HealthCheck,
    InsertAck,
    KafkaTopicsList,
    PropertiesList,
    QueriesList,
    QueryHeader,
    ServerInfo,
    SourceDescription,
    SourceDescriptionEntity,
    SourceInfo,
    StreamsList,
    TablesList,
)

__all__ = [
    "CommandStatus",
    "CurrentStatus",
    "Entity",
    "FieldInfo",
    "HealthCheck",
    "InsertAck",
    "KafkaTopicsList",
    "KsqlClient",
    "KsqlConnectionError",
    "KsqlError",
    "KsqlResponseError",
    "KsqlStatementError",
    "PropertiesList",
    "QueriesList",
    "QueryHeader",
    "QueryStream",
    "ServerInfo",
    "SourceDescription",
    "SourceDescriptionEntity",
    "SourceInfo",
    "StreamsList",
    "TablesList",
]
