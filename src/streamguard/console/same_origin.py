"""Refuses requests that another site's page makes the browser send to the console.

The console changes things (the blacklist, ksqlDB statements on the SQL page) from forms, and it
has no login: without this, any page an analyst opens could post to http://127.0.0.1:8090 and
run `DROP STREAM` or blacklist a merchant. A browser names the page a request comes from in its
`Origin` header (every cross-site POST and script request) or, failing that, `Referer`; a
request whose source is not the console's own address is answered 403. Requests without either
header (curl, scripts, a link followed from a bookmark) are not a browser acting for another
site, and pass.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["SameOrigin"]

# Methods that only read: a page of another site may link to the console (a navigation sends no
# Origin), and its Referer then names that site, which must not keep the analyst out.
_READING = frozenset({"GET", "HEAD", "OPTIONS"})


def _source(headers: Headers, method: str) -> str | None:
    origin = headers.get("origin")
    if origin is not None:
        return origin
    return None if method in _READING else headers.get("referer")


def _same_site(source: str, host: str | None) -> bool:
    if host is None:
        return False
    try:
        parts = urlsplit(source)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and parts.netloc.lower() == host.lower()


class SameOrigin:
    """ASGI middleware: the guard above, for HTTP requests and WebSocket handshakes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            headers = Headers(scope=scope)
            source = _source(headers, scope.get("method", "GET"))
            if source is not None and not _same_site(source, headers.get("host")):
                response = PlainTextResponse(
                    f"Refused: the console takes requests from its own pages only, and this one "
                    f"came from {source}. Open the console at its own address to use it.",
                    status_code=403,
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
