"""The SQL page's work: tell a query from a statement, run either through ksqlDB's REST API, and
shape the answer as tables a page shows."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from streamguard.ksqldb import CurrentStatus, Entity, KsqlClient

_COMMENT = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)
_PUSH = re.compile(r"\bEMIT\s+CHANGES\b", re.IGNORECASE)


class SqlInputError(ValueError):
    """The text cannot be run as given; the message says why."""


def _statements(bare: str) -> list[str]:
    """The text's statements, split at the semicolons outside quotes and backticks."""
    parts: list[str] = []
    start, quote = 0, ""
    for i, ch in enumerate(bare):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'`\"":
            quote = ch
        elif ch == ";":
            parts.append(bare[start:i])
            start = i + 1
    parts.append(bare[start:])
    return [p.strip() for p in parts if p.strip()]


def kind_of(text: str) -> str:
    """'push', 'pull' or 'statement': how the text must go to ksqlDB."""
    bare = _COMMENT.sub(" ", text).strip()
    if not bare:
        raise SqlInputError("there is no statement to run: type one, e.g. SHOW STREAMS;")
    statements = _statements(bare)
    queries = [s for s in statements if s.split(None, 1)[0].upper() == "SELECT"]
    if queries and len(statements) > 1:
        if len(queries) > 1:
            raise SqlInputError("run one query at a time: the text holds more than one")
        # ksqlDB answers queries and statements at different endpoints.
        raise SqlInputError("run a query on its own: the text holds statements and a SELECT")
    if queries:
        return "push" if _PUSH.search(bare) else "pull"
    return "statement"


@dataclass
class ResultTable:
    """One table of an answer: a title, column names and rows of display strings."""

    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    message: str = ""


def cell(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)
    return str(value)


def run_pull(client: KsqlClient, text: str, *, limit: int = 1000) -> ResultTable:
    """A pull query's rows (at most `limit`); KsqlError when the server refuses it."""
    with client.stream_query(text, properties={"auto.offset.reset": "earliest"}) as result:
        table = ResultTable(
            f"pull query {result.query_id or ''}".strip(), list(result.column_names)
        )
        for row in result:
            if len(table.rows) >= limit:
                table.message = f"showing the first {limit} rows"
                break
            table.rows.append([cell(v) for v in row])
    if not table.message:
        table.message = f"{len(table.rows)} row(s)"
    return table


# Entity fields shown as tables: the list field of each SHOW/LIST answer.
_LISTS = ("streams", "tables", "queries", "topics", "properties")


def _entity_tables(entity: Entity) -> list[ResultTable]:
    data = entity.model_dump(by_alias=True)
    kind = data.get("@type", "answer")
    if isinstance(entity, CurrentStatus):
        status = entity.command_status
        return [ResultTable(kind, [], [], f"{status.status}: {status.message}".strip(": "))]
    for name in _LISTS:
        items = data.get(name)
        if isinstance(items, list):
            columns: list[str] = []
            for item in items:
                columns.extend(k for k in item if k not in columns)
            rows = [[cell(item.get(c)) for c in columns] for item in items]
            return [ResultTable(kind, columns, rows, f"{len(rows)} {name}")]
    shown = {k: v for k, v in data.items() if k not in ("statementText", "warnings")}
    return [ResultTable(kind, [], [], json.dumps(shown, indent=2, default=str))]


def run_statements(client: KsqlClient, text: str, *, reset: str = "earliest") -> list[ResultTable]:
    """Statements through /ksql: one table per entity; KsqlError when the server refuses one.
    `reset`: where the queries they start begin reading (auto.offset.reset)."""
    tables: list[ResultTable] = []
    for entity in client.execute(text, streams_properties={"auto.offset.reset": reset}):
        tables.extend(_entity_tables(entity))
        for warning in entity.warnings:
            tables.append(ResultTable("warning", [], [], warning.message))
    if not tables:  # INSERT INTO ... VALUES, for one, answers with nothing
        tables.append(
            ResultTable("done", [], [], "ksqlDB ran it and answered with nothing to show")
        )
    return tables
