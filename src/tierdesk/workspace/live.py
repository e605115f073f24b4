"""`GET /live`: the signed-in agent's live updates as Server-Sent Events (web/static/app/live.js reads them).

Events: `offer` (a ticket was assigned to the agent, by the router or a person), `message` (a customer wrote on a
ticket assigned to the agent, or on the ticket named by `?ticket=ID`, which the agent must be allowed to see), `sla`
(a warning or breach on one of those tickets), and `resync` (notifications may have been lost: re-read). Each
event's data is the JSON that workspace.notify published; a comment every 15 s keeps proxies from closing the
stream.

The agent is authenticated (and the ticket checked) in one short read transaction before the stream starts; the
stream itself holds neither a database connection nor a request slot, only subscriptions on the process's live bus
(app.state.live: LISTEN/NOTIFY on PostgreSQL). It ends when the client leaves, after MAX_STREAM_SECONDS (the browser
reconnects by itself, which also spreads agents over restarted servers), and when the server shuts down.
"""

from __future__ import annotations

import asyncio
import json
import signal
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import StreamingResponse

from tierdesk.deps import get_signed_in
from tierdesk.jobs.live import RESYNC, LiveBus
from tierdesk.kit.input import MAX_ID
from tierdesk.kit.pages import PAGE_HEADERS, csrf_protect
from tierdesk.tickets import repository as tickets
from tierdesk.workspace.notify import agent_topic, ticket_topic

router = APIRouter(dependencies=[Depends(csrf_protect)])

HEARTBEAT_SECONDS = 15.0
MAX_STREAM_SECONDS = 30 * 60.0
RETRY_MILLISECONDS = 3000
_TICK = 1.0  # how often a quiet stream looks whether the server is shutting down
_BACKLOG = 200  # notifications held for a slow client; beyond that it is told to re-read


def closing_event(app_state: Any) -> asyncio.Event:
    """Set when the app shuts down (app.py's lifespan): every stream ends. Made at start-up, where it also finds
    the uvicorn server (see _server_of)."""
    found = getattr(app_state, "live_closing", None)
    if found is None:
        found = app_state.live_closing = asyncio.Event()
        app_state.live_server = _server_of(signal.getsignal(signal.SIGTERM))
    return found


def _server_of(handler: Any) -> Any:
    """uvicorn waits for every open response before it runs the app's shutdown, so a stream must notice the
    shutdown by itself: in the main thread uvicorn has installed its Server.handle_exit for SIGTERM before the app
    starts, and the server's `should_exit` says when it is stopping. Elsewhere (a server in a thread) there is none."""
    server = getattr(handler, "__self__", None)
    return server if hasattr(server, "should_exit") else None


def _stopping(app_state: Any) -> bool:
    server = getattr(app_state, "live_server", None)
    return bool(getattr(server, "should_exit", False))


@router.get("/live", include_in_schema=False)
async def live_updates(request: Request,
                       ticket: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None) -> StreamingResponse:
    state = request.app.state

    def authenticate() -> int:
        with state.database.transaction(write=False) as db:
            who = get_signed_in(request, db)
            if ticket is not None:
                tickets.get_visible(db, who.principal, ticket)  # another brand's ticket answers 404
            return who.agent_id

    agent_id = await to_thread.run_sync(authenticate, limiter=state.finishing_threads)
    topics = [agent_topic(agent_id)] + ([ticket_topic(ticket)] if ticket is not None else [])
    headers = {**PAGE_HEADERS, "Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    closing = closing_event(state)
    return StreamingResponse(_stream(state.live, topics, closing, lambda: _stopping(state)),
                             media_type="text/event-stream", headers=headers)


async def _stream(bus: LiveBus, topics: list[str], closing: asyncio.Event,
                  stopping: Callable[[], bool] = lambda: False) -> AsyncIterator[str]:
    loop = asyncio.get_running_loop()
    heard: asyncio.Queue[str] = asyncio.Queue()
    overflowed = False

    def on_note(_topic: str, text: str) -> None:  # any thread: the committing one or the LISTEN thread
        loop.call_soon_threadsafe(put, text)

    def put(text: str) -> None:
        nonlocal overflowed
        if heard.qsize() >= _BACKLOG:
            overflowed = True
        else:
            heard.put_nowait(text)

    unsubscribe = [bus.subscribe(topic, on_note) for topic in topics]
    recent: deque[str] = deque(maxlen=50)  # one message heard on both the agent's and the ticket's topic
    try:
        yield f"retry: {RETRY_MILLISECONDS}\n: live updates for {', '.join(topics)}\n\n"
        started = quiet_since = loop.time()
        while not (closing.is_set() or stopping()) and loop.time() - started < MAX_STREAM_SECONDS:
            try:
                text = await asyncio.wait_for(heard.get(), timeout=_TICK)
            except TimeoutError:
                if overflowed:
                    overflowed = False
                    yield _event("resync", "{}")
                if loop.time() - quiet_since >= HEARTBEAT_SECONDS:
                    quiet_since = loop.time()
                    yield ": heartbeat\n\n"
                continue
            quiet_since = loop.time()
            if text == RESYNC:
                yield _event("resync", "{}")
                continue
            if text in recent:
                continue
            recent.append(text)
            try:
                kind = json.loads(text)["type"]
            except (ValueError, KeyError, TypeError):
                continue
            yield _event(str(kind), text)
    finally:
        for stop in unsubscribe:
            stop()


def _event(kind: str, data: str) -> str:
    return f"event: {kind}\ndata: {data}\n\n"
