"""The ksqlDB REST client: statements, push and pull queries, inserts, server info."""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from types import TracebackType
from typing import Any

import httpx

from streamguard.ksqldb._errors import (
    KsqlConnectionError,
    KsqlError,
    KsqlResponseError,
    KsqlStatementError,
)
from streamguard.ksqldb._models import (
    Entity,
    HealthCheck,
    InsertAck,
    QueryHeader,
    ServerInfo,
    parse_entity,
)

KSQL_MEDIA_TYPE = "application/vnd.ksql.v1+json"
DELIMITED_MEDIA_TYPE = "application/vnd.ksqlapi.delimited.v1"
# A statement answers within minutes at worst; a push query may stay quiet for ever.
DEFAULT_TIMEOUT = httpx.Timeout(30.0, read=300.0)
STREAM_TIMEOUT = httpx.Timeout(30.0, read=None)


def _http2_available() -> bool:
    try:
        import h2  # noqa: F401
    except ImportError:
        return False
    return True


@contextmanager
def _translated(url: str) -> Iterator[None]:
    """The one place httpx's errors become the client's own."""
    try:
        yield
    except httpx.TimeoutException as exc:
        raise KsqlConnectionError(
            f"ksqlDB at {url} did not answer in time ({type(exc).__name__}); "
            "check that the server is up and not overloaded.",
            url=url,
        ) from exc
    except httpx.TransportError as exc:
        raise KsqlConnectionError(
            f"cannot reach ksqlDB at {url}: {exc or type(exc).__name__}; "
            "check the address (KSQLDB_URL or ksql.server.url) and that the server is running.",
            url=url,
        ) from exc
    except httpx.HTTPError as exc:  # anything else httpx raises, e.g. a malformed URL
        raise KsqlConnectionError(f"request to ksqlDB at {url} failed: {exc}", url=url) from exc


def _error_from(response: httpx.Response, body: str) -> KsqlError:
    """ksqlDB's error body (`@type`, `error_code`, `message`, ...) as an exception."""
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if isinstance(data, dict) and "message" in data:
        return KsqlStatementError(
            int(data.get("error_code") or response.status_code * 100),
            str(data["message"]),
            data.get("statementText"),
            status_code=response.status_code,
            entities=list(data.get("entities") or []),
        )
    return KsqlResponseError(
        f"{response.request.method} {response.request.url.path} answered HTTP "
        f"{response.status_code} without ksqlDB's error body: {body[:200]!r}",
        status_code=response.status_code,
        body=body,
    )


class QueryStream:
    """A running `/query-stream` query: its header, then its rows as they arrive.

    Iterate to get rows (lists, in `column_names` order; decimals as `Decimal`). Close it (or
    use it as a context manager) to stop a push query; `KsqlClient.close_query` also works.
    """

    def __init__(self, response: httpx.Response, lines: Iterator[str], url: str) -> None:
        self._response = response
        self._lines = lines
        self._url = url
        first = self._next_json()
        if first is None:
            raise KsqlResponseError("/query-stream ended before sending its header line")
        if isinstance(first, dict) and "columnNames" not in first:
            raise _stream_error(first)
        self.header = QueryHeader.model_validate(first)

    @property
    def query_id(self) -> str | None:
        return self.header.query_id

    @property
    def column_names(self) -> list[str]:
        return self.header.column_names

    @property
    def column_types(self) -> list[str]:
        return self.header.column_types

    def _next_json(self) -> Any:
        with _translated(self._url):
            for line in self._lines:
                if line.strip():
                    try:
                        return json.loads(line, parse_float=Decimal)
                    except ValueError:
                        raise KsqlResponseError(
                            f"/query-stream sent a line that is not JSON: {line[:200]!r}"
                        ) from None
        return None

    def __iter__(self) -> Iterator[list[Any]]:
        return self

    def __next__(self) -> list[Any]:
        item = self._next_json()
        if item is None:
            self.close()
            raise StopIteration
        if isinstance(item, dict):
            self.close()
            raise _stream_error(item)
        if not isinstance(item, list):
            raise KsqlResponseError(f"/query-stream sent an unexpected row: {item!r}")
        return item

    def rows_as_dicts(self) -> list[dict[str, Any]]:
        """The remaining rows, each as `{column name: value}` (for pull queries and LIMITs)."""
        return [dict(zip(self.column_names, row, strict=False)) for row in self]

    def close(self) -> None:
        self._response.close()

    def __enter__(self) -> QueryStream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _stream_error(item: dict[str, Any]) -> KsqlError:
    if "message" in item:
        return KsqlStatementError(
            int(item.get("error_code") or 50000),
            str(item["message"]),
            item.get("statementText"),
        )
    return KsqlResponseError(f"/query-stream sent an unexpected object: {item!r}")


class KsqlClient:
    """A typed client of ksqlDB's REST API (or the emulator's, which cannot be told apart).

    `/query-stream` and `/inserts-stream` go over HTTP/2 (cleartext with prior knowledge, as
    ksqlDB's own clients do) when the `h2` package is present; the rest over HTTP/1.1.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: httpx.Timeout | float | None = None,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
        http2: bool | None = None,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self.url = url.rstrip("/")
        use_http2 = _http2_available() if http2 is None else http2
        common: dict[str, Any] = {
            "base_url": self.url,
            "headers": {"Content-Type": KSQL_MEDIA_TYPE, **(headers or {})},
            "auth": auth,
            "verify": verify,
        }
        if transport is not None:
            common["transport"] = transport
        with _translated(self.url):
            self._http = httpx.Client(timeout=timeout or DEFAULT_TIMEOUT, **common)
            self._stream_http = httpx.Client(
                timeout=timeout or STREAM_TIMEOUT,
                http1=not use_http2,
                http2=use_http2,
                **common,
            )

    # -- statements -----------------------------------------------------------------------

    def execute(
        self,
        statements: str,
        *,
        streams_properties: Mapping[str, Any] | None = None,
        session_variables: Mapping[str, Any] | None = None,
        command_sequence_number: int | None = None,
    ) -> list[Entity]:
        """Run statements through `POST /ksql`; one typed entity per statement.

        Raises `KsqlStatementError` (with ksqlDB's `error_code`, message and statement) when
        the server refuses one.
        """
        body: dict[str, Any] = {
            "ksql": statements,
            "streamsProperties": dict(streams_properties or {}),
        }
        if session_variables is not None:
            body["sessionVariables"] = dict(session_variables)
        if command_sequence_number is not None:
            body["commandSequenceNumber"] = command_sequence_number
        data = self._request_json("POST", "/ksql", json_body=body)
        if not isinstance(data, list):
            raise KsqlResponseError(f"/ksql answered {type(data).__name__}, not a JSON array")
        return [parse_entity(item) for item in data]

    # -- queries --------------------------------------------------------------------------

    def stream_query(
        self,
        sql: str,
        *,
        properties: Mapping[str, Any] | None = None,
        session_variables: Mapping[str, Any] | None = None,
    ) -> QueryStream:
        """Start a push or pull query on `POST /query-stream`; iterate the result for rows."""
        body: dict[str, Any] = {"sql": sql, "properties": dict(properties or {})}
        if session_variables is not None:
            body["sessionVariables"] = dict(session_variables)
        request = self._stream_http.build_request(
            "POST",
            "/query-stream",
            content=json.dumps(body).encode(),
            headers={"Accept": DELIMITED_MEDIA_TYPE},
        )
        with _translated(self.url):
            response = self._stream_http.send(request, stream=True)
            if response.status_code != 200:
                text = response.read().decode(errors="replace")
                response.close()
                raise _error_from(response, text)
        return QueryStream(response, response.iter_lines(), self.url)

    def pull_query(
        self, sql: str, *, properties: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """A pull query's rows, each as `{column name: value}`."""
        with self.stream_query(sql, properties=properties) as result:
            return result.rows_as_dicts()

    def close_query(self, query_id: str) -> None:
        """Stop a push query by its id (`POST /close-query`), from any connection."""
        self._request_json("POST", "/close-query", json_body={"queryId": query_id}, empty_ok=True)

    # -- inserts --------------------------------------------------------------------------

    def insert_into(self, target: str, rows: Iterable[Mapping[str, Any]]) -> list[InsertAck]:
        """Insert rows into a stream through `POST /inserts-stream`; one ack per row.

        Raises `KsqlStatementError` naming the row's position when the server rejects a row.
        """
        lines = [json.dumps({"target": target})]
        lines.extend(json.dumps(dict(row), default=_json_default) for row in rows)
        content = ("\n".join(lines) + "\n").encode()
        with _translated(self.url):
            response = self._stream_http.post("/inserts-stream", content=content)
        text = response.text
        if response.status_code != 200:
            raise _error_from(response, text)
        acks: list[InsertAck] = []
        for line in text.splitlines():
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except ValueError:
                raise KsqlResponseError(
                    f"/inserts-stream sent a line that is not JSON: {line[:200]!r}"
                ) from None
            if item.get("status") != "ok":
                raise KsqlStatementError(
                    int(item.get("error_code") or 50000),
                    f"insert into {target} rejected row {item.get('seq', len(acks))}: "
                    f"{item.get('message', item)}",
                )
            acks.append(InsertAck.model_validate(item))
        return acks

    # -- server ---------------------------------------------------------------------------

    def info(self) -> ServerInfo:
        """`GET /info`: the server's version, Kafka cluster and service id."""
        data = self._request_json("GET", "/info")
        if not isinstance(data, dict) or "KsqlServerInfo" not in data:
            raise KsqlResponseError(f"/info answered without KsqlServerInfo: {data!r}")
        return ServerInfo.model_validate(data["KsqlServerInfo"])

    def healthcheck(self) -> HealthCheck:
        """`GET /healthcheck`: whether the server and its parts are healthy."""
        return HealthCheck.model_validate(self._request_json("GET", "/healthcheck"))

    # -- plumbing -------------------------------------------------------------------------

    def _request_json(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        empty_ok: bool = False,
    ) -> Any:
        content = json.dumps(json_body).encode() if json_body is not None else None
        with _translated(self.url):
            response = self._http.request(
                method, path, content=content, headers={"Accept": KSQL_MEDIA_TYPE}
            )
        text = response.text
        if response.status_code != 200:
            raise _error_from(response, text)
        if empty_ok and not text.strip():
            return None
        try:
            return json.loads(text)
        except ValueError:
            raise KsqlResponseError(
                f"{method} {path} answered with a body that is not JSON: {text[:200]!r}",
                status_code=response.status_code,
                body=text,
            ) from None

    def close(self) -> None:
        self._http.close()
        self._stream_http.close()

    def __enter__(self) -> KsqlClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"cannot send {type(value).__name__} to ksqlDB as JSON")
