"""POST /close-query: stops a push query by id, whichever connection asks."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ksql_emulator.server._errors import ERROR_CODE_BAD_REQUEST, ApiError, generic_error
from ksql_emulator.server._http import read_json_object, state_of

__all__ = ["close_query"]


async def close_query(request: Request) -> Response:
    state = state_of(request)
    body = await read_json_object(request)
    query_id = body.get("queryId")
    if not isinstance(query_id, str):
        raise ApiError(
            400, generic_error(ERROR_CODE_BAD_REQUEST, "No queryId in request to close a query")
        )
    running = state.push_queries.get(query_id)
    if running is None:
        raise ApiError(400, generic_error(ERROR_CODE_BAD_REQUEST, f"No query with id {query_id}"))
    # Ending the channel ends that query's response, which stops and releases the query.
    running.channel.finish()
    running.channel.close()
    return Response(b"", status_code=200)
