"""POST /ksql: statements in, one entity per statement out (errors as `statement_error`)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ksql_emulator.contracts.backend import Entity, StatementResult
from ksql_emulator.server._errors import (
    ERROR_CODE_BAD_REQUEST,
    ApiError,
    generic_error,
    statement_error_from,
)
from ksql_emulator.server._http import (
    JSON,
    KSQL_V1_JSON,
    json_response,
    mapping_field,
    negotiate,
    read_json_object,
    state_of,
)

__all__ = ["ksql"]


async def ksql(request: Request) -> Response:
    media_type = negotiate(request, [KSQL_V1_JSON, JSON])
    state = state_of(request)
    body = await read_json_object(request)
    text = body.get("ksql")
    if not isinstance(text, str):
        raise ApiError(
            400, generic_error(ERROR_CODE_BAD_REQUEST, "Request is missing the 'ksql' statements")
        )
    properties = mapping_field(body, "streamsProperties")
    variables = mapping_field(body, "sessionVariables")

    def run() -> list[Entity]:
        try:
            results = state.backend.execute_statements(text, properties, variables)
        finally:
            # Even a failed batch may have started queries before the failing statement.
            state.reconcile()
        return [_entity_of(result) for result in results if result.entity is not None]

    def _entity_of(result: StatementResult) -> Entity:
        entity = dict(result.entity or {})
        if result.command is not None:
            status = entity.get("commandStatus") or {"status": "SUCCESS", "message": ""}
            sequence = state.record_command(result.command, status)
            if entity.get("@type") == "currentStatus":
                entity["commandSequenceNumber"] = sequence
        entity.setdefault("warnings", [])
        return entity

    try:
        entities = await state.call(run)
    except Exception as exc:
        status, error = statement_error_from(exc, text)
        return json_response(error, status, media_type)
    return json_response(entities, 200, media_type)
