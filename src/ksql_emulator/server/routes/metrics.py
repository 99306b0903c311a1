"""GET /metrics: the emulator's per-query metrics in Prometheus's text format (ksqlDB has JMX)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ksql_emulator.metrics import CONTENT_TYPE, exposition

__all__ = ["metrics"]


async def metrics(_request: Request) -> Response:
    return Response(exposition(), 200, media_type=CONTENT_TYPE)
