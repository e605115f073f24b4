"""Request dependencies: the unit of work (one transaction per request) and the authenticated principal."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import nullcontext
from typing import Annotated

from anyio import CancelScope, to_thread
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from tierdesk.agents import repository as agents_repo
from tierdesk.config import Settings
from tierdesk.db import Database, finish
from tierdesk.kit.actors import Principal
from tierdesk.kit.errors import Unauthenticated

_READ_METHODS = {"GET", "HEAD", "OPTIONS"}
_bearer = HTTPBearer(auto_error=False, description="An API token from `tierdesk tokens create`")


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
    # A POST that only computes (marked `read_only` on its endpoint, e.g. /triage) needs no write lock.
    write = request.method not in _READ_METHODS and not getattr(request.scope.get("endpoint"), "read_only", False)
    queue_for_writer = state.sqlite_writer if write and database.dialect == "sqlite" else nullcontext()
    async with queue_for_writer, state.request_slots:
        session = database.session(write=write)
        try:
            yield session
        except BaseException:
            with CancelScope(shield=True):  # a client gone away must not leave the connection checked out
                await to_thread.run_sync(lambda: finish(session, commit=False), limiter=state.finishing_threads)
            raise
        with CancelScope(shield=True):
            await to_thread.run_sync(lambda: finish(session, commit=True), limiter=state.finishing_threads)


# scope="function": the commit happens before the response is sent, so a client is never told "accepted" about
# something that then failed to commit.
Db = Annotated[Session, Depends(get_db, scope="function")]


def get_principal(
    request: Request,
    db: Db,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated("send an API token as 'Authorization: Bearer <token>'")
    principal = agents_repo.principal_for_token(db, credentials.credentials, request.app.state.secret_key)
    if principal is None:
        raise Unauthenticated("the API token is unknown, revoked or expired")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings


AppSettings = Annotated[Settings, Depends(get_app_settings)]
