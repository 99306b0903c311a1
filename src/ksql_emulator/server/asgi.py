"""The Starlette application: ksqlDB's routes over one `ServerState`."""

from __future__ import annotations

import logging

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ksql_emulator.server._errors import ERROR_CODE_SERVER_ERROR, ApiError, generic_error
from ksql_emulator.server._http import json_response
from ksql_emulator.server._state import ServerState
from ksql_emulator.server.routes.close_query import close_query
from ksql_emulator.server.routes.info import (
    cluster_status,
    command_status,
    command_statuses,
    healthcheck,
    info,
)
from ksql_emulator.server.routes.inserts_stream import InsertsStream
from ksql_emulator.server.routes.ksql import ksql
from ksql_emulator.server.routes.metrics import metrics
from ksql_emulator.server.routes.query import query
from ksql_emulator.server.routes.query_stream import query_stream

__all__ = ["create_app"]

log = logging.getLogger(__name__)


async def _api_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return json_response(exc.body, exc.status)


async def _unexpected(_request: Request, exc: Exception) -> Response:
    log.exception("request failed", exc_info=exc)
    return json_response(
        generic_error(ERROR_CODE_SERVER_ERROR, str(exc) or type(exc).__name__), 500
    )


def create_app(state: ServerState) -> Starlette:
    """ksqlDB's REST API over `state` (serve it with hypercorn for HTTP/1.1 and h2c)."""
    routes = [
        Route("/ksql", ksql, methods=["POST"]),
        Route("/query", query, methods=["POST"]),
        Route("/query-stream", query_stream, methods=["POST"]),
        Route("/inserts-stream", InsertsStream(), methods=["POST"]),
        Route("/close-query", close_query, methods=["POST"]),
        Route("/info", info, methods=["GET"]),
        Route("/healthcheck", healthcheck, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/clusterStatus", cluster_status, methods=["GET"]),
        Route("/status", command_statuses, methods=["GET"]),
        Route("/status/{type}/{entity}/{action}", command_status, methods=["GET"]),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={ApiError: _api_error, Exception: _unexpected},
    )
    app.state.ksql = state
    return app
