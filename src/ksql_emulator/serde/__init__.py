"""Record formats (JSON, KAFKA, DELIMITED, NONE): build a Serde for a key or value schema."""

from __future__ import annotations

from ksql_emulator import sql_types as ty
from ksql_emulator.errors import KsqlStatementError
from ksql_emulator.serde.base import Column, NullKey, Serde
from ksql_emulator.serde.delimited import DelimitedSerde, parse_delimiter
from ksql_emulator.serde.json_format import JsonSerde
from ksql_emulator.serde.kafka import SUPPORTED_TYPES, KafkaSerde
from ksql_emulator.serde.none import NoneSerde

__all__ = ["FORMATS", "Column", "NullKey", "Serde", "check_schema", "make_serde"]

FORMATS = ("JSON", "KAFKA", "DELIMITED", "NONE")
# Formats that need Schema Registry; the emulator knows their names but cannot serve them.
_REGISTRY_FORMATS = ("AVRO", "PROTOBUF", "PROTOBUF_NOSR", "JSON_SR")


def _columns_text(schema: list[Column], is_key: bool) -> str:
    suffix = " KEY" if is_key else ""
    return "[" + ", ".join(f"`{n}` {t}{suffix}" for n, t in schema) + "]"


def check_schema(
    format_name: str, schema: list[Column], *, is_key: bool, wrap_single: bool | None = None
) -> None:
    """Raise KsqlStatementError, worded as ksqlDB words it, if the format cannot carry schema.

    Pass `wrap_single` only when the statement's WITH clause sets WRAP_SINGLE_VALUE: a value
    taken from the server config is not checked (ksqlDB ignores it where it does not apply).
    """
    fmt = format_name.upper()
    if fmt in _REGISTRY_FORMATS:
        raise KsqlStatementError(f"Format '{fmt}' needs Schema Registry, which is not available")
    if fmt not in FORMATS:
        raise KsqlStatementError(f"Unknown format: {format_name}")
    if fmt == "NONE":
        if schema:
            raise KsqlStatementError(
                "The 'NONE' format can only be used when no columns are defined. "
                f"Got: {_columns_text(schema, is_key)}"
            )
        return
    if wrap_single is not None and fmt in ("KAFKA", "DELIMITED") and wrap_single:
        raise KsqlStatementError(
            f"Format '{fmt}' does not support 'WRAP_SINGLE_VALUE' set to 'true'."
        )
    if wrap_single is not None and not is_key and len(schema) != 1:
        raise KsqlStatementError("'WRAP_SINGLE_VALUE' is only valid for single-field value schemas")
    if fmt == "KAFKA":
        if len(schema) > 1:
            raise KsqlStatementError(
                "The 'KAFKA' format only supports a single field. "
                f"Got: {_columns_text(schema, is_key)}"
            )
        for _, t in schema:
            if t not in SUPPORTED_TYPES:
                raise KsqlStatementError(f"The 'KAFKA' format does not support type '{t.base}'")
    if fmt == "JSON":
        for _, t in schema:
            if _has_non_string_map_key(t):
                raise KsqlStatementError("JSON only supports MAP types with STRING keys")
    if fmt == "DELIMITED":
        for name, t in schema:
            if isinstance(t, ty.ArrayType | ty.MapType | ty.StructType):
                detail = f", column: `{name}`" if is_key else ""
                raise KsqlStatementError(
                    f"The 'DELIMITED' format does not support type '{t.base}'{detail}"
                )


def _has_non_string_map_key(t: ty.SqlType | None) -> bool:
    if isinstance(t, ty.MapType):
        return t.key not in (ty.STRING, None) or _has_non_string_map_key(t.value)
    if isinstance(t, ty.ArrayType):
        return _has_non_string_map_key(t.item)
    if isinstance(t, ty.StructType):
        return any(_has_non_string_map_key(ft) for _, ft in t.fields)
    return False


def make_serde(
    format: str,
    schema: list[tuple[str, ty.SqlType]],
    *,
    wrap_single: bool | None,
    is_key: bool,
    props: dict[str, str],
) -> Serde:
    """The Serde for one side of a topic.

    `wrap_single` None means ksqlDB's default (values wrapped, keys bare); it only matters for
    a single column. `props` holds the source's WITH properties (any case); DELIMITED reads
    KEY_DELIMITER or VALUE_DELIMITER (then DELIMITER), other formats refuse a delimiter.
    """
    fmt = format.upper()
    check_schema(fmt, schema, is_key=is_key)
    upper = {k.upper(): v for k, v in props.items()}
    if fmt != "DELIMITED" and any(k.endswith("DELIMITER") for k in upper):
        raise KsqlStatementError(f"{fmt} does not support the following configs: [delimiter]")
    if fmt == "JSON":
        wrap = (not is_key) if wrap_single is None else wrap_single
        return JsonSerde(schema, is_key=is_key, wrap_single=wrap)
    if fmt == "KAFKA":
        return KafkaSerde(schema, is_key=is_key)
    if fmt == "DELIMITED":
        own = "KEY_DELIMITER" if is_key else "VALUE_DELIMITER"
        text = upper.get(own, upper.get("DELIMITER"))
        return DelimitedSerde(schema, is_key=is_key, delimiter=parse_delimiter(text, own))
    return NoneSerde(schema, is_key=is_key)
