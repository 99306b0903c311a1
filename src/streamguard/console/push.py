"""A push query's rows as server-sent events, stopped when the page leaves or asks to stop."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import AsyncGenerator
from contextlib import suppress
from typing import Any

import anyio
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from streamguard.console.sql import cell
from streamguard.ksqldb import KsqlClient, KsqlError, QueryStream

log = logging.getLogger(__name__)
_END = object()


def event(name: str, data: Any) -> str:
    """One server-sent event."""
    return f"event: {name}\ndata: {json.dumps(data, default=str)}\n\n"


class EventStream(StreamingResponse):
    """Server-sent events from `relay`, whose generator is closed however the response ends.

    When the page leaves while an event is being sent, Starlette cancels the send and leaves the
    generator suspended at its `yield`: its `finally`, which closes the query on the server,
    would run only when the garbage collector found it. Closing it here runs it at once.
    """

    def __init__(self, events: AsyncGenerator[str, None]) -> None:
        super().__init__(
            events,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
        self._events = events

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self._events.aclose()


async def relay(
    client: KsqlClient, text: str, reset: str = "earliest"
) -> AsyncGenerator[str, None]:
    """Events `header`, then `row` per row, then `end` or `error`; the query reads its topics
    from `reset` (auto.offset.reset: earliest, or latest for new records only).

    A thread reads the query's HTTP stream and hands rows over a queue, so a page that leaves
    cancels this generator at once even while no row arrives; the query is then closed on the
    server, which ends the stream and the thread with it.
    """
    try:
        stream = await anyio.to_thread.run_sync(
            lambda: client.stream_query(text, properties={"auto.offset.reset": reset})
        )
    except KsqlError as exc:
        client.close()
        yield event("error", {"message": str(exc)})
        return
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue()
    reader = threading.Thread(target=_read, args=(stream, loop, queue), daemon=True)
    reader.start()
    try:
        yield event("header", {"queryId": stream.query_id, "columnNames": stream.column_names})
        while True:
            item = await queue.get()
            if item is _END:
                yield event("end", {})
                return
            if isinstance(item, KsqlError):
                yield event("error", {"message": str(item)})
                return
            yield event("row", [cell(v) for v in item])
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(_stop, client, stream, abandon_on_cancel=True)


def _read(stream: QueryStream, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[Any]) -> None:
    def put(item: Any) -> None:
        with suppress(RuntimeError):  # the loop has closed: nobody reads any more
            loop.call_soon_threadsafe(queue.put_nowait, item)

    try:
        for row in stream:
            put(row)
    except KsqlError as exc:
        put(exc)
        return
    except Exception:  # the stream closed under the reader when the page left
        pass
    put(_END)


def _stop(client: KsqlClient, stream: QueryStream) -> None:
    if stream.query_id:
        try:
            client.close_query(stream.query_id)
        except KsqlError as exc:  # it ended by itself (LIMIT) or the server went away
            log.debug("push query %s: %s", stream.query_id, exc)
        else:
            log.info("push query %s closed", stream.query_id)
    with suppress(Exception):
        stream.close()
    client.close()
