"""POST /query-stream: a header line, then one JSON array per row (delimited or JSON array)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ksql_emulator.contracts.backend import PullQueryResult, QueryHeader
from ksql_emulator.server._errors import (
    ERROR_CODE_BAD_REQUEST,
    ERROR_CODE_SERVER_ERROR,
    ApiError,
    generic_error,
    statement_error_from,
)
from ksql_emulator.server._http import (
    DELIMITED,
    JSON,
    ClosingStreamingResponse,
    json_response,
    mapping_field,
    negotiate,
    read_json_object,
    state_of,
)
from ksql_emulator.server._json import dumps
from ksql_emulator.server._queries import push_rows, start_query, stop_push
from ksql_emulator.server._state import RunningPush, ServerState

__all__ = ["query_stream"]


def _metadata(header: QueryHeader) -> dict[str, Any]:
    return {
        "queryId": header.query_id,
        "columnNames": list(header.column_names),
        "columnTypes": list(header.column_types),
    }


class _Writer:
    """ksqlDB's two framings: newline-delimited (default) or one JSON array."""

    def __init__(self, as_array: bool) -> None:
        self.as_array = as_array

    def first(self, item: Any) -> str:
        return ("[" if self.as_array else "") + dumps(item) + ("" if self.as_array else "\n")

    def next(self, item: Any) -> str:
        return ("," + dumps(item)) if self.as_array else dumps(item) + "\n"

    def end(self) -> str:
        return "]" if self.as_array else ""


async def query_stream(request: Request) -> Response:
    media_type = negotiate(request, [DELIMITED, JSON])
    state = state_of(request)
    body = await read_json_object(request)
    sql = body.get("sql")
    if not isinstance(sql, str):
        raise ApiError(
            400, generic_error(ERROR_CODE_BAD_REQUEST, "Request is missing the 'sql' query")
        )
    properties = mapping_field(body, "properties")
    variables = mapping_field(body, "sessionVariables")
    try:
        started = await start_query(state, sql, properties, variables)
    except Exception as exc:
        status, error = statement_error_from(exc, sql)
        return json_response(error, status, JSON)
    writer = _Writer(media_type == JSON)
    if isinstance(started, PullQueryResult):
        return ClosingStreamingResponse(_pull_lines(writer, started), media_type=media_type)
    return ClosingStreamingResponse(_push_lines(state, writer, started), media_type=media_type)


async def _pull_lines(writer: _Writer, result: PullQueryResult) -> AsyncGenerator[str, None]:
    yield writer.first(_metadata(result.header))
    for row in result.rows:
        yield writer.next(list(row.values))
    tail = writer.end()
    if tail:
        yield tail


async def _push_lines(
    state: ServerState, writer: _Writer, running: RunningPush
) -> AsyncGenerator[str, None]:
    try:
        yield writer.first(_metadata(running.query.header))
        try:
            async for rows in push_rows(state, running):
                for row in rows:
                    yield writer.next(list(row.values))
        except Exception as exc:
            yield writer.next(generic_error(ERROR_CODE_SERVER_ERROR, str(exc)))
        tail = writer.end()
        if tail:
            yield tail
    finally:
        stop_push(state, running)
