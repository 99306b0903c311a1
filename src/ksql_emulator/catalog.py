"""The metastore: streams, tables, their columns, formats and topics; custom types."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Catalog", "Column", "Source", "Topic"]


@dataclass(frozen=True)
class Column:
    name: str
    type: Any  # SqlType
    namespace: str = "VALUE"  # KEY, VALUE, HEADERS, HEADER
    header_key: str | None = None


@dataclass
class Topic:
    name: str
    partitions: int = 1
    replicas: int = 1


@dataclass
class Source:
    kind: str  # STREAM, TABLE
    name: str
    columns: list[Column]
    topic: str
    key_format: str = "KAFKA"
    value_format: str = "JSON"
    key_props: dict[str, str] = field(default_factory=dict)
    value_props: dict[str, str] = field(default_factory=dict)
    wrap_single_value: bool | None = None
    wrap_single_value_in_with: bool = False  # set by the statement's WITH clause
    timestamp_column: str | None = None
    timestamp_format: str | None = None
    window_type: str | None = None
    window_size_ms: int | None = None
    is_source: bool = False
    sql: str = ""
    partitions: int = 1

    @property
    def key_columns(self) -> list[Column]:
        return [c for c in self.columns if c.namespace == "KEY"]

    @property
    def value_columns(self) -> list[Column]:
        return [c for c in self.columns if c.namespace == "VALUE"]

    @property
    def header_columns(self) -> list[Column]:
        return [c for c in self.columns if c.namespace in ("HEADERS", "HEADER")]

    def column(self, name: str) -> Column | None:
        for c in self.columns:
            if c.name == name:
                return c
        return None

    def describe_schema(self) -> str:
        """ksqlDB's one-line schema text, as QTT's `post.sources[].schema` spells it."""
        parts = []
        for c in self.columns:
            suffix = ""
            if c.namespace == "KEY":
                suffix = " PRIMARY KEY" if self.kind == "TABLE" else " KEY"
            elif c.namespace == "HEADERS":
                suffix = " HEADERS"
            elif c.namespace == "HEADER":
                suffix = f" HEADER('{c.header_key}')"
            parts.append(f"`{c.name}` {c.type}{suffix}")
        return ", ".join(parts)


@dataclass
class Catalog:
    sources: dict[str, Source] = field(default_factory=dict)
    topics: dict[str, Topic] = field(default_factory=dict)
    types: dict[str, Any] = field(default_factory=dict)

    def copy(self) -> Catalog:
        """A sandbox copy, to validate statements before they change anything."""
        return copy.deepcopy(self)

    def source(self, name: str) -> Source | None:
        return self.sources.get(name)

    def ensure_topic(self, name: str, partitions: int | None = None) -> Topic:
        topic = self.topics.get(name)
        if topic is None:
            topic = self.topics[name] = Topic(name, partitions or 1)
        return topic
