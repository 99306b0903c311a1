"""WITH properties -> a checked Source: topic, formats, delimiters, timestamp, window."""

from __future__ import annotations

import re
from typing import Any

from ksql_emulator import sql_types as ty
from ksql_emulator.catalog import Column, Source
from ksql_emulator.engine.base import EngineState
from ksql_emulator.errors import KsqlError, KsqlStatementError, PrepareError
from ksql_emulator.parser import tree as t
from ksql_emulator.parser.keywords import TIME_UNITS
from ksql_emulator.runtime.formats import key_serde, value_serde

__all__ = ["KNOWN_FORMATS", "SourceBuilder"]

KNOWN_FORMATS = frozenset(
    {"JSON", "KAFKA", "DELIMITED", "NONE", "AVRO", "PROTOBUF", "PROTOBUF_NOSR", "JSON_SR"}
)
_DURATION = re.compile(r"^\s*(\d+)\s*([A-Za-z]+)\s*$")


class SourceBuilder:
    """Builds and checks the Source a CREATE statement names (DDL and CSAS/CTAS alike)."""

    def __init__(self, state: EngineState) -> None:
        self.state = state

    def check_new_source(self, kind: str, name: str, or_replace: bool, if_not_exists: bool) -> bool:
        existing = self.state.catalog.source(name)
        if existing is None:
            return True
        if if_not_exists:
            return False
        if or_replace:
            if existing.is_source:
                raise KsqlStatementError(
                    f"Cannot add {kind.lower()} '{name}': CREATE OR REPLACE is not supported on "
                    f"source {existing.kind.lower()}s."
                )
            return True
        raise KsqlStatementError(
            f"Cannot add {kind.lower()} '{name}': A {existing.kind.lower()} with the same name "
            "already exists"
        )

    def source_from_props(
        self,
        kind: str,
        name: str,
        columns: list[Column],
        props: dict[str, Any],
        text: str,
        inherit: Source | None = None,
    ) -> Source:
        topic = props.get("KAFKA_TOPIC")
        if topic is None:
            if inherit is None:
                raise KsqlStatementError(
                    'Missing required property "KAFKA_TOPIC" which has no default value.'
                )
            topic = str(self.state.prop("ksql.output.topic.name.prefix", "")) + name
        fmt = props.get("FORMAT")
        if fmt is not None and ("KEY_FORMAT" in props or "VALUE_FORMAT" in props):
            raise KsqlStatementError(
                "Cannot supply both 'KEY_FORMAT' and 'FORMAT' properties, as 'FORMAT' sets both "
                "key and value formats. Either use just 'FORMAT', or use 'KEY_FORMAT' and "
                "'VALUE_FORMAT'."
            )
        key_format = props.get("KEY_FORMAT") or fmt
        value_format = props.get("VALUE_FORMAT") or fmt
        if key_format is None:
            key_format = (
                inherit.key_format
                if inherit is not None
                else self.state.prop("ksql.persistence.default.format.key", "KAFKA")
            )
        if value_format is None:
            value_format = (
                inherit.value_format
                if inherit is not None
                else self.state.prop("ksql.persistence.default.format.value")
            )
            if value_format is None:
                raise KsqlStatementError(
                    "Statement is missing the 'VALUE_FORMAT' property from the WITH clause. "
                    "Either provide one or set a default via the "
                    "'ksql.persistence.default.format.value' config."
                )
        key_format = str(key_format).upper()
        value_format = str(value_format).upper()
        for f in (key_format, value_format):
            if f not in KNOWN_FORMATS:
                raise KsqlStatementError(f"Unknown format: {f}")
        _check_format_properties(props, "KEY", key_format)
        _check_format_properties(props, "VALUE", value_format)
        if not any(c.namespace == "KEY" for c in columns) and inherit is not None:
            key_format = "NONE" if key_format != "NONE" else key_format
        elif key_format == "NONE" and inherit is not None and "KEY_FORMAT" not in props:
            # A sink that gains a key (PARTITION BY, GROUP BY, JOIN) cannot keep NONE.
            key_format = str(
                self.state.prop("ksql.persistence.default.format.key", "KAFKA")
            ).upper()
        key_props: dict[str, str] = {}
        value_props: dict[str, str] = {}
        if "VALUE_DELIMITER" in props:
            value_props["VALUE_DELIMITER"] = str(props["VALUE_DELIMITER"])
        if "KEY_DELIMITER" in props:
            key_props["KEY_DELIMITER"] = str(props["KEY_DELIMITER"])
        if inherit is not None:
            # A sink in the same format keeps its source's delimiters unless WITH sets them.
            if not value_props and value_format == inherit.value_format:
                value_props = dict(inherit.value_props)
            if not key_props and key_format == inherit.key_format:
                key_props = dict(inherit.key_props)
        wrap = props.get("WRAP_SINGLE_VALUE")
        if wrap is None and self.state.prop("ksql.persistence.wrap.single.values") is not None:
            wrap = str(self.state.prop("ksql.persistence.wrap.single.values")).lower() == "true"
        if isinstance(wrap, str):
            wrap = wrap.lower() == "true"
        partitions = props.get("PARTITIONS")
        if partitions is None:
            existing = self.state.catalog.topics.get(str(topic))
            if existing is not None:
                partitions = existing.partitions
            elif inherit is not None:
                src_topic = self.state.catalog.topics.get(inherit.topic)
                partitions = src_topic.partitions if src_topic else 1
            else:
                partitions = 1
        ts_col = props.get("TIMESTAMP")
        if ts_col is not None:
            ts_col = str(ts_col).upper() if not str(ts_col).startswith("`") else str(ts_col)[1:-1]
            col = next((c for c in columns if c.name == ts_col), None)
            if col is None:
                raise KsqlStatementError(
                    "The TIMESTAMP column set in the WITH clause does not exist in the schema: "
                    f"'{ts_col}'"
                )
            if col.type not in (ty.BIGINT, ty.TIMESTAMP, ty.STRING):
                raise KsqlStatementError(
                    f"Timestamp column, `{ts_col}`, should be LONG(INT64), TIMESTAMP, or a String "
                    "with a timestamp_format specified."
                )
        window_type = props.get("WINDOW_TYPE")
        window_size = props.get("WINDOW_SIZE")
        window_size_ms = None
        if window_size is not None:
            if str(window_type or "").upper() == "SESSION":
                raise PrepareError("'WINDOW_SIZE' should not be set for SESSION windows.")
            m = _DURATION.match(str(window_size))
            unit = m.group(2).upper() if m else ""
            if m is None or unit not in TIME_UNITS:
                shown = m.group(2).upper() if m else str(window_size)
                raise PrepareError(
                    f"Configuration WINDOW_SIZE is invalid: Invalid duration: '{window_size}'. "
                    f"Unknown time unit: '{shown}'"
                )
            window_size_ms = t.Duration(int(m.group(1)), unit).ms
        return Source(
            kind=kind,
            name=name,
            columns=columns,
            topic=str(topic),
            key_format=key_format,
            value_format=value_format,
            key_props=key_props,
            value_props=value_props,
            wrap_single_value=wrap if isinstance(wrap, bool) else None,
            wrap_single_value_in_with="WRAP_SINGLE_VALUE" in props,
            timestamp_column=ts_col,
            timestamp_format=props.get("TIMESTAMP_FORMAT"),
            window_type=str(window_type).upper() if window_type else None,
            window_size_ms=window_size_ms,
            sql=text,
            partitions=int(partitions),
        )

    def validate_formats(self, source: Source) -> None:
        for c in source.key_columns:
            if ty.contains_map(c.type):
                raise KsqlStatementError(
                    "Map keys, including types that contain maps, are not supported as they may "
                    "lead to unexpected behavior due to inconsistent serialization. Key column "
                    f"name: `{c.name}`. Column type: {c.type}. See "
                    "https://github.com/confluentinc/ksql/issues/6621 for more."
                )
        for fmt, cols in (
            (source.key_format, source.key_columns),
            (source.value_format, source.value_columns),
        ):
            if fmt == "JSON" and any(_non_string_map_key(c.type) for c in cols):
                raise KsqlStatementError("JSON only supports MAP types with STRING keys")
        from ksql_emulator import serde

        check = getattr(serde, "check_schema", None)
        try:
            if check is not None:
                key_schema = [(c.name, c.type) for c in source.key_columns]
                value_schema = [(c.name, c.type) for c in source.value_columns]
                try:
                    check(source.key_format, key_schema, is_key=True)
                except KsqlError as err:
                    columns = ", ".join(f"`{c.name}` {c.type} KEY" for c in source.key_columns)
                    raise KsqlError(
                        f"Key format does not support schema.\nformat: {source.key_format}\n"
                        f"schema: Persistence{{columns=[{columns}], features=[]}}\n"
                        f"reason: {err.message}"
                    ) from err
                check(
                    source.value_format,
                    value_schema,
                    is_key=False,
                    wrap_single=source.wrap_single_value
                    if source.wrap_single_value_in_with
                    else None,
                )
            key_serde(source)
            value_serde(source)
        except KsqlError as err:
            raise KsqlStatementError(err.message) from err


def _non_string_map_key(typ: Any) -> bool:
    if isinstance(typ, ty.MapType):
        return typ.key != ty.STRING or _non_string_map_key(typ.value)
    if isinstance(typ, ty.ArrayType):
        return _non_string_map_key(typ.item)
    if isinstance(typ, ty.StructType):
        return any(_non_string_map_key(f) for _, f in typ.fields)
    return False


# What each format without Schema Registry takes in its FormatInfo (ksqlDB's format property
# names); the Schema Registry formats are left to their own rules.
_FORMAT_PROPERTIES: dict[str, frozenset[str]] = {
    "DELIMITED": frozenset({"delimiter"}),
    "JSON": frozenset(),
    "KAFKA": frozenset(),
    "NONE": frozenset(),
}


def _check_format_properties(props: dict[str, Any], side: str, fmt: str) -> None:
    """ksqlDB turns the WITH clause's KEY_/VALUE_ properties into the format's properties
    (schema name, delimiter, schema id, in that order) and refuses those the format lacks."""
    upper = {k.upper(): v for k, v in props.items()}
    if "PROTOBUF" not in fmt and f"{side}_PROTOBUF_NULLABLE_REPRESENTATION" in upper:
        raise KsqlStatementError(
            f"Property {side}_PROTOBUF_NULLABLE_REPRESENTATION can only be enabled with protobuf "
            "format"
        )
    supported = _FORMAT_PROPERTIES.get(fmt)
    if supported is None:
        return
    names = [f"{side}_SCHEMA_FULL_NAME"] + (
        ["VALUE_AVRO_SCHEMA_FULL_NAME"] if side == "VALUE" else []
    )
    given: list[str] = []
    if any(n in upper for n in names):
        given.append("fullSchemaName")
    if f"{side}_DELIMITER" in upper:
        given.append("delimiter")
    if f"{side}_SCHEMA_ID" in upper:
        given.append("schemaId")
    unsupported = [g for g in given if g not in supported]
    if unsupported:
        raise KsqlStatementError(
            f"{fmt} does not support the following configs: [{', '.join(unsupported)}]"
        )
