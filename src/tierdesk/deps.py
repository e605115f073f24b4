"""Request dependencies: the unit of work (one transaction per request) and the authenticated principal."""

from __future__ import annotations

import itertools
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from typing import Annotated, Any
from urllib.parse import quote

from anyio import CancelScope, to_thread
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from tierdesk.agents import repository as agents_repo
from tierdesk.agents import sessions
from tierdesk.agents.auth import token_digest
from tierdesk.agents.sessions import SESSION_COOKIE, SignedIn
from tierdesk.config import Settings
from tierdesk.db import Database, finish
from tierdesk.kit.actors import Principal
from tierdesk.kit.errors import Forbidden, InvalidInput, TooManyRequests, Unauthenticated
from tierdesk.kit.pages import SignInRequired
from tierdesk.kit.time import utcnow

_READ_METHODS = {"GET", "HEAD", "OPTIONS"}
_bearer = HTTPBearer(auto_error=False, description="An API token from `tierdesk tokens create`")


class SlotQueue:
    """The requests waiting for a request slot (or the SQLite writer slot), oldest first, for /healthz.
    Used only from the event loop, so it needs no lock."""

    def __init__(self) -> None:
        self._since: dict[int, float] = {}
        self._numbers = itertools.count()

    def enter(self) -> int:
        number = next(self._numbers)
        self._since[number] = time.monotonic()
        return number

    def leave(self, number: int) -> None:
        self._since.pop(number, None)

    def oldest_wait(self) -> float:
        """Seconds the longest-waiting request has waited so far (0 when none waits)."""
        for since in self._since.values():  # insertion order: the first is the oldest
            return time.monotonic() - since
        return 0.0

    def __len__(self) -> int:
        return len(self._since)


async def get_db(request: Request) -> AsyncIterator[Session]:
    """The request's transaction: committed when the endpoint returns, rolled back on any error.

    Reads take a plain transaction; writes take the write lock up front on SQLite (see db.py).

    A busy server must not deadlock on its own threads (a request holding row locks, waiting for a thread that
    every other request holds while waiting for those locks). So at most `request_threads` requests work with the
    database at once, as many as there are request threads: none of them ever waits for a thread, and the rest
    wait here, in the event loop, holding nothing. On SQLite, writers first queue for the one writer slot, also
    here. Finishing a transaction runs on threads of its own.
    """
    state = request.app.state
    database: Database = state.database
    write = request.method not in _READ_METHODS
    queue_for_writer = state.sqlite_writer if write and database.dialect == "sqlite" else None
    async with _request_slot(state, queue_for_writer):
        session = database.session(write=write)
        try:
            yield session
        except BaseException:
            with CancelScope(shield=True):  # a client gone away must not leave the connection checked out
                await to_thread.run_sync(lambda: finish(session, commit=False), limiter=state.finishing_threads)
            raise
        with CancelScope(shield=True):
            await to_thread.run_sync(lambda: finish(session, commit=True), limiter=state.finishing_threads)


@asynccontextmanager
async def _request_slot(state: Any, writer: AbstractAsyncContextManager[Any] | None = None) -> AsyncIterator[None]:
    """Hold one of the request slots (after the SQLite writer slot, when given), counted in the slot queue that
    /healthz reads while it waits."""
    waiting = state.slot_queue.enter()
    try:
        async with writer or nullcontext(), state.request_slots:
            state.slot_queue.leave(waiting)
            yield
    finally:
        state.slot_queue.leave(waiting)  # also when the request is given up while it waits


# scope="function": the commit happens before the response is sent, so a client is never told "accepted" about
# something that then failed to commit.
Db = Annotated[Session, Depends(get_db, scope="function")]


def _client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _query_parameters(route) -> frozenset[str]:
    """The query parameters an operation declares, its dependencies' included (worked out once per route)."""
    names = getattr(route, "tierdesk_query_parameters", None)
    if names is None:
        found: set[str] = set()
        pending = [route.dependant]
        while pending:
            dependant = pending.pop()
            found.update(p.alias for p in dependant.query_params)
            pending.extend(dependant.dependencies)
        names = route.tierdesk_query_parameters = frozenset(found)
    return names


async def api_guard(request: Request) -> None:
    """Runs first on every API operation, in the event loop, before it takes a request slot: refuses query
    parameters the operation does not take (a misspelt filter must not silently return everything), and clients
    refused for too many failed authentications."""
    route = request.scope.get("route")
    if route is not None and hasattr(route, "dependant"):
        declared = _query_parameters(route)
        unknown = [name for name in request.query_params if name not in declared]
        if unknown:
            takes = ", ".join(sorted(declared)) or "none"
            raise InvalidInput(f"unknown query parameter {unknown[0]!r}; this operation takes: {takes}",
                               field=unknown[0])
    limiter = request.app.state.auth_limiter
    wait = limiter.retry_after(_client_address(request))
    if wait is not None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if not (scheme.lower() == "bearer" and token
                and limiter.vouched_for(token_digest(token.strip(), request.app.state.secret_key))):
            raise TooManyRequests(f"too many failed authentications from this address; retry in {wait} s",
                                  retry_after=wait)


def get_principal(
    request: Request,
    db: Db,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    return _authenticate(request, db, credentials)


def _authenticate(request: Request, db: Session, credentials: HTTPAuthorizationCredentials | None) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated("send an API token as 'Authorization: Bearer <token>'")
    state = request.app.state
    principal = agents_repo.principal_for_token(db, credentials.credentials, state.secret_key)
    if principal is None:
        state.auth_limiter.failed(_client_address(request))
        raise Unauthenticated("the API token is unknown, revoked or expired")
    state.auth_limiter.succeeded(token_digest(credentials.credentials, state.secret_key))
    # An integration's token reaches only the operations of its scopes (marked `token_scope` on the endpoint).
    if not principal.may_use(getattr(request.scope.get("endpoint"), "token_scope", None)):
        scopes = ", ".join(sorted(principal.scopes)) or "none"
        raise Forbidden(f"an integration's token may not do this (its scope: {scopes}; intake may only post "
                        "contacts)")
    return principal




async def authenticate_only(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    """For operations that only compute (triage): the token is checked in a short read transaction of its own,
    over before the operation runs, so the computation holds neither a request slot nor a database connection (a
    slow batch cannot keep other requests waiting, and /healthz stays truthful)."""
    state = request.app.state

    def check() -> Principal:
        with state.database.transaction(write=False) as db:
            return _authenticate(request, db, credentials)

    async with _request_slot(state):
        return await to_thread.run_sync(check, limiter=state.finishing_threads)


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
# The same check, for operations that use no database (see authenticate_only).
ComputingPrincipal = Annotated[Principal, Depends(authenticate_only)]


def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings


AppSettings = Annotated[Settings, Depends(get_app_settings)]


# -- the web UI's signed-in agent (agents/sessions.py) ---------------------------------------------------------------
def _sign_in_location(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/?next=" + quote(target, safe="") if target != "/" else "/"


def get_signed_in(request: Request, db: Db) -> SignedIn:
    """The agent signed in to this browser; anyone else is sent to the sign-in page (where they were going kept)."""
    token = request.cookies.get(SESSION_COOKIE)
    settings: Settings = request.app.state.settings
    found = sessions.signed_in(db, settings, token, utcnow()) if token and len(token) <= 100 else None
    if found is None:
        raise SignInRequired(_sign_in_location(request))
    who, stale = found
    if stale:  # at most once a minute per session, in a short transaction of its own (pages are reads)
        with request.app.state.database.transaction() as writer:
            sessions.touch(writer, who.session_id, utcnow())
    return who


def get_signed_in_admin(who: Annotated[SignedIn, Depends(get_signed_in)]) -> SignedIn:
    who.principal.require_admin()
    return who


SignedInAgent = Annotated[SignedIn, Depends(get_signed_in)]
SignedInAdmin = Annotated[SignedIn, Depends(get_signed_in_admin)]
