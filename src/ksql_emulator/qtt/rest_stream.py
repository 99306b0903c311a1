"""Reads a query's response (/query or /query-stream) while it streams, within a deadline.

A push query without a LIMIT never ends its response, and the server keeps it alive with
whitespace, so a per-read timeout never fires: the response is read on a thread of its own
while the test waits on it with the test's overall deadline. At the deadline the query is
stopped on the server (/close-query) and its connection closed.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from typing import Any

import httpx

__all__ = ["ArrayItems", "LineItems", "StreamedQuery"]

# How long a timed-out query's reader may take to notice the server ended its response.
_CLOSE_GRACE_S = 2.0


class ArrayItems:
    """The items of one JSON array (/query's body) as its text arrives in arbitrary pieces."""

    def __init__(self) -> None:
        self._buffer = ""
        self._opened = False
        self.closed = False
        self._decoder = json.JSONDecoder()

    def feed(self, text: str) -> list[Any]:
        self._buffer += text
        items: list[Any] = []
        while not self.closed:
            rest = self._buffer.lstrip()
            if not rest:
                self._buffer = ""
                break
            if not self._opened:
                if rest[0] != "[":
                    raise ValueError(f"not a JSON array: {rest[:80]!r}")
                self._opened = True
                self._buffer = rest[1:]
                continue
            if rest[0] == ",":
                self._buffer = rest[1:]
                continue
            if rest[0] == "]":
                self.closed = True
                self._buffer = rest[1:]
                break
            try:
                item, end = self._decoder.raw_decode(rest)
            except json.JSONDecodeError:  # the item's text is still arriving
                self._buffer = rest
                break
            if end == len(rest) and not isinstance(item, dict | list):
                self._buffer = rest  # a number may go on in the next piece
                break
            items.append(item)
            self._buffer = rest[end:]
        return items


class LineItems:
    """The items of a newline-delimited body (/query-stream's default): one JSON per line."""

    def __init__(self) -> None:
        self._buffer = ""

    def feed(self, text: str) -> list[Any]:
        self._buffer += text
        *lines, self._buffer = self._buffer.split("\n")
        return [json.loads(line) for line in lines if line.strip()]

    def finish(self) -> list[Any]:
        rest, self._buffer = self._buffer, ""
        return [json.loads(rest)] if rest.strip() else []


class StreamedQuery:
    """One query request whose response is read as it arrives, on a daemon thread.

    `items` are /query's objects (header, rows, final message) or /query-stream's lines
    (metadata, then one array per row). The request is sent at construction.
    """

    def __init__(
        self,
        url: str,
        endpoint: str,
        body: dict[str, Any],
        read_timeout_s: float,
    ) -> None:
        self.url = url.rstrip("/")
        self.endpoint = endpoint
        self.status_code: int | None = None
        self.error_body: Any = None
        self.error: Exception | None = None
        self.items: list[Any] = []
        self.timed_out = False
        self._cond = threading.Condition()
        self._done = False
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._read, args=(body, read_timeout_s), name="qtt-query", daemon=True
        )
        self._thread.start()

    # -- the reading thread -----------------------------------------------------------------

    def _read(self, body: dict[str, Any], read_timeout_s: float) -> None:
        timeout = httpx.Timeout(read_timeout_s, connect=10.0)
        try:
            with (
                httpx.Client(base_url=self.url, timeout=timeout) as client,
                client.stream("POST", self.endpoint, json=body) as response,
            ):
                with self._cond:
                    self.status_code = response.status_code
                if response.status_code != 200:
                    response.read()
                    with self._cond:
                        self.error_body = _json(response)
                    return
                parser: ArrayItems | LineItems
                parser = ArrayItems() if self.endpoint == "/query" else LineItems()
                for text in response.iter_text():
                    if self._stop.is_set():
                        return  # leaving the block closes the connection
                    self._add(parser.feed(text))
                if isinstance(parser, LineItems):
                    self._add(parser.finish())
        except Exception as exc:  # reported with the test, never raised into the run
            with self._cond:
                self.error = exc
        finally:
            with self._cond:
                self._done = True
                self._cond.notify_all()

    def _add(self, items: list[Any]) -> None:
        if items:
            with self._cond:
                self.items.extend(items)
                self._cond.notify_all()

    # -- the test's thread ------------------------------------------------------------------

    def wait_started(self, deadline: float) -> bool:
        """Until the response's first item (the header: the query runs) or its end; False
        when the deadline passed first."""
        return self._wait(deadline, lambda: bool(self.items) or self._done)

    def wait_done(self, deadline: float) -> bool:
        """Until the response ended; False when the deadline passed first."""
        return self._wait(deadline, lambda: self._done)

    def _wait(self, deadline: float, ready: Any) -> bool:
        with self._cond:
            while not ready():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def query_id(self) -> str | None:
        """The push query's id, as its first item names it (None before it or for a pull)."""
        with self._cond:
            first = self.items[0] if self.items else None
        if isinstance(first, dict):
            header = first.get("header", first)
            if isinstance(header, dict) and isinstance(header.get("queryId"), str):
                return str(header["queryId"])
        return None

    def stop(self) -> None:
        """Stops the query on the server and closes its connection (once the reader wakes)."""
        self._stop.set()
        query_id = self.query_id()
        if query_id is not None and not self._done:
            # Failing that, the connection's close ends the query all the same.
            with contextlib.suppress(httpx.HTTPError):
                httpx.post(f"{self.url}/close-query", json={"queryId": query_id}, timeout=5)
        self._thread.join(_CLOSE_GRACE_S)


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return {"message": response.text}
