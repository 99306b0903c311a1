"""ksqlDB's JSON built-ins (extract-json-field.json, to_json_string.json, json_*.json)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from decimal import Decimal
from typing import Any

from ksql_emulator import sql_types as ty
from ksql_emulator import text_forms
from ksql_emulator.functions.registry import FunctionRegistry
from ksql_emulator.functions.signatures import T

__all__ = ["dump_json", "load_json", "register"]

S, INT, BOOLEAN = ty.STRING, ty.INTEGER, ty.BOOLEAN
_DECODER = json.JSONDecoder(parse_float=Decimal)
_MISSING = object()


def load_json(text: str) -> Any:
    """The first JSON value in `text` (numbers with fractions as Decimal, keeping their text)."""
    value, _end = _DECODER.raw_decode(text.lstrip())
    return value


def dump_json(value: Any) -> str:
    """Compact JSON as Jackson writes it: no spaces, numbers as their text, UTF-8 kept."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return text_forms.java_double_str(value)
    if isinstance(value, Decimal):
        return str(value) if value.as_tuple().exponent != "n" else "null"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bytes):
        return json.dumps(base64.b64encode(value).decode("ascii"))
    if isinstance(value, dt.datetime):
        return json.dumps(text_forms.format_timestamp(value))
    if isinstance(value, dt.date):
        return json.dumps(text_forms.format_date(value))
    if isinstance(value, dt.time):
        return json.dumps(text_forms.format_time(value))
    if isinstance(value, list):
        return "[" + ",".join(dump_json(v) for v in value) + "]"
    if isinstance(value, dict):
        items = (
            f"{json.dumps(str(k), ensure_ascii=False)}:{dump_json(v)}" for k, v in value.items()
        )
        return "{" + ",".join(items) + "}"
    return json.dumps(str(value))


_PATH_TOKEN = re.compile(r"\.([^.\[\]]+)|\['([^']*)'\]|\[\"([^\"]*)\"\]|\[(-?\d+)\]")


def _path(path: str) -> list[str | int]:
    text = path.strip()
    if not text.startswith("$"):
        raise ValueError(f"Invalid JsonPath: {path}")
    out: list[str | int] = []
    pos = 1
    while pos < len(text):
        m = _PATH_TOKEN.match(text, pos)
        if m is None:
            raise ValueError(f"Invalid JsonPath: {path}")
        name = m.group(1) or m.group(2) or m.group(3)
        out.append(int(m.group(4)) if m.group(4) is not None else (name or ""))
        pos = m.end()
    return out


def _extract(text: str, path: str) -> str | None:
    try:
        node = load_json(text)
    except ValueError:
        return None
    for step in _path(path):
        if isinstance(step, int):
            if not isinstance(node, list) or not 0 <= step < len(node):
                return None
            node = node[step]
        else:
            if not isinstance(node, dict) or step not in node:
                return None
            node = node[step]
    if node is None:
        return None
    if isinstance(node, str):
        return node
    return dump_json(node)


def _array_contains(text: str, value: Any) -> bool:
    try:
        node = load_json(text)
    except ValueError:
        return False
    if not isinstance(node, list):
        return False
    for item in node:
        if value is None:
            if item is None:
                return True
            continue
        if isinstance(value, bool) or isinstance(item, bool):
            if isinstance(value, bool) and isinstance(item, bool) and value == item:
                return True
            continue
        if isinstance(value, str) != isinstance(item, str):
            continue
        if isinstance(value, float) and isinstance(item, Decimal | int):
            if float(item) == value:
                return True
            continue
        if isinstance(value, int) and not isinstance(item, int):
            continue
        if item == value:
            return True
    return False


def _is_json(text: str | None) -> bool:
    if text is None:
        return False
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _array_length(text: str) -> int | None:
    try:
        node = load_json(text)
    except ValueError:
        return None
    return len(node) if isinstance(node, list) else None


def _keys(text: str) -> list[str] | None:
    try:
        node = load_json(text)
    except ValueError:
        return None
    return list(node) if isinstance(node, dict) else None


def _records(text: str) -> dict[str, str] | None:
    try:
        node = load_json(text)
    except ValueError:
        return None
    if not isinstance(node, dict):
        return None
    return {k: (v if isinstance(v, str) else dump_json(v)) for k, v in node.items()}


def _items(text: str) -> list[str] | None:
    # ksqlDB reads the text as a JSON array (anything else is an error, as invalid JSON is);
    # an item that is not an object makes the whole result NULL.
    try:
        node = load_json(text)
    except ValueError:
        node = None
    if not isinstance(node, list):
        raise ValueError(f"Invalid JSON format:{text}")
    if not all(isinstance(item, dict) for item in node):
        return None
    return [dump_json(item) for item in node]


def _concat(*texts: str | None) -> str | None:
    nodes: list[Any] = []
    for text in texts:
        if text is None:
            return None
        try:
            nodes.append(load_json(text))
        except ValueError:
            return None
    if all(isinstance(n, dict) for n in nodes):
        merged: dict[str, Any] = {}
        for n in nodes:
            merged.update(n)
        return dump_json(merged)
    out: list[Any] = []
    for n in nodes:
        out.extend(n if isinstance(n, list) else [n])
    return dump_json(out)


def register(reg: FunctionRegistry) -> None:
    """Add the JSON functions to `reg`."""
    add = reg.register
    cat = "JSON"
    add(
        "EXTRACTJSONFIELD",
        [S, S],
        S,
        _extract,
        category=cat,
        description="The value at a JSONPath in JSON text, as text.",
    )
    for t in (S, INT, ty.BIGINT, ty.DOUBLE, BOOLEAN):
        add(
            "JSON_ARRAY_CONTAINS",
            [S, t],
            BOOLEAN,
            _array_contains,
            null_in_null_out=False,
            category=cat,
            description="Whether a JSON array contains a value.",
        )
    add(
        "IS_JSON_STRING",
        [S],
        BOOLEAN,
        _is_json,
        null_in_null_out=False,
        category=cat,
        description="Whether text is valid JSON.",
    )
    add(
        "JSON_ARRAY_LENGTH",
        [S],
        INT,
        _array_length,
        category=cat,
        description="The length of a JSON array.",
    )
    add(
        "JSON_KEYS",
        [S],
        ty.ArrayType(S),
        _keys,
        category=cat,
        description="The keys of a JSON object.",
    )
    add(
        "JSON_RECORDS",
        [S],
        ty.MapType(S, S),
        _records,
        category=cat,
        description="A JSON object's entries, values as JSON text.",
    )
    add(
        "JSON_ITEMS",
        [S],
        ty.ArrayType(S),
        _items,
        category=cat,
        description="The objects of a JSON array, each as JSON text.",
    )
    add(
        "JSON_CONCAT",
        [S],
        S,
        _concat,
        variadic=True,
        null_in_null_out=False,
        category=cat,
        description="Merges JSON objects or concatenates JSON arrays.",
    )
    add(
        "TO_JSON_STRING",
        [T],
        S,
        dump_json,
        null_in_null_out=False,
        category=cat,
        description="Any value as JSON text.",
    )
