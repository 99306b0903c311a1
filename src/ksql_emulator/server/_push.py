"""A push query's bounded row buffer between its feeding thread and its HTTP response."""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Sequence

from ksql_emulator.contracts.backend import Row

__all__ = ["RowChannel"]


class RowChannel:
    """Rows flow from one feeding thread to one asyncio response, at most `capacity` buffered.

    `put` blocks the feeding thread while the buffer is full: a slow client slows only its own
    query's feed (its own thread and consumer), never the event loop or other queries.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, capacity: int = 1000) -> None:
        self._loop = loop
        self._capacity = capacity
        self._rows: deque[Row] = deque()
        self._cond = threading.Condition()
        self._ready = asyncio.Event()
        self._closed = False
        self._ended = False
        self.error: BaseException | None = None

    # -- the feeding thread -----------------------------------------------------------------

    def put(self, rows: Sequence[Row]) -> bool:
        """Queues `rows` (waiting for room); False once the response is gone (stop feeding)."""
        for row in rows:
            with self._cond:
                while len(self._rows) >= self._capacity and not self._closed:
                    self._cond.wait(0.1)
                if self._closed:
                    return False
                self._rows.append(row)
            self._wake()
        return not self._closed

    def fail(self, exc: BaseException) -> None:
        """Ends the stream with an error the response reports to its client."""
        with self._cond:
            self.error = exc
            self._ended = True
        self._wake()

    def finish(self) -> None:
        """Ends the stream normally (the source will yield nothing more)."""
        with self._cond:
            self._ended = True
        self._wake()

    @property
    def closed(self) -> bool:
        return self._closed

    def _wake(self) -> None:
        try:
            self._loop.call_soon_threadsafe(self._ready.set)
        except RuntimeError:  # the loop has shut down: nobody is listening any more
            self.close()

    # -- the response -----------------------------------------------------------------------

    async def get(self, timeout: float | None = None) -> list[Row] | None:
        """The rows buffered so far (waiting up to `timeout` for one); [] on timeout, None at
        the end of the stream."""
        while True:
            with self._cond:
                if self._rows:
                    rows = list(self._rows)
                    self._rows.clear()
                    self._cond.notify_all()
                    return rows
                if self._ended or self._closed:
                    return None
                self._ready.clear()
            try:
                await asyncio.wait_for(self._ready.wait(), timeout)
            except TimeoutError:
                return []

    def close(self) -> None:
        """The response is gone: the feeder's next `put` returns False."""
        with self._cond:
            self._closed = True
            self._rows.clear()
            self._cond.notify_all()
