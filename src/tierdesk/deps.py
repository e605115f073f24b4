"""Request dependencies: the unit of work (one transaction per request) and the authenticated principal."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from tierdesk.agents import repository as agents_repo
from tierdesk.agents.auth import Principal
from tierdesk.db import Database
from tierdesk.kit.errors import Unauthenticated

_READ_METHODS = {"GET", "HEAD", "OPTIONS"}
_bearer = HTTPBearer(auto_error=False, description="An API token from `tierdesk tokens create`")


def get_database(request: Request) -> Database:
    return request.app.state.database


def get_db(request: Request) -> Iterator[Session]:
    """The request's transaction: committed when the endpoint returns, rolled back on any error.

    Reads take a plain transaction; writes take the write lock up front on SQLite (see db.py).
    """
    database: Database = request.app.state.database
    with database.transaction(write=request.method not in _READ_METHODS) as session:
        yield session


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
