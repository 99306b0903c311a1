"""POST /query, the older endpoint: one JSON array of header, row and final-message objects."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ksql_emulator.contracts.backend import PullQueryResult, QueryHeader, Row
from ksql_emulator.server._errors import (
    ERROR_CODE_BAD_REQUEST,
    ERROR_CODE_SERVER_ERROR,
    ApiError,
    generic_error,
    statement_error_from,
)
from ksql_emulator.server._http import (
    JSON,
    KSQL_V1_JSON,
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

__all__ = ["query"]

LIMIT_REACHED = "Limit Reached"
QUERY_COMPLETED = "Query Completed"


def _header(header: QueryHeader) -> dict[str, Any]:
    return {"header": {"queryId": header.query_id, "schema": header.schema}}


def _row(row: Row) -> dict[str, Any]:
    item: dict[str, Any] = {"columns": list(row.values)}
    if row.tombstone:
        item["tombstone"] = True
    return {"row": item}


async def query(request: Request) -> Response:
    media_type = negotiate(request, [KSQL_V1_JSON, JSON])
    state = state_of(request)
    body = await read_json_object(request)
    sql = body.get("ksql")
    if not isinstance(sql, str):
        raise ApiError(
            400, generic_error(ERROR_CODE_BAD_REQUEST, "Request is missing the 'ksql' query")
        )
    properties = mapping_field(body, "streamsProperties")
    variables = mapping_field(body, "sessionVariables")
    try:
        started = await start_query(state, sql, properties, variables)
    except Exception as exc:
        status, error = statement_error_from(exc, sql)
        return json_response(error, status, media_type)
    if isinstance(started, PullQueryResult):
        return ClosingStreamingResponse(_pull_chunks(started), media_type=media_type)
    return ClosingStreamingResponse(_push_chunks(state, started), media_type=media_type)


async def _pull_chunks(result: PullQueryResult) -> AsyncGenerator[str, None]:
    yield "[" + dumps(_header(result.header))
    for row in result.rows:
        yield ",\n" + dumps(_row(row))
    if result.source_kind == "STREAM":
        final = LIMIT_REACHED if result.limit_reached else QUERY_COMPLETED
        yield ",\n" + dumps({"finalMessage": final})
    yield "]"


async def _push_chunks(state: ServerState, running: RunningPush) -> AsyncGenerator[str, None]:
    limit = running.query.limit
    sent = 0
    try:
        yield "[" + dumps(_header(running.query.header))
        try:
            async for rows in push_rows(state, running, state.config.keepalive_s):
                if not rows:
                    yield "\n"  # keep-alive: whitespace keeps the body valid JSON
                    continue
                sent += len(rows)
                yield "".join(",\n" + dumps(_row(row)) for row in rows)
        except Exception as exc:
            error = generic_error(ERROR_CODE_SERVER_ERROR, str(exc))
            yield ",\n" + dumps({"errorMessage": error})
        if limit is not None and sent >= limit:
            yield ",\n" + dumps({"finalMessage": LIMIT_REACHED})
        yield "]"
    finally:
        stop_push(state, running)
