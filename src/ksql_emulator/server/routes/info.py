"""GET /info, /healthcheck, /clusterStatus and /status: the server's own state."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response

from ksql_emulator.server._errors import ERROR_CODE_NOT_FOUND, generic_error
from ksql_emulator.server._http import JSON, KSQL_V1_JSON, json_response, negotiate, state_of
from ksql_emulator.server._state import KSQL_VERSION

__all__ = ["cluster_status", "command_status", "command_statuses", "healthcheck", "info"]


async def info(request: Request) -> Response:
    state = state_of(request)
    body = {
        "KsqlServerInfo": {
            "version": KSQL_VERSION,
            "kafkaClusterId": state.config.kafka_cluster_id,
            "ksqlServiceId": state.config.service_id,
            "serverStatus": "RUNNING",
        }
    }
    return json_response(body, 200, negotiate(request, [KSQL_V1_JSON, JSON]))


async def healthcheck(request: Request) -> Response:
    healthy = {"isHealthy": True}
    body = {
        "isHealthy": True,
        "details": {"metastore": healthy, "kafka": healthy, "commandRunner": healthy},
    }
    return json_response(body, 200, negotiate(request, [KSQL_V1_JSON, JSON]))


async def cluster_status(request: Request) -> Response:
    state = state_of(request)
    now_ms = int(time.time() * 1000)
    host = f"{state.config.host}:{state.config.port}"
    body = {
        "clusterStatus": {
            host: {
                "hostAlive": True,
                "lastStatusUpdateMs": now_ms,
                "activeStandbyPerQuery": {},
                "hostStoreLags": {"stateStoreLags": {}, "updateTimeMs": now_ms},
            }
        }
    }
    return json_response(body, 200, negotiate(request, [KSQL_V1_JSON, JSON]))


async def command_statuses(request: Request) -> Response:
    state = state_of(request)
    body = {
        "commandStatuses": {
            command_id: status.get("status", "SUCCESS")
            for command_id, status in state.command_statuses.items()
        }
    }
    return json_response(body, 200, negotiate(request, [KSQL_V1_JSON, JSON]))


async def command_status(request: Request) -> Response:
    state = state_of(request)
    params = request.path_params
    command_id = f"{params['type']}/{params['entity']}/{params['action']}"
    media_type = negotiate(request, [KSQL_V1_JSON, JSON])
    status = state.command_statuses.get(command_id)
    if status is None:
        return json_response(
            generic_error(ERROR_CODE_NOT_FOUND, f"Command not found: {command_id}"),
            404,
            media_type,
        )
    body = {"status": status.get("status", "SUCCESS"), "message": status.get("message", "")}
    return json_response(body, 200, media_type)
