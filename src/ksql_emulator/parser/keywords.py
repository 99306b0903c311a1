"""Keywords, type names, time units and WITH properties of ksqlDB's grammar, as data."""

from __future__ import annotations

__all__ = ["RESERVED", "TIME_UNITS", "TYPE_ALIASES", "WITH_PROPERTIES"]

# Words SqlBase.g4 does not list under `nonReserved`: they cannot be bare identifiers
# (quoted-identifiers.json and project-filter.json check `END` must be quoted).
RESERVED: frozenset[str] = frozenset(
    [
        "SELECT",
        "FROM",
        "WHERE",
        "AS",
        "AND",
        "OR",
        "NOT",
        "NULL",
        "TRUE",
        "FALSE",
        "CASE",
        "WHEN",
        "THEN",
        "ELSE",
        "END",
        "JOIN",
        "INNER",
        "LEFT",
        "RIGHT",
        "FULL",
        "OUTER",
        "ON",
        "WITHIN",
        "GROUP",
        "BY",
        "HAVING",
        "WINDOW",
        "EMIT",
        "PARTITION",
        "LIMIT",
        "CREATE",
        "INSERT",
        "INTO",
        "VALUES",
        "DROP",
        "IS",
        "IN",
        "LIKE",
        "BETWEEN",
        "DISTINCT",
        "CAST",
        "EXISTS",
        "WITH",
        "TABLE",
        "STREAM",
        "STREAMS",
        "TABLES",
        "SHOW",
        "LIST",
        "DESCRIBE",
        "TERMINATE",
        "UNSET",
        "DEFINE",
        "UNDEFINE",
        "ESCAPE",
        "OVERWRITE",
    ]
)

# ksqlDB's alternative spellings of the same type.
TYPE_ALIASES: dict[str, str] = {
    "INT": "INTEGER",
    "VARCHAR": "STRING",
    "BOOL": "BOOLEAN",
}

TIME_UNITS: frozenset[str] = frozenset(
    [
        "MILLISECOND",
        "MILLISECONDS",
        "SECOND",
        "SECONDS",
        "MINUTE",
        "MINUTES",
        "HOUR",
        "HOURS",
        "DAY",
        "DAYS",
    ]
)

# The WITH properties ksqlDB accepts on CREATE statements (CommonCreateConfigs and friends).
WITH_PROPERTIES: frozenset[str] = frozenset(
    [
        "KAFKA_TOPIC",
        "PARTITIONS",
        "REPLICAS",
        "RETENTION_MS",
        "CLEANUP_POLICY",
        "KEY_FORMAT",
        "VALUE_FORMAT",
        "FORMAT",
        "TIMESTAMP",
        "TIMESTAMP_FORMAT",
        "WRAP_SINGLE_VALUE",
        "VALUE_DELIMITER",
        "KEY_DELIMITER",
        "WINDOW_TYPE",
        "WINDOW_SIZE",
        "KEY_SCHEMA_ID",
        "VALUE_SCHEMA_ID",
        "KEY_SCHEMA_FULL_NAME",
        "VALUE_SCHEMA_FULL_NAME",
        "VALUE_AVRO_SCHEMA_FULL_NAME",
        "KEY_PROTOBUF_NULLABLE_REPRESENTATION",
        "VALUE_PROTOBUF_NULLABLE_REPRESENTATION",
        "SOURCE_CONNECTOR",
    ]
)
