"""POST /inserts-stream (HTTP/2): a target line, then rows; one ack line per row as it lands."""

from __future__ import annotations

import json
from typing import Any

from starlette.types import Receive, Scope, Send

from ksql_emulator.errors import KsqlError
from ksql_emulator.server._errors import (
    ERROR_CODE_BAD_REQUEST,
    ERROR_CODE_BAD_STATEMENT,
    ERROR_CODE_HTTP2_ONLY,
    generic_error,
)
from ksql_emulator.server._http import DELIMITED, JSON
from ksql_emulator.server._json import dumps
from ksql_emulator.server._state import ServerState

__all__ = ["InsertsStream"]


class InsertsStream:
    """An ASGI endpoint, not a Starlette handler: the acks go out while the body still streams
    in, and nothing may read the request body behind our back."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state: ServerState = scope["app"].state.ksql
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        as_array = "application/json" in headers.get("accept", "") and (
            DELIMITED not in headers.get("accept", "")
        )
        media_type = JSON if as_array else DELIMITED
        if scope.get("http_version") != "2":
            await _send_whole(
                send,
                405,
                generic_error(
                    ERROR_CODE_HTTP2_ONLY, "This endpoint is only available when using HTTP2"
                ),
            )
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", media_type.encode())],
            }
        )
        first = True

        async def write(item: dict[str, Any]) -> None:
            nonlocal first
            text = _frame(item, as_array=as_array, first=first)
            first = False
            await send({"type": "http.response.body", "body": text.encode(), "more_body": True})

        target: str | None = None
        seq = 0
        buffer = b""
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            buffer += message.get("body", b"")
            more = bool(message.get("more_body", False))
            *lines, buffer = buffer.split(b"\n")
            if not more and buffer.strip():
                lines.append(buffer)
                buffer = b""
            for line in lines:
                if not line.strip():
                    continue
                error = await _handle_line(state, line, target, seq)
                if isinstance(error, str):
                    target = error
                    continue
                if error is not None:
                    await write(error)
                    await send({"type": "http.response.body", "body": _tail(as_array, first)})
                    return
                await write({"status": "ok", "seq": seq})
                seq += 1
        await send({"type": "http.response.body", "body": _tail(as_array, first)})


async def _handle_line(
    state: ServerState, line: bytes, target: str | None, seq: int
) -> str | dict[str, Any] | None:
    """The target's name for the first line; None when a row landed; else an error ack."""
    try:
        data = json.loads(line)
    except ValueError as exc:
        return _insert_error(seq, ERROR_CODE_BAD_REQUEST, f"Invalid JSON in inserts stream: {exc}")
    if target is None:
        name = data.get("target") if isinstance(data, dict) else None
        if not isinstance(name, str) or not name:
            return _insert_error(
                seq, ERROR_CODE_BAD_REQUEST, "No target in the first line of the inserts stream"
            )
        return name
    if not isinstance(data, dict):
        return _insert_error(seq, ERROR_CODE_BAD_REQUEST, "Each row must be a JSON object")
    backend = state.backend
    try:
        await state.call(lambda: backend.insert_row(target, data))
    except KsqlError as exc:
        return _insert_error(seq, ERROR_CODE_BAD_STATEMENT, exc.message)
    except Exception as exc:
        return _insert_error(seq, 50000, str(exc) or type(exc).__name__)
    return None


def _insert_error(seq: int, error_code: int, message: str) -> dict[str, Any]:
    return {"status": "error", "seq": seq, "error_code": error_code, "message": message}


def _frame(item: dict[str, Any], *, as_array: bool, first: bool) -> str:
    if not as_array:
        return dumps(item) + "\n"
    return ("[" if first else ",") + dumps(item)


def _tail(as_array: bool, nothing_written: bool) -> bytes:
    if not as_array:
        return b""
    return b"[]" if nothing_written else b"]"


async def _send_whole(send: Send, status: int, body: dict[str, Any]) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", JSON.encode())],
        }
    )
    await send({"type": "http.response.body", "body": dumps(body).encode()})
