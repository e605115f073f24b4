"""Helpers for the web UI's tests: a browser-like client over HTTPS (session cookies are Secure), agents with
passwords, signing in, and the CSRF token of a page."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tierdesk.agents.auth import hash_password
from tierdesk.agents.models import Agent
from tierdesk.db import Database

PASSWORD = "correct horse battery"
_TOKEN = re.compile(r'name="csrf-token" content="([0-9a-f]{64})"')


def set_password(database: Database, agent_id: int, password: str = PASSWORD) -> None:
    with database.transaction() as db:
        agent = db.get(Agent, agent_id)
        assert agent is not None
        agent.password_hash = hash_password(password)


def csrf_of(html: str) -> str:
    found = _TOKEN.search(html)
    assert found, "the page carries no CSRF token"
    return found.group(1)


def sign_in(web: TestClient, email: str, password: str = PASSWORD) -> str:
    """Sign in as a browser does (the sign-in page first, for its CSRF cookie and token); returns the token."""
    token = csrf_of(web.get("/sign-in").text)
    response = web.post("/sign-in", data={"email": email, "password": password, "csrf_token": token},
                        follow_redirects=False)
    assert response.status_code == 303, response.text
    return csrf_of(web.get("/").text)
