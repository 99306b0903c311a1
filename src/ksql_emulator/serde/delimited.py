"""The DELIMITED format: one CSV line of primitive columns, quoted as Commons CSV quotes."""

from __future__ import annotations

import base64
import binascii
import csv
from decimal import Decimal, InvalidOperation
from typing import Any

from ksql_emulator import casts, text_forms
from ksql_emulator import sql_types as ty
from ksql_emulator.errors import KsqlError, KsqlStatementError, SerializationError
from ksql_emulator.serde.base import (
    Column,
    NullKey,
    Serde,
    b64,
    date_to_days,
    days_to_date,
    ms_of_day,
    ms_to_time,
    ms_to_timestamp,
    timestamp_to_ms,
)

__all__ = ["DelimitedSerde", "parse_delimiter"]

_SPECIAL = {"TAB": "\t", "SPACE": " "}


def parse_delimiter(text: str | None, prop: str = "VALUE_DELIMITER") -> str:
    """A VALUE_DELIMITER/KEY_DELIMITER property -> the one character it names (default ',')."""
    if text is None:
        return ","
    if text.upper() in _SPECIAL:
        return _SPECIAL[text.upper()]
    prefix = f"Failed to prepare statement: Configuration {prop} is invalid: "
    # Java trims the value first, so a bare space or tab counts as empty.
    if text.strip() == "":
        raise KsqlStatementError(
            prefix + "Delimiter cannot be empty, if you meant to have a tab or space for "
            "delimiter, please use the special values 'TAB' or 'SPACE'\nExample valid value: ';'"
        )
    if len(text) != 1:
        raise KsqlStatementError(
            prefix + f"Invalid delimiter value: '{text}'. Delimiter must be a single character "
            "or TAB,SPACE\nExample valid value: ';'"
        )
    return text


def _quote_needed(text: str, delimiter: str, first: bool) -> bool:
    # Apache Commons CSV's QuoteMode.MINIMAL, which ksqlDB's DELIMITED format prints with:
    # a record's first field is quoted unless it starts alphanumeric (from-days.json: "-10").
    if text == "":
        return first
    head = text[0]
    if first and not (head.isascii() and head.isalnum()):
        return True
    if head <= "#":
        return True
    if any(c in ("\n", "\r", '"', delimiter) for c in text):
        return True
    return text[-1] <= " "


def _field_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return text_forms.java_double_str(value)
    if isinstance(value, Decimal):
        return text_forms.decimal_plain(value)
    if isinstance(value, bytes):
        return b64(value)
    if hasattr(value, "hour") and not hasattr(value, "year"):
        return str(ms_of_day(value))
    if hasattr(value, "hour"):
        return str(timestamp_to_ms(value))
    if hasattr(value, "year"):
        return str(date_to_days(value))
    return str(value)


def _parse_field(text: str, t: ty.SqlType) -> Any:
    if text == "":
        return None
    if t == ty.STRING:
        return text
    try:
        if t == ty.BOOLEAN:
            lowered = text.strip().lower()
            if lowered not in ("true", "false"):
                raise ValueError(f"Not a boolean: {text}")
            return lowered == "true"
        if t == ty.INTEGER:
            n = int(text.strip())
            if not -(2**31) <= n < 2**31:
                raise ValueError(f"Integer out of range: {text}")
            return n
        if t == ty.BIGINT:
            n = int(text.strip())
            if not -(2**63) <= n < 2**63:
                raise ValueError(f"Long out of range: {text}")
            return n
        if t == ty.DOUBLE:
            return float(text.strip())
        if isinstance(t, ty.DecimalType):
            return casts.fit_decimal(Decimal(text.strip()), t)
        if t == ty.TIMESTAMP:
            return ms_to_timestamp(int(text.strip()))
        if t == ty.DATE:
            return days_to_date(int(text.strip()))
        if t == ty.TIME:
            return ms_to_time(int(text.strip()))
        if t == ty.BYTES:
            return base64.b64decode(text, validate=True)
    except (ValueError, InvalidOperation, binascii.Error, KsqlError) as err:
        raise SerializationError(f"Failed to parse '{text}' as {t}: {err}") from err
    raise SerializationError(f"The 'DELIMITED' format does not support type '{t.base}'")


class DelimitedSerde(Serde):
    """Primitive columns as one delimited line; an empty field is NULL."""

    format_name = "DELIMITED"

    def __init__(self, schema: list[Column], *, is_key: bool, delimiter: str = ",") -> None:
        super().__init__(schema, is_key=is_key)
        self.delimiter = delimiter

    def serialize(self, values: list[Any] | None) -> bytes | None:
        if values is None or isinstance(values, NullKey):
            return None
        self._check_width(values)
        if self.is_key and len(values) == 1 and values[0] is None:
            return None
        fields: list[str] = []
        for i, v in enumerate(values):
            if v is None:
                fields.append("")
                continue
            text = _field_text(v)
            if _quote_needed(text, self.delimiter, i == 0):
                text = '"' + text.replace('"', '""') + '"'
            fields.append(text)
        return self.delimiter.join(fields).encode("utf-8")

    def deserialize(self, data: bytes | None) -> list[Any] | None:
        if data is None:
            return NullKey.of(len(self.schema)) if self.is_key else None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as err:
            raise SerializationError(f"Failed to deserialize delimited data: {err}") from err
        rows = list(csv.reader([text], delimiter=self.delimiter, quotechar='"', strict=False))
        fields = rows[0] if rows else []
        if text == "" and len(self.schema) == 1:
            fields = [""]
        if len(fields) != len(self.schema):
            raise SerializationError(
                f"Unexpected field count, csvFields:{len(fields)} schemaFields:{len(self.schema)}"
            )
        return [_parse_field(f, t) for f, (_, t) in zip(fields, self.schema, strict=True)]

    def from_test_value(self, value: Any) -> bytes | None:
        if value is None:
            return None
        return (value if isinstance(value, str) else str(value)).encode("utf-8")

    def bytes_to_test_value(self, data: bytes | None) -> Any:
        return None if data is None else data.decode("utf-8")
