"""Python values as ksqlDB's REST API renders them in JSON (decimals exact, bytes base64)."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from ksql_emulator import text_forms

__all__ = ["dumps", "to_json_value"]


def to_json_value(value: Any) -> Any:
    """`value` (a Python value per the types contract) as the JSON-ready value ksqlDB sends."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.strftime("%H:%M:%S") if value.microsecond == 0 else value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): to_json_value(v) for k, v in value.items()}
    if isinstance(value, Sequence):
        return [to_json_value(v) for v in value]
    raise TypeError(f"cannot render a {type(value).__name__} as ksqlDB JSON")


def dumps(value: Any) -> str:
    """Compact JSON (no spaces, as ksqlDB's Jackson writes it); decimals keep their scale."""
    return "".join(_encode(to_json_value(value)))


def _encode(value: Any) -> list[str]:
    out: list[str] = []
    _write(value, out)
    return out


def _write(value: Any, out: list[str]) -> None:
    if isinstance(value, Decimal):
        out.append(_decimal_text(value))
    elif isinstance(value, dict):
        out.append("{")
        for i, (k, v) in enumerate(value.items()):
            if i:
                out.append(",")
            out.append(json.dumps(k, ensure_ascii=False))
            out.append(":")
            _write(v, out)
        out.append("}")
    elif isinstance(value, list):
        out.append("[")
        for i, v in enumerate(value):
            if i:
                out.append(",")
            _write(v, out)
        out.append("]")
    else:
        out.append(json.dumps(value, ensure_ascii=False))


def _decimal_text(value: Decimal) -> str:
    if not value.is_finite():
        raise ValueError(f"cannot render the decimal {value} as JSON")
    return text_forms.decimal_plain(value)
