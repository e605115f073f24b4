"""How long the server took over a request, and (when asked for) how many SQL statements it ran: for the UI
benchmark (bench/ui.py) and for anyone looking at a slow page in the browser's network panel.

`Server-Timing: app;dur=<ms>` is on every response: the time from the request's arrival to its response's headers
(for a page that is all of its work; a stream counts until its headers). `X-Query-Count` only with
TIERDESK_COUNT_QUERIES=1: a per-request counter in a context variable, bumped by an engine event. Off, there is no
event listener and no context variable at all, so production pays nothing for it.
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The current request's statement counter (a one-item list, so threads that copied the context bump the same one).
_statements: ContextVar[list[int] | None] = ContextVar("tierdesk_statements", default=None)


def _count(*_args: Any) -> None:
    counter = _statements.get()
    if counter is not None:
        counter[0] += 1


def count_statements(engine: sa.Engine) -> None:
    """Count every statement `engine` runs against the request running it (once per engine, however many apps)."""
    if not event.contains(engine, "before_cursor_execute", _count):
        event.listen(engine, "before_cursor_execute", _count)


class ServerTiming:
    """Pure ASGI (nothing buffered, streams untouched): adds the headers as the response starts."""

    def __init__(self, app: ASGIApp, count_queries: bool = False):
        self.app = app
        self.count_queries = count_queries

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        counter = [0] if self.count_queries else None
        token = _statements.set(counter) if counter is not None else None

        async def timed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                ms = (time.perf_counter() - started) * 1000
                headers = list(message.get("headers", []))
                headers.append((b"server-timing", f"app;dur={ms:.1f}".encode()))
                if counter is not None:
                    headers.append((b"x-query-count", str(counter[0]).encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        finally:
            if token is not None:
                _statements.reset(token)
