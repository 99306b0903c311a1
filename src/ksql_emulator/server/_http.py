"""Request and response helpers shared by the routes: JSON bodies, content negotiation."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from ksql_emulator.server._errors import ERROR_CODE_BAD_REQUEST, ApiError, generic_error
from ksql_emulator.server._json import dumps
from ksql_emulator.server._state import ServerState

__all__ = [
    "DELIMITED",
    "JSON",
    "KSQL_V1_JSON",
    "ClosingStreamingResponse",
    "json_response",
    "mapping_field",
    "negotiate",
    "read_json_object",
    "state_of",
]

KSQL_V1_JSON = "application/vnd.ksql.v1+json"
DELIMITED = "application/vnd.ksqlapi.delimited.v1"
JSON = "application/json"


def state_of(request: Request) -> ServerState:
    state: ServerState = request.app.state.ksql
    return state


def negotiate(request: Request, produces: Sequence[str]) -> str:
    """The first of `produces` the request's Accept header allows (the first if no Accept)."""
    accept = request.headers.get("accept", "")
    if not accept.strip():
        return produces[0]
    ranges = []
    for part in accept.split(","):
        media, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        ranges.append((media.strip().lower(), quality))
    best: tuple[float, int, str] | None = None
    for index, offered in enumerate(produces):
        for media, quality in ranges:
            if quality <= 0:
                continue
            main, _, _sub = offered.partition("/")
            if media in (offered, "*/*", f"{main}/*"):
                candidate = (-quality, index, offered)
                if best is None or candidate < best:
                    best = candidate
    return best[2] if best is not None else produces[0]


async def read_json_object(request: Request) -> dict[str, Any]:
    """The request's body as a JSON object, or ksqlDB's 400 naming what is wrong."""
    raw = await request.body()
    try:
        data = json.loads(raw or b"null")
    except ValueError as exc:
        raise ApiError(
            400, generic_error(ERROR_CODE_BAD_REQUEST, f"Invalid JSON in request: {exc}")
        ) from None
    if not isinstance(data, dict):
        raise ApiError(
            400, generic_error(ERROR_CODE_BAD_REQUEST, "Invalid JSON in request: not an object")
        )
    return data


def mapping_field(body: dict[str, Any], name: str) -> dict[str, Any]:
    """`body[name]` as a JSON object ({} when absent), or ksqlDB's 400 naming the field."""
    value = body.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ApiError(
            400,
            generic_error(ERROR_CODE_BAD_REQUEST, f"Invalid '{name}': expected a JSON object"),
        )
    return value


def json_response(body: Any, status: int = 200, media_type: str = JSON) -> Response:
    return Response(dumps(body), status_code=status, media_type=media_type)


class ClosingStreamingResponse(StreamingResponse):
    """A streaming response that closes its generator however the response ends.

    When the client leaves while a chunk is being sent (its window or socket full: rows were
    flowing), Starlette cancels the send and leaves the generator suspended at its `yield`; its
    `finally` (which stops the push query) would then run only when the garbage collector finds
    it, seconds later or never. Closing it here runs that `finally` at once.
    """

    def __init__(self, content: AsyncGenerator[str, None], media_type: str) -> None:
        super().__init__(content, media_type=media_type)
        self._generator = content

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self._generator.aclose()
