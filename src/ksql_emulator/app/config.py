"""ksqlDB server properties: ksql-server.properties files, -D overrides, listener URLs."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import javaproperties

__all__ = ["ConfigError", "parse_define", "parse_listener", "read_properties"]


class ConfigError(ValueError):
    """Raised when a property file, a -D flag or a listener is malformed; names which."""


def read_properties(path: Path) -> dict[str, str]:
    """A Java .properties file, read as Java's `Properties.load` reads it (ISO-8859-1; `=`, `:`
    or a space after the key; `#`/`!` comments; `\\` continuations and `\\uXXXX` escapes)."""
    try:
        text = path.read_bytes().decode("iso-8859-1")
    except OSError as exc:
        raise ConfigError(f"cannot read the config file {path}: {exc.strerror}") from None
    try:
        return dict(javaproperties.loads(text))
    except javaproperties.InvalidUEscapeError as exc:
        raise ConfigError(f"the config file {path}: {exc}") from None


def parse_define(text: str) -> tuple[str, str]:
    """`key=value` from a -D flag."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"-D expects key=value, got {text!r}")
    return key.strip(), value.strip()


def parse_listener(url: str) -> tuple[str, int]:
    """Host and port of an `http://host:port` listener (ksqlDB's `listeners`; first one)."""
    first = url.split(",")[0].strip()
    parts = urlsplit(first)
    if parts.scheme != "http":
        raise ConfigError(
            f"listener {first!r}: only plain http:// listeners are supported (HTTP/1.1 and h2c)"
        )
    if parts.hostname is None:
        raise ConfigError(f"listener {first!r} has no host")
    try:
        port = parts.port or 8088
    except ValueError:
        raise ConfigError(f"listener {first!r} has an invalid port") from None
    host = "0.0.0.0" if parts.hostname in ("0.0.0.0", "") else parts.hostname
    return host, port
