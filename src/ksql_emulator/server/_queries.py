"""Starting, feeding and stopping queries for /query and /query-stream."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Mapping
from typing import Any

from ksql_emulator.contracts.backend import PullQueryResult, PushQuery, Row
from ksql_emulator.server._push import RowChannel
from ksql_emulator.server._state import RunningPush, ServerState

__all__ = ["offset_reset", "push_rows", "start_query", "stop_push"]

log = logging.getLogger(__name__)

_OFFSET_RESET_KEYS = ("auto.offset.reset", "ksql.streams.auto.offset.reset")


def offset_reset(state: ServerState, properties: Mapping[str, Any]) -> str:
    """Where a push query starts: the request's `auto.offset.reset`, else the server's."""
    for source in (properties, state.config.properties):
        for key in _OFFSET_RESET_KEYS:
            value = source.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip().lower()
    return "latest"


async def start_query(
    state: ServerState,
    sql: str,
    properties: Mapping[str, Any],
    variables: Mapping[str, Any],
) -> PullQueryResult | RunningPush:
    """Runs a pull query to completion, or registers and starts feeding a push query."""
    result = await state.call(lambda: state.backend.query(sql, properties, variables))
    if isinstance(result, PullQueryResult):
        return result
    query: PushQuery = result
    channel = RowChannel(asyncio.get_running_loop(), state.config.push_buffer_rows)
    running = RunningPush(query, channel)
    state.push_queries[query.header.query_id] = running
    if state.feeder is not None:
        try:
            running.feed = state.feeder.start(query, offset_reset(state, properties), channel)
        except Exception:
            stop_push(state, running)
            raise
    return running


async def push_rows(
    state: ServerState, running: RunningPush, keepalive_s: float | None = None
) -> AsyncIterator[list[Row]]:
    """The push query's rows in batches, up to its LIMIT; an empty batch each `keepalive_s`
    without rows. Ends at the LIMIT, when the feed ends, or on /close-query; raises the feed's
    error if it failed."""
    limit = running.query.limit
    sent = 0
    while True:
        rows = await running.channel.get(keepalive_s)
        if rows is None:
            if running.channel.error is not None:
                raise running.channel.error
            return
        if limit is not None and sent + len(rows) >= limit:
            yield rows[: limit - sent]
            return
        sent += len(rows)
        yield rows


def stop_push(state: ServerState, running: RunningPush) -> None:
    """Stops feeding the push query, unregisters it and closes it in the engine (once).

    Returns at once: the feed's stop and the engine's close run in a thread of their own, so
    a response being cancelled (client gone) still releases everything."""
    running.channel.close()
    if state.push_queries.pop(running.query.header.query_id, None) is None:
        return
    feed = running.feed

    query_id = running.query.header.query_id

    def stop() -> None:
        try:
            if feed is not None:
                feed.stop()
            with state.engine_lock:
                running.query.close()
        except Exception:  # a failing close must not take anything else down
            log.exception("closing push query %s failed", query_id)
        else:
            log.info("push query %s closed", query_id)

    threading.Thread(target=stop, name="push-query-stop", daemon=True).start()
