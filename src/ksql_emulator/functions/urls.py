"""ksqlDB's URL built-ins: URL_EXTRACT_*, URL_ENCODE_PARAM, URL_DECODE_PARAM (url.json)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, quote_plus, unquote_plus, urlsplit

from ksql_emulator import sql_types as ty
from ksql_emulator.functions.registry import FunctionRegistry

__all__ = ["register"]

S, INT = ty.STRING, ty.INTEGER


def _url_part(part: str) -> Any:
    def extract(url: str) -> Any:
        parsed = urlsplit(url)
        if part == "host":
            return parsed.hostname
        if part == "port":
            return parsed.port
        if part == "path":
            return parsed.path
        if part == "query":
            return parsed.query or None
        if part == "fragment":
            return parsed.fragment or None
        return parsed.scheme or None

    return extract


def _url_param(url: str, name: str) -> str | None:
    values = parse_qs(urlsplit(url).query, keep_blank_values=True).get(name)
    return values[0] if values else None


def register(reg: FunctionRegistry) -> None:
    """Add the URL functions to `reg`."""
    add = reg.register
    for part in ("host", "path", "query", "fragment", "protocol"):
        add(
            f"URL_EXTRACT_{part.upper()}",
            [S],
            S,
            _url_part(part),
            category="URL",
            description=f"The {part} of a URL.",
        )
    add(
        "URL_EXTRACT_PORT",
        [S],
        INT,
        _url_part("port"),
        category="URL",
        description="The port of a URL.",
    )
    add(
        "URL_EXTRACT_PARAMETER",
        [S, S],
        S,
        _url_param,
        category="URL",
        description="The first value of a query parameter.",
    )
    add(
        "URL_ENCODE_PARAM",
        [S],
        S,
        quote_plus,
        category="URL",
        description="URL-encodes a query parameter value.",
    )
    add(
        "URL_DECODE_PARAM",
        [S],
        S,
        unquote_plus,
        category="URL",
        description="URL-decodes a query parameter value.",
    )
