"""A fake of ksqlDB's REST answers for unit tests of the runner (httpx.MockTransport).

It keeps just enough state to answer what the runner asks: the sources created, the rows
inserted into the metadata stream (read back LATEST_BY_OFFSET per key, as the metadata table
does), and every request, so tests can assert what was, or was not, sent.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from streamguard.ksqldb import KsqlClient

_CREATE = re.compile(r"^\s*CREATE\s+(?:OR\s+REPLACE\s+)?(STREAM|TABLE)\s+(\w+)", re.IGNORECASE)
_DROP = re.compile(r"^\s*DROP\s+(STREAM|TABLE)\s+(\w+)", re.IGNORECASE)
_DESCRIBE = re.compile(r"^\s*describe\s+(\w+)\s*;", re.IGNORECASE)
_PULL = re.compile(r"^SELECT (.+?) FROM (\w+) WHERE version_key (?:= '(\w+)'|IN \((.+)\));$")


@dataclass
class FakeKsqlDB:
    """ksqlDB as the runner sees it; `fail` maps a statement substring to an error message."""

    version: str = "0.29.0"
    service_id: str = "default_"
    sources: dict[str, str] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[str, Any]] = field(default_factory=list)
    fail: dict[str, str] = field(default_factory=dict)
    on_statement: Callable[[str], None] | None = None
    on_insert: Callable[[dict[str, Any]], None] | None = None
    # Pull queries still to come that see the table without its newest event, as ksqlDB's
    # table lags the stream it is built from.
    lagging_pulls: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def client(self) -> KsqlClient:
        return KsqlClient("http://ksqldb.test:8088", transport=httpx.MockTransport(self.handle))

    # -- what tests look at ---------------------------------------------------------------

    def statements(self) -> list[str]:
        """The `ksql` text of every /ksql request, in order."""
        return [body["ksql"] for path, body in self.requests if path == "/ksql"]

    def bodies(self, path: str) -> list[Any]:
        return [body for p, body in self.requests if p == path]

    def user_statements(self) -> list[str]:
        """Statements other than the runner's own DESCRIBE/LIST look-ups."""
        return [s for s in self.statements() if not re.match(r"(describe|list) ", s)]

    def table(self, *, lagging: bool = False) -> dict[str, dict[str, Any]]:
        """The metadata table: the latest row per VERSION_KEY (`lagging`: before the newest
        event)."""
        with self._lock:
            rows: dict[str, dict[str, Any]] = {}
            for event in self.events[:-1] if lagging else self.events:
                rows[event["VERSION_KEY"]] = event
            return rows

    def initialize(self) -> None:
        self.sources.update({"MIGRATION_EVENTS": "STREAM", "MIGRATION_SCHEMA_VERSIONS": "TABLE"})

    # -- the server -----------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/info":
            self.requests.append((path, None))
            return httpx.Response(
                200,
                json={
                    "KsqlServerInfo": {
                        "version": self.version,
                        "kafkaClusterId": "cluster",
                        "ksqlServiceId": self.service_id,
                        "serverStatus": "RUNNING",
                    }
                },
            )
        body_text = request.content.decode()
        if path == "/inserts-stream":
            lines = [json.loads(line) for line in body_text.splitlines() if line.strip()]
            self.requests.append((path, lines))
            return self._insert(lines[0]["target"], lines[1:])
        body = json.loads(body_text)
        self.requests.append((path, body))
        if path == "/ksql":
            return self._ksql(body["ksql"])
        if path == "/query-stream":
            return self._pull(body["sql"])
        return httpx.Response(404, json={"error_code": 40400, "message": "not found"})

    def _ksql(self, text: str) -> httpx.Response:
        if self.on_statement is not None:
            self.on_statement(text)
        for marker, message in self.fail.items():
            if marker in text:
                return _error(text, message)
        if match := _DESCRIBE.match(text):
            name = match.group(1).upper()
            if name not in self.sources:
                return _error(text, f"Could not find STREAM/TABLE '{name}' in the Metastore")
            return _ok(
                {
                    "@type": "sourceDescription",
                    "statementText": text,
                    "sourceDescription": {
                        "name": name,
                        "type": self.sources[name],
                        "writeQueries": [{"id": f"CTAS_{name}_1", "queryString": "..."}]
                        if self.sources[name] == "TABLE"
                        else [],
                    },
                    "warnings": [],
                }
            )
        if text.lower().startswith("list "):
            kind = "tables" if "tables" in text.lower() else "streams"
            wanted = kind[:-1].upper()
            sources = [
                {"type": wanted, "name": n, "topic": n.lower(), "isWindowed": False}
                for n, t in self.sources.items()
                if t == wanted
            ]
            return _ok({"@type": kind, "statementText": text, kind: sources, "warnings": []})
        if match := _CREATE.match(text):
            self.sources[match.group(2).upper()] = match.group(1).upper()
        elif match := _DROP.match(text):
            self.sources.pop(match.group(2).upper(), None)
        return _ok(
            {
                "@type": "currentStatus",
                "statementText": text,
                "commandId": "stream/X/create",
                "commandStatus": {"status": "SUCCESS", "message": "done", "queryId": None},
                "commandSequenceNumber": len(self.requests),
                "warnings": [],
            }
        )

    def _insert(self, target: str, rows: list[dict[str, Any]]) -> httpx.Response:
        if target.upper() not in self.sources:
            return httpx.Response(
                400,
                json={"@type": "generic_error", "error_code": 40000, "message": "no such stream"},
            )
        acks = []
        for seq, row in enumerate(rows):
            with self._lock:
                self.events.append(row)
            acks.append(json.dumps({"status": "ok", "seq": seq}))
            if self.on_insert is not None:
                self.on_insert(row)
        return httpx.Response(200, text="\n".join(acks) + "\n")

    def _pull(self, sql: str) -> httpx.Response:
        match = _PULL.match(sql)
        if match is None or match.group(2).upper() not in self.sources:
            return _error(sql, f"unexpected pull query: {sql}")
        columns = [c.strip().upper() for c in match.group(1).split(",")]
        keys = [match.group(3)] if match.group(3) else re.findall(r"'(\w+)'", match.group(4))
        table = self.table(lagging=self.lagging_pulls > 0)
        self.lagging_pulls = max(0, self.lagging_pulls - 1)
        lines = [json.dumps({"queryId": "pull1", "columnNames": columns, "columnTypes": []})]
        for key in keys:
            if key in table:
                lines.append(json.dumps([table[key].get(c) for c in columns]))
        return httpx.Response(200, text="\n".join(lines) + "\n")


def _ok(entity: dict[str, Any]) -> httpx.Response:
    return httpx.Response(200, json=[entity])


def _error(text: str, message: str) -> httpx.Response:
    return httpx.Response(
        400,
        json={
            "@type": "statement_error",
            "error_code": 40001,
            "message": message,
            "statementText": text,
            "entities": [],
        },
    )
